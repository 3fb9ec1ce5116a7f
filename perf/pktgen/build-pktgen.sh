#!/bin/sh
# Builds Pktgen-DPDK with Lua against Debian 12's DPDK 22.11 (libdpdk-dev), for
# `./flatnet bench e2e --generator pktgen`. See docs/benchmarking.md.
#
#   perf/pktgen/build-pktgen.sh SRC_DIR [BUILD_DIR]
#
# SRC_DIR is a Pktgen-DPDK source tree at tag pktgen-23.06.1 (commit 1e93fa8, the
# newest that builds against DPDK 22.11 here), for example
#   git clone https://github.com/pktgen/Pktgen-DPDK && git -C Pktgen-DPDK checkout pktgen-23.06.1
# BUILD_DIR defaults to SRC_DIR/build; the binary is BUILD_DIR/app/pktgen.
# Needs: apt-get install meson ninja-build pkg-config libdpdk-dev liblua5.3-dev libnuma-dev libpcap-dev
#
# The fixes it applies to SRC_DIR (idempotent):
#  1. lib/lua/meson.build: the Lua library gets `dpdk` in its dependencies, or
#     lua_dpdk.c does not find rte_version.h.
#  2. app/pktgen-constants.h: mbufs of 2 KiB + headroom instead of 10 KiB, and 8192 a pool instead
#     of 24576. pktgen makes four pools a port; with the defaults two ports need about 2 GB of
#     hugepages and it panics "Cannot create mbuf pool (Rate TX 1:0) ... Cannot allocate memory".
#     The smaller pools take about 80 MB a port. (No jumbo frames then: 1518 B is the largest.)
#  3. app/pktgen.c: the statistics/display timer thread sleeps 1 ms between checks instead of
#     spinning (rte_pause). It runs on the main lcore's CPU and spins there for the whole run: on a
#     two-CPU machine that CPU is the DUT's, and the DUT then gets half of it in slices of several
#     milliseconds (see docs/benchmarking.md). Its 1 s statistics period is unchanged.
set -eu
src=${1:?usage: build-pktgen.sh SRC_DIR [BUILD_DIR]}
build=${2:-$src/build}
[ -f "$src/app/pktgen-constants.h" ] || { echo "build-pktgen.sh: $src is not a Pktgen-DPDK tree" >&2; exit 2; }
echo "Pktgen-DPDK $(cat "$src/VERSION" 2>/dev/null || echo '?') in $src"

# 1. dpdk in the Lua library's dependencies
grep -q 'dependencies: \[dpdk, common' "$src/lib/lua/meson.build" ||
    sed -i 's/dependencies: \[common, utils, vec, lua_dep\]/dependencies: [dpdk, common, utils, vec, lua_dep]/' \
    "$src/lib/lua/meson.build"
grep -q 'dependencies: \[dpdk, common, utils, vec, lua_dep\]' "$src/lib/lua/meson.build" \
    || { echo "build-pktgen.sh: lib/lua/meson.build is not as expected (fix 1)" >&2; exit 1; }

# 2. smaller mbufs and pools
grep -q 'DEFAULT_MBUF_SIZE (2048 + RTE_PKTMBUF_HEADROOM)' "$src/app/pktgen-constants.h" ||
    sed -i -e 's/^#define DEFAULT_MBUF_SIZE (10 \* 1024)/#define DEFAULT_MBUF_SIZE (2048 + RTE_PKTMBUF_HEADROOM)/' \
    -e 's/((DEFAULT_RX_DESC + DEFAULT_TX_DESC) \* 8), \/\* number of buffers/8192, \/* number of buffers/' \
    "$src/app/pktgen-constants.h"
grep -q 'DEFAULT_MBUF_SIZE (2048 + RTE_PKTMBUF_HEADROOM)' "$src/app/pktgen-constants.h" \
    && grep -q '8192, /\* number of buffers' "$src/app/pktgen-constants.h" \
    || { echo "build-pktgen.sh: app/pktgen-constants.h is not as expected (fix 2)" >&2; exit 1; }

# 3. the timer thread sleeps
grep -q 'rte_delay_us_sleep(1000); /\* flatnet' "$src/app/pktgen.c" ||
    sed -i '/^_timer_thread(void \*arg)/,/^}/ s|^        rte_pause();|        rte_delay_us_sleep(1000); /* flatnet: sleep, do not spin */|' "$src/app/pktgen.c"
sed -n '/^_timer_thread(void \*arg)/,/^}/p' "$src/app/pktgen.c" | grep -q 'rte_delay_us_sleep(1000); /\* flatnet' \
    || { echo "build-pktgen.sh: app/pktgen.c's _timer_thread is not as expected (fix 3)" >&2; exit 1; }

if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$src" -Denable_lua=true -Denable-avx=true -Denable-avx2=true
fi
ninja -C "$build"
echo "built: $build/app/pktgen"
