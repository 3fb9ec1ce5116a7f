#!/usr/bin/env bash
# Builds flatnet's node image from this source tree as an OCI image archive that `podman load -i`
# (and `skopeo copy oci-archive:...`, containerd's `ctr images import`) accepts:
#
#   layer 1: a Debian 12 root filesystem made by mmdebstrap (minbase + image/packages.txt: DPDK
#            22.11's runtime libraries and PMDs, iproute2, nftables, ethtool, procps);
#   layer 2: /opt/flatnet/{bin,lib,jre}: the launcher and the CNI plugin, the jars of the agent,
#            the dataplane process, ctl and the plugin, and a jlinked Java 25 runtime holding the
#            modules jdeps finds in those jars; /usr/local/bin/flatnet links to the launcher.
#
# Reproducible: every time stamp is SOURCE_DATE_EPOCH (default: the last commit's time; layer 1's:
# the last commit of image/packages.txt), tar entries are sorted with fixed owners, jars are
# rewritten with sorted entries and fixed times (ReproducibleJars.java), gzip writes no name or
# time. The same commit, JDK and Debian package versions give the same digests; packages.lock
# (written beside the archive) records the package versions. The root filesystem is cached under
# target/image/cache, keyed by everything that goes into it, so a second build in the same
# checkout costs only layer 2 (which is made while mmdebstrap runs).
#
# Usage: image/build-image.sh [--out DIR] [--no-cache]
#   Needs: JAVA_HOME = a JDK 25 with jlink and jdeps; mmdebstrap; the jars of `./flatnet build`
#   (mvn package). `./flatnet image` checks all that first and then runs this.
# Prints the archive's path, the image name, and the manifest, config and layer digests; writes
# them to DIR/flatnet-image.env too (for tests and scripts).
# Exit codes: 0 ok; 1 build failed; 2 usage; 3 no JDK 25; 4 a tool or the jars missing;
#   6 Debian's mirror not reachable.
set -euo pipefail
umask 022
export LC_ALL=C TZ=UTC

SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
HERE=$(dirname -- "$SELF")
ROOT=$(dirname -- "$HERE")
readonly SELF HERE ROOT

