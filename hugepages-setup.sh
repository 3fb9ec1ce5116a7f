#!/usr/bin/env bash
# Reserve 2 MiB hugepages and mount hugetlbfs for flatnet / DPDK. Idempotent.
# See --help and docs/operations.md.
set -euo pipefail

readonly PROG=hugepages-setup.sh
# Where the kernel's 2 MiB pool lives; overridable only so the failure paths can be tested.
SYSFS_2M=${HUGEPAGES_SYSFS_2M:-/sys/kernel/mm/hugepages/hugepages-2048kB}
readonly DEFAULT_MOUNT=/dev/hugepages

# Exit codes (keep in sync with usage() and docs/operations.md).
readonly E_CHECK=1      # --check: not enough pages reserved, or hugetlbfs not mounted
readonly E_USAGE=2      # bad command line
readonly E_NOT_ROOT=3   # a change is needed but we are not root
readonly E_REFUSED=4    # the kernel reserved fewer pages than asked (or the write failed)
readonly E_MOUNT=5      # mounting hugetlbfs failed
readonly E_NO_SUPPORT=6 # the kernel has no 2 MiB hugepage support

usage() {
  cat <<EOF
Usage: $0 [--pages N] [--exact] [--check | --clean] [--quiet]

Reserves N 2 MiB hugepages (default 1024 = 2 GiB), mounts hugetlbfs at $DEFAULT_MOUNT
if no 2 MiB hugetlbfs is mounted, and removes DPDK hugepage files (rtemap_*, *map_*)
left behind by dead processes. Safe to run repeatedly; never lowers the reservation
unless --exact is given.

  --pages N   number of 2 MiB pages wanted (default 1024)
  --exact     set the reservation to exactly N (may lower it; in-use pages are kept)
  --check     change nothing: report the state, exit 0 if >= N pages are reserved
              and hugetlbfs is mounted, else 1
  --clean     only remove stale DPDK hugepage files, change nothing else
  --quiet     print errors only
  -h, --help  this text

Exit codes: 0 ok; 1 --check found something missing; 2 usage error; 3 not root;
4 kernel refused (fewer pages than asked: fragmented or not enough memory);
5 mounting hugetlbfs failed; 6 no 2 MiB hugepage support in this kernel.
EOF
}

PAGES=1024
EXACT=0
MODE=setup
QUIET=0

say() { [[ $QUIET -eq 1 ]] || printf '%s\n' "$*"; }
err() { printf '%s: error: %s\n' "$PROG" "$*" >&2; }
die() {
  local code=$1
  shift
  err "$*"
  exit "$code"
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --pages)
      [[ $# -ge 2 ]] || die "$E_USAGE" "--pages needs a number"
      PAGES=$2
      shift 2
      ;;
    --pages=*)
      PAGES=${1#--pages=}
      shift
      ;;
    --exact) EXACT=1; shift ;;
    --check) MODE=check; shift ;;
    --clean) MODE=clean; shift ;;
    -q | --quiet) QUIET=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) err "unknown argument: $1"; usage >&2; exit "$E_USAGE" ;;
  esac
