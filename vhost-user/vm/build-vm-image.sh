#!/usr/bin/env bash
# Builds the kernel + initramfs of the small test VM that VmPodPingTest attaches to flatnet over
# vhost-user: Debian's current linux-image-*-amd64, fetched with `apt-get download` and unpacked
# with `dpkg -x` (never installed), and an initramfs of busybox-static, the virtio_net modules and
# vm/init. Cached: a rerun with the same kernel package and the same init/script does nothing.
#
# Usage: build-vm-image.sh [CACHE_DIR]   (default: $FLATNET_VM_CACHE or ~/.cache/flatnet/vm)
# Prints:  kernel=PATH
#          initramfs=PATH
# Needs: apt-get, dpkg, busybox-static (/bin/busybox, statically linked), cpio, gzip.
# Exit codes: 0 ok; 1 a tool is missing; 2 the kernel package could not be fetched or unpacked;
#   3 the initramfs came out wrong.
set -euo pipefail

HERE=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")
CACHE=${1:-${FLATNET_VM_CACHE:-$HOME/.cache/flatnet/vm}}
# In load order (vm/init loads them in this order too).
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net"

die() {
  local code=$1
  shift
  echo "build-vm-image: $*" >&2
  exit "$code"
}

for tool in apt-get apt-cache dpkg cpio gzip sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die 1 "$tool is missing (apt-get install -y cpio busybox-static)"
done
BUSYBOX=/bin/busybox
[[ -x $BUSYBOX ]] || die 1 "$BUSYBOX is missing (apt-get install -y busybox-static)"
# The dynamic busybox package installs /bin/busybox too, which would not run in the initramfs.
if command -v readelf >/dev/null 2>&1 && LC_ALL=C readelf -l "$BUSYBOX" 2>/dev/null | grep -q INTERP; then
  die 1 "$BUSYBOX is not statically linked (apt-get install -y busybox-static)"
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

# The kernel that linux-image-amd64 points at now (linux-image-6.1.0-N-amd64 on Debian 12).
kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1
}
PKG=$(kernel_package)
if [[ -z $PKG ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2 || true
  PKG=$(kernel_package)
fi
[[ -n $PKG ]] || die 2 "apt-cache knows no linux-image-amd64 (is this Debian? apt-get update?)"
VERSION=$(apt-cache policy "$PKG" | sed -n 's/^ *Candidate: //p')
KEY=$(printf '%s %s\n' "$PKG" "$VERSION" | cat - "$HERE/init" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
OUT=$CACHE/$PKG-$KEY
if [[ -s $OUT/vmlinuz && -s $OUT/initramfs.gz ]]; then
  echo "kernel=$OUT/vmlinuz"
  echo "initramfs=$OUT/initramfs.gz"
  exit 0
fi

WORK=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
echo "build-vm-image: fetching $PKG $VERSION (apt-get download, not installed)" >&2
(cd "$WORK" && apt-get download -q -o APT::Sandbox::User=root "$PKG" </dev/null >&2) || die 2 "apt-get download $PKG failed"
DEB=$(find "$WORK" -maxdepth 1 -name "*.deb" | head -n 1)
[[ -n $DEB ]] || die 2 "apt-get download $PKG left no .deb"
dpkg -x "$DEB" "$WORK/kernel" || die 2 "dpkg -x $DEB failed"
VMLINUZ=$(find "$WORK/kernel/boot" -maxdepth 1 -name "vmlinuz-*" 2>/dev/null | head -n 1)
[[ -n $VMLINUZ ]] || die 2 "$PKG has no /boot/vmlinuz-*"
KVER=${VMLINUZ##*/vmlinuz-}
MODDIR=$WORK/kernel/lib/modules/$KVER

ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,dev,proc,sys,tmp,modules}
cp "$BUSYBOX" "$ROOT/bin/busybox"
ln -s busybox "$ROOT/bin/sh"
cp "$HERE/init" "$ROOT/init"
chmod 0755 "$ROOT/init" "$ROOT/bin/busybox"
for m in $MODULES; do
  found=$(find "$MODDIR" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" | head -n 1)
  if [[ -z $found ]]; then
    # Built into this kernel: nothing to load. Say so, in case it is really missing.
    grep -q "/$m.ko\$" "$MODDIR/modules.builtin" 2>/dev/null \
      || die 2 "module $m is neither in $PKG nor built in"
    echo "build-vm-image: $m is built in" >&2
    continue
  fi
  case $found in
    *.xz) xz -dc "$found" >"$ROOT/modules/$m.ko" ;;
    *.zst) zstd -q -dc "$found" >"$ROOT/modules/$m.ko" ;;
    *) cp "$found" "$ROOT/modules/$m.ko" ;;
  esac
done

mkdir -p "$WORK/out"
# Without cpio this pipeline would produce an empty archive and say nothing: check the result.
(cd "$ROOT" && find . -print0 | cpio --null -o -H newc --quiet | gzip -9) >"$WORK/out/initramfs.gz"
listed=$(gzip -dc "$WORK/out/initramfs.gz" | cpio -t --quiet 2>/dev/null | grep -c -x 'init\|bin/busybox' || true)
[[ $listed -eq 2 ]] || die 3 "the initramfs lacks init or bin/busybox (cpio broken?)"
cp "$VMLINUZ" "$WORK/out/vmlinuz"
printf '%s %s (%s)\n' "$PKG" "$VERSION" "$KVER" >"$WORK/out/kernel-package"

# Keep one image: drop images of older kernels or older init scripts.
rm -rf "$CACHE"/linux-image-*
mv "$WORK/out" "$OUT"
echo "build-vm-image: built $OUT ($(du -sh "$OUT" | cut -f1), kernel $KVER)" >&2
echo "kernel=$OUT/vmlinuz"
echo "initramfs=$OUT/initramfs.gz"