MIRROR=${FLATNET_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${FLATNET_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITE=bookworm
# The modules whose processes the image runs; the launcher reads lib/<module>.classpath.
MODULES=(agent dataplane-process dataplane ctl cni)

say() { printf 'flatnet image: %s\n' "$*" >&2; }
die() {
  local code=$1
  shift
  say "$*"
  exit "$code"
}

OUT=$ROOT/target/image
USE_CACHE=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --out)
      [[ $# -ge 2 ]] || die 2 "--out needs a directory"
      OUT=$2
      shift 2
      ;;
    --no-cache)
      USE_CACHE=0
      shift
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$SELF" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die 2 "unknown argument: $1 (see --help)" ;;
  esac
done
mkdir -p "$OUT"
OUT=$(readlink -f -- "$OUT")
CACHE=$ROOT/target/image/cache
OPT_PID=""

# --- prerequisites ---------------------------------------------------------------------------

[[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/jlink && -x $JAVA_HOME/bin/jdeps ]] \
  || die 3 "needs JAVA_HOME = a JDK 25 with jlink and jdeps (./flatnet image finds one)"
jdk_version=$(sed -n 's/^JAVA_VERSION="\(.*\)"/\1/p' "$JAVA_HOME/release")
[[ ${jdk_version%%.*} -ge 25 ]] 2>/dev/null || die 3 "JAVA_HOME=$JAVA_HOME is Java $jdk_version, not 25+"
for tool in mmdebstrap tar gzip sha256sum; do
  command -v "$tool" >/dev/null 2>&1 \
    || die 4 "$tool is missing; run: apt-get install -y ${tool/sha256sum/coreutils} (./flatnet image installs mmdebstrap when root)"
done
[[ $(id -u) -eq 0 ]] || die 4 "mmdebstrap's root mode needs root (the root filesystem's owners and device nodes)"

VERSION=$(sed -n '0,/<version>/s:.*<version>\(.*\)</version>.*:\1:p' "$ROOT/pom.xml")
[[ -n $VERSION ]] || die 1 "no <version> in $ROOT/pom.xml"
# The tag the manifests use (docs/deploy/flatnet-daemonset.yaml): the version without -SNAPSHOT.
TAG=${VERSION%-SNAPSHOT}
NAME=flatnet/flatnet:$TAG
REVISION=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
  SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || true)
  [[ -n $SOURCE_DATE_EPOCH ]] || die 2 "not a git checkout: set SOURCE_DATE_EPOCH"
fi
export SOURCE_DATE_EPOCH
CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

# The jars: each module's own jar and every entry of its target/classpath.txt (a sibling module
# can appear there as target/classes when Maven resolved it in the reactor: its jar then).
declare -A JAR_SOURCE=() # file name -> path
declare -a CLASSPATH_OF=()
module_jar() { # module dir
  local jars=()
  shopt -s nullglob
  for j in "$1"/target/*.jar; do
    [[ $j == *-tests.jar || $j == *-sources.jar || $j == *-javadoc.jar ]] || jars+=("$j")
  done
  shopt -u nullglob
  [[ ${#jars[@]} -eq 1 ]] || die 4 "expected one jar in $1/target, found ${#jars[@]}; run ./flatnet build"
  printf '%s' "${jars[0]}"
}
add_jar() { # path; appends its file name to $list (no subshell: JAR_SOURCE must keep it)
  local name
  name=$(basename -- "$1")
  if [[ -n ${JAR_SOURCE[$name]:-} && ${JAR_SOURCE[$name]} != "$1" ]] \
    && ! cmp -s "${JAR_SOURCE[$name]}" "$1"; then
    die 1 "two different jars named $name: ${JAR_SOURCE[$name]} and $1"
  fi
  JAR_SOURCE[$name]=$1
  list+=${list:+$'\n'}$name
}
for m in "${MODULES[@]}"; do
  cpfile=$ROOT/$m/target/classpath.txt
  [[ -f $cpfile ]] || die 4 "$cpfile missing; run ./flatnet build"
  list=""
  add_jar "$(module_jar "$ROOT/$m")"
  IFS=: read -r -a entries <<<"$(tr -d '\n' <"$cpfile")"
  for e in "${entries[@]}"; do
    [[ -n $e ]] || continue
    if [[ -d $e ]]; then
      e=$(module_jar "$(dirname -- "$(dirname -- "$e")")")
    fi
    [[ -f $e ]] || die 4 "$e (in $cpfile) missing; run ./flatnet build"
    add_jar "$e"
  done
  CLASSPATH_OF+=("$m" "$list")
done
# One version of each library: lib/ is one directory.
dups=$(printf '%s\n' "${!JAR_SOURCE[@]}" | sed 's/-[0-9][^-]*\(-SNAPSHOT\)\{0,1\}\.jar$//' | sort | uniq -d)
[[ -z $dups ]] || die 1 "two versions of: $dups"

# --- layer 2: /opt/flatnet (made in the background while mmdebstrap runs) ----------------------

WORK=$OUT/work
rm -rf -- "$WORK"
mkdir -p "$WORK/opt/flatnet/bin" "$WORK/opt/flatnet/lib" "$WORK/usr/local/bin" "$CACHE"
FH=$WORK/opt/flatnet

make_opt() {
  install -m 0755 "$ROOT/flatnet" "$FH/bin/flatnet"
  install -m 0755 "$ROOT/bin/flatnet-cni" "$FH/bin/flatnet-cni"
  ln -s ../../../opt/flatnet/bin/flatnet "$WORK/usr/local/bin/flatnet"
  ln -s ../../../opt/flatnet/bin/flatnet-cni "$WORK/usr/local/bin/flatnet-cni"
  local name i started=$SECONDS
  for name in "${!JAR_SOURCE[@]}"; do
    install -m 0644 "${JAR_SOURCE[$name]}" "$FH/lib/$name"
  done
  for ((i = 0; i < ${#CLASSPATH_OF[@]}; i += 2)); do
    printf '%s\n' "${CLASSPATH_OF[i + 1]}" >"$FH/lib/${CLASSPATH_OF[i]}.classpath"
  done
  # Each process's JVM options (the launcher reads them beside the jars).
  install -m 0644 "$ROOT/agent/target/classes/flatnet-agent.jvm" "$FH/lib/flatnet-agent.jvm"
  install -m 0644 "$ROOT/dataplane-process/target/classes/flatnet-dataplane.jvm" "$FH/lib/flatnet-dataplane.jvm"
  # Maven's jars carry the build's time in every entry: the same bytes for the same classes.
  "$JAVA_HOME/bin/java" "$HERE/ReproducibleJars.java" "$SOURCE_DATE_EPOCH" "$FH"/lib/flatnet-*.jar

  # The modules the jars use (jdeps, about 10 s: kept per set of jars and JDK).
  local modules_key modules
  modules_key=$( (cd "$FH/lib" && sha256sum -- *.jar; cat "$JAVA_HOME/release") | sha256sum | cut -c1-16)
  if [[ -f $CACHE/modules-$modules_key ]]; then
    modules=$(<"$CACHE/modules-$modules_key")
  else
    modules=$("$JAVA_HOME/bin/jdeps" --ignore-missing-deps --multi-release 25 --print-module-deps \
      "$FH"/lib/*.jar 2>/dev/null | tail -n 1)
    [[ $modules == java.base* ]] || die 1 "jdeps found no modules (got: $modules)"
    printf '%s' "$modules" >"$CACHE/modules-$modules_key"
  fi
  # jlink links from the JDK's own run-time image when it has no jmods (JEP 493; Temurin 25
  # ships none). The CDS archive of the linked modules halves the JVM's start (the CNI plugin's
  # dynamic archive builds on it); the one for heaps over 32 GB goes.
  "$JAVA_HOME/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files \
    --no-man-pages --generate-cds-archive --output "$FH/jre" >/dev/null \
    || die 1 "jlink failed (modules: $modules)"
  rm -f -- "$FH/jre/lib/server/classes_nocoops.jsa"
  printf '%s' "$modules" >"$WORK/modules"
  say "jars, jdeps, jlink $modules: $((SECONDS - started)) s"
}
make_opt >"$WORK/opt.log" 2>&1 &
OPT_PID=$!
# Never leave it running (a failure or ^C below).
trap '[[ -z ${OPT_PID:-} ]] || { pkill -P "$OPT_PID"; kill "$OPT_PID"; } 2>/dev/null || true' EXIT

# --- layer 1: the Debian root filesystem -------------------------------------------------------

mapfile -t PACKAGES < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$HERE/packages.txt")
# shellcheck disable=SC2016 # the hook's "$1" is for mmdebstrap's shell
MM_ARGS=(
  --variant=minbase
  --include="$(IFS=,; printf '%s' "${PACKAGES[*]}")"
  # merged /usr without the usrmerge package (which would bring perl); dpkg without fsync.
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata
  --aptopt='APT::Install-Recommends "false"'
  --dpkgopt=force-unsafe-io
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  # Nothing of the build may stay: no apt lists, caches or logs with times in them.
  --customize-hook='rm -rf "$1"/var/log/apt/* "$1"/var/log/dpkg.log "$1"/var/log/alternatives.log "$1"/var/cache/ldconfig/aux-cache "$1"/etc/machine-id'
  --format=tar
)
SOURCES=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY_MIRROR $SUITE-security main")
# The root filesystem's times: the last commit of the package list, so that its layer stays the
# same from one commit to the next until the list (or a Debian package) changes.
ROOTFS_EPOCH=${ROOTFS_SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct -- image/packages.txt 2>/dev/null || true)}
ROOTFS_EPOCH=${ROOTFS_EPOCH:-$SOURCE_DATE_EPOCH}
rootfs_key=$( {
  printf '%s\n' "$ROOTFS_EPOCH" "$(mmdebstrap --version)" "${MM_ARGS[@]}" "${SOURCES[@]}"
} | sha256sum | cut -c1-16)
ROOTFS=$CACHE/rootfs-$rootfs_key.tar
started=$SECONDS
if [[ $USE_CACHE -eq 1 && -f $ROOTFS ]]; then
  say "root filesystem: cached $ROOTFS"
else
  # A clear message instead of apt's errors when the mirror cannot be reached: fetch its Release
  # file the way apt does (proxies included).
  probe=$(mktemp -d)
  if ! timeout 30 /usr/lib/apt/apt-helper download-file "$MIRROR/dists/$SUITE/InRelease" \
    "$probe/InRelease" >"$probe/log" 2>&1; then
    sed -n '/^E:/p' "$probe/log" >&2
    rm -rf -- "$probe"
    die 6 "cannot fetch $MIRROR/dists/$SUITE/InRelease (Debian's mirror, for mmdebstrap): no network? Set FLATNET_DEBIAN_MIRROR to a mirror you can reach"
  fi
  rm -rf -- "$probe"
  say "root filesystem: mmdebstrap $SUITE minbase + ${#PACKAGES[@]} packages (log: $CACHE/mmdebstrap.log)..."
  tmp=$ROOTFS.$$.tmp
  if ! SOURCE_DATE_EPOCH=$ROOTFS_EPOCH mmdebstrap "${MM_ARGS[@]}" "$SUITE" "$tmp" "${SOURCES[@]}" \
    </dev/null >"$CACHE/mmdebstrap.log" 2>&1; then
    rm -f -- "$tmp"
    tail -n 20 "$CACHE/mmdebstrap.log" >&2
    die 1 "mmdebstrap failed (log: $CACHE/mmdebstrap.log)"
  fi
  mv -f -- "$tmp" "$ROOTFS"
  say "root filesystem: $((SECONDS - started)) s"
fi
# The package versions it holds (what the digest depends on besides this tree).
tar -xOf "$ROOTFS" ./var/lib/dpkg/status \
  | awk '/^Package:/ {p=$2} /^Version:/ {print p "=" $2}' | sort >"$OUT/packages.lock"
if [[ ! -f $ROOTFS.gz || $ROOTFS.gz -ot $ROOTFS ]]; then
  gzip -n -c "$ROOTFS" >"$ROOTFS.gz.tmp"
  mv -f -- "$ROOTFS.gz.tmp" "$ROOTFS.gz"
fi

opt_rc=0
wait "$OPT_PID" || opt_rc=$?
OPT_PID=""
cat "$WORK/opt.log" >&2
[[ $opt_rc -eq 0 ]] || die "$opt_rc" "making /opt/flatnet failed (above)"
MODULES_NEEDED=$(<"$WORK/modules")
rm -f -- "$WORK/modules" "$WORK/opt.log"

# --- the OCI layout ----------------------------------------------------------------------------

LAYOUT=$WORK/layout
mkdir -p "$LAYOUT/blobs/sha256"

# blob FILE MEDIATYPE -> moves FILE into blobs/, prints its descriptor fields "digest size".
blob() {
  local d
  d=$(sha256sum "$1" | cut -d' ' -f1)
  mv -f -- "$1" "$LAYOUT/blobs/sha256/$d"
  printf 'sha256:%s %s' "$d" "$(stat -c %s "$LAYOUT/blobs/sha256/$d")"
}
# Sorted, fixed owners and times, no atime/ctime: the same tree gives the same tar.
repro_tar() { # dir out paths...
  local dir=$1 out=$2
  shift 2
  tar --create --file "$out" --directory "$dir" --sort=name --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner "$@"
}

# Layer 1: mmdebstrap's tarball is reproducible itself (SOURCE_DATE_EPOCH); its gzip is cached.
base_diff="sha256:$(sha256sum "$ROOTFS" | cut -d' ' -f1)"
cp -- "$ROOTFS.gz" "$WORK/base.tar.gz"
read -r base_digest base_size <<<"$(blob "$WORK/base.tar.gz")"

repro_tar "$WORK" "$WORK/opt.tar" opt usr
opt_diff="sha256:$(sha256sum "$WORK/opt.tar" | cut -d' ' -f1)"
gzip -n "$WORK/opt.tar"
read -r opt_digest opt_size <<<"$(blob "$WORK/opt.tar.gz")"

printf '%s' "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"$CREATED\",\
\"config\":{\"Env\":[\"PATH=/opt/flatnet/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],\
\"Cmd\":[\"/opt/flatnet/bin/flatnet\",\"help\"],\"WorkingDir\":\"/\",\
\"Labels\":{\"org.opencontainers.image.title\":\"flatnet\",\"org.opencontainers.image.version\":\"$VERSION\",\
\"org.opencontainers.image.revision\":\"$REVISION\",\"org.opencontainers.image.created\":\"$CREATED\"}},\
\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"$base_diff\",\"$opt_diff\"]},\
\"history\":[{\"created\":\"$CREATED\",\"created_by\":\"mmdebstrap $SUITE minbase + image/packages.txt\"},\
{\"created\":\"$CREATED\",\"created_by\":\"image/build-image.sh: /opt/flatnet (jlink $MODULES_NEEDED)\"}]}" \
  >"$WORK/config.json"
read -r config_digest config_size <<<"$(blob "$WORK/config.json")"

printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"$config_digest\",\"size\":$config_size},\
\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$base_digest\",\"size\":$base_size},\
{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$opt_digest\",\"size\":$opt_size}],\
\"annotations\":{\"org.opencontainers.image.version\":\"$VERSION\",\"org.opencontainers.image.revision\":\"$REVISION\"}}" \
  >"$WORK/manifest.json"
read -r manifest_digest manifest_size <<<"$(blob "$WORK/manifest.json")"

# ref.name: podman load names the image after it (docker.io/flatnet/flatnet:TAG, the name the
# DaemonSet's `image: flatnet/flatnet:TAG` means).
printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\
\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$manifest_digest\",\
\"size\":$manifest_size,\"annotations\":{\"org.opencontainers.image.ref.name\":\"docker.io/$NAME\",\
\"io.containerd.image.name\":\"docker.io/$NAME\"}}]}" >"$LAYOUT/index.json"
printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$LAYOUT/oci-layout"

ARCHIVE=$OUT/flatnet-image-$TAG.oci.tar
repro_tar "$LAYOUT" "$ARCHIVE.tmp" oci-layout index.json blobs
mv -f -- "$ARCHIVE.tmp" "$ARCHIVE"
rm -rf -- "$WORK"

cat >"$OUT/flatnet-image.env" <<EOF
FLATNET_IMAGE_ARCHIVE=$ARCHIVE
FLATNET_IMAGE_NAME=$NAME
FLATNET_IMAGE_MANIFEST=$manifest_digest
FLATNET_IMAGE_CONFIG=$config_digest
FLATNET_IMAGE_LAYERS="$base_digest $opt_digest"
FLATNET_IMAGE_SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH
EOF
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
say "image $NAME ($VERSION, $REVISION)"
say "  archive  $ARCHIVE ($(mib "$(stat -c %s "$ARCHIVE")"))"
say "  manifest $manifest_digest"
say "  config   $config_digest (podman's image id)"
say "  layer 1  $base_digest ($(mib "$base_size") gzip, $(mib "$(stat -c %s "$ROOTFS")") tar): Debian $SUITE"
say "  layer 2  $opt_digest ($(mib "$opt_size") gzip): /opt/flatnet"
say "load it:   podman load -i $ARCHIVE"
printf '%s\n' "$ARCHIVE"