done
[[ $PAGES =~ ^[0-9]+$ ]] || die "$E_USAGE" "--pages wants a non-negative integer, got '$PAGES'"
PAGES=$((10#$PAGES))

# --- state ------------------------------------------------------------------

read_num() { # file -> number (0 if unreadable/empty)
  local v=""
  v=$(cat "$1" 2>/dev/null || true)
  [[ $v =~ ^[0-9]+$ ]] && printf '%s' "$v" || printf '0'
}

nr_file() {
  # Prefer the size-specific sysfs file: /proc/sys/vm/nr_hugepages is the *default*
  # size, which is 1 GiB on some machines.
  if [[ -e $SYSFS_2M/nr_hugepages ]]; then
    printf '%s' "$SYSFS_2M/nr_hugepages"
  elif grep -q '^Hugepagesize: *2048 kB' /proc/meminfo 2>/dev/null; then
    printf '/proc/sys/vm/nr_hugepages'
  else
    return 1
  fi
}

total_pages() { read_num "$(nr_file)"; }
free_pages() {
  if [[ -e $SYSFS_2M/free_hugepages ]]; then
    read_num "$SYSFS_2M/free_hugepages"
  else
    awk '/^HugePages_Free:/ {print $2; f=1} END {if (!f) print 0}' /proc/meminfo
  fi
}

default_is_2m() { grep -q '^Hugepagesize: *2048 kB' /proc/meminfo 2>/dev/null; }

# hugetlbfs mount points serving 2 MiB pages (explicit pagesize=2M, or no pagesize
# option while the default hugepage size is 2 MiB), one per line.
mounts_2m() {
  local dflt=0
  default_is_2m && dflt=1
  awk -v dflt="$dflt" '$3 == "hugetlbfs" {
      ps = ""; n = split($4, o, ",")
      for (i = 1; i <= n; i++) if (o[i] ~ /^pagesize=/) ps = substr(o[i], 10)
      if (ps == "2M" || ps == "2048k" || ps == "2048K" || (ps == "" && dflt == 1)) print $2
    }' /proc/mounts | sed 's/\\040/ /g'
}

mount_list() { # comma-separated, or "none"
  local m
  m=$(mounts_2m | paste -sd, -)
  printf '%s' "${m:-none}"
}

summary() {
  say "hugepages: $(total_pages) x 2 MiB reserved ($(free_pages) free), hugetlbfs at $(mount_list)"
}

# --- stale DPDK files ----------------------------------------------------------

# True if some live process has the file open or mapped.
in_use() {
  local f=$1
  # DPDK keeps a shared flock on its hugepage files while it uses them.
  if command -v flock >/dev/null 2>&1; then
    flock -n -x "$f" true 2>/dev/null || return 0
  fi
  # Mapped by anyone (DPDK may close the fd but keep the mapping)?
  grep -qsF -- "$f" /proc/[0-9]*/maps 2>/dev/null && return 0
  # Open by anyone? (-lname takes a glob: escape its metacharacters)
  local pat
  pat=$(printf '%s' "$f" | sed 's/[][*?\\]/\\&/g')
  [[ -n $(find /proc/[0-9]*/fd -maxdepth 1 -lname "$pat" -print -quit 2>/dev/null) ]] && return 0
  return 1
}

# Lists (or with "remove", deletes) DPDK hugepage files no live process uses.
stale_files() {
  local action=${1:-list} m f n=0
  [[ $(id -u) -eq 0 ]] || { [[ $action == list ]] || return 0; }
  while IFS= read -r m; do
    [[ -d $m ]] || continue
    while IFS= read -r -d '' f; do
      in_use "$f" && continue
      if [[ $action == remove ]]; then
        if rm -f -- "$f"; then n=$((n + 1)); fi
      else
        printf '%s\n' "$f"
      fi
    done < <(find "$m" -maxdepth 1 -type f \( -name 'rtemap_*' -o -name '*map_*' \) -print0 2>/dev/null)
  done < <(mounts_2m)
  if [[ $action == remove && $n -gt 0 ]]; then
    say "hugepages: removed $n stale DPDK hugepage file(s) left by dead processes"
  fi
  return 0
}

# --- modes ---------------------------------------------------------------------

if ! nr_file >/dev/null; then
  die "$E_NO_SUPPORT" "this kernel exposes no 2 MiB hugepage pool ($SYSFS_2M missing); it needs CONFIG_HUGETLBFS and x86-64 2 MiB pages"
fi

if [[ $MODE == check ]]; then
  total=$(total_pages)
  free=$(free_pages)
  mounts=$(mount_list)
  say "hugepages: $total x 2 MiB reserved ($free free), wanted >= $PAGES"
  say "hugetlbfs (2 MiB) mounted at: $mounts"
  stale=$(stale_files list | wc -l)
  [[ $stale -eq 0 ]] || say "stale DPDK hugepage files: $stale (remove with: $0 --clean)"
  rc=0
  if [[ $total -lt $PAGES ]]; then
    say "missing: only $total of $PAGES pages reserved; fix: sudo $0 --pages $PAGES"
    rc=$E_CHECK
  fi
  if [[ $mounts == none ]]; then
    say "missing: no 2 MiB hugetlbfs mount; fix: sudo $0 (or: mkdir -p $DEFAULT_MOUNT && mount -t hugetlbfs -o pagesize=2M nodev $DEFAULT_MOUNT)"
    rc=$E_CHECK
  fi
  exit "$rc"
fi

if [[ $MODE == clean ]]; then
  [[ $(id -u) -eq 0 ]] || die "$E_NOT_ROOT" "removing hugepage files needs root; run: sudo $0 --clean"
  stale_files remove
  summary
  exit 0
fi

# setup
total=$(total_pages)
need_pages=0
if [[ $EXACT -eq 1 && $total -ne $PAGES ]] || [[ $total -lt $PAGES ]]; then need_pages=1; fi
need_mount=0
[[ $(mount_list) != none ]] || need_mount=1

if [[ $(id -u) -ne 0 ]]; then
  if [[ $need_pages -eq 1 || $need_mount -eq 1 ]]; then
    what=""
    [[ $need_pages -eq 0 ]] || what="reserving $PAGES hugepages (have $total)"
    [[ $need_mount -eq 0 ]] || what="${what:+$what and }mounting hugetlbfs"
    die "$E_NOT_ROOT" "$what needs root; run: sudo $0 --pages $PAGES$([[ $EXACT -eq 0 ]] || printf ' --exact')"
  fi
  summary
  exit 0
fi

if [[ $need_mount -eq 1 ]]; then
  mp=$DEFAULT_MOUNT
  # /dev/hugepages may already carry a 1 GiB hugetlbfs; then use a separate 2 MiB mount.
  if mountpoint -q "$mp" 2>/dev/null; then mp=${DEFAULT_MOUNT}-2M; fi
  mkdir -p "$mp" || die "$E_MOUNT" "cannot create $mp"
  if ! mount -t hugetlbfs -o pagesize=2M nodev "$mp" 2>/dev/null \
    && ! mount -t hugetlbfs nodev "$mp"; then
    die "$E_MOUNT" "mount -t hugetlbfs nodev $mp failed; in a container, run it privileged (or mount hugetlbfs on the host and bind it in)"
  fi
  say "hugepages: mounted hugetlbfs at $mp"
fi

# Stale files pin pages; remove them before deciding how many more to reserve.
stale_files remove

if [[ $need_pages -eq 1 ]]; then
  file=$(nr_file)
  before=$total
  if [[ $PAGES -gt $before ]]; then
    # Give the kernel the best chance of finding contiguous 2 MiB blocks.
    sync
    echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
    echo 1 >/proc/sys/vm/compact_memory 2>/dev/null || true
  fi
  if ! { echo "$PAGES" >"$file"; } 2>/dev/null; then
    die "$E_REFUSED" "writing $PAGES to $file failed (read-only /sys or /proc, e.g. an unprivileged container?); run on the host: echo $PAGES > $file"
  fi
  got=$(read_num "$file")
  if [[ $got -lt $PAGES ]]; then
    # Give back what we got so a failed run leaves the system as it was.
    echo "$before" >"$file" 2>/dev/null || true
    die "$E_REFUSED" "the kernel reserved only $got of $PAGES pages: free memory is fragmented or too small (reservation left at $before); try a smaller --pages, or reboot with hugepages=$PAGES on the kernel command line"
  fi
  if [[ $EXACT -eq 1 && $got -gt $PAGES ]]; then
    say "hugepages: $got pages still reserved (more than $PAGES): the rest are in use and are freed when their owners exit"
  fi
fi

summary
