package io.flatnet.perf.fib;

/**
 * Every offset, size and enum value of DPDK 22.11's {@code rte_fib.h}, {@code rte_fib6.h} and
 * {@code rte_malloc.h} that {@link RteFib}, {@link RteFib6} and {@link DpdkHeap} use. {@code
 * FibLayoutConformanceTest} compiles a C probe against the installed headers and checks each {@code
 * static final} field here against it, so add nothing else to this class.
 */
final class FibLayout {
  private FibLayout() {}

  // struct rte_fib_conf
  static final long FIB_CONF_SIZE = 32;
  static final long FIB_CONF_TYPE = 0;
  static final long FIB_CONF_DEFAULT_NH = 8;
  static final long FIB_CONF_MAX_ROUTES = 16;
  static final long FIB_CONF_RIB_EXT_SZ = 20;
  static final long FIB_CONF_DIR24_8_NH_SZ = 24;
  static final long FIB_CONF_DIR24_8_NUM_TBL8 = 28;

  // enums of rte_fib.h
  static final int FIB_DIR24_8 = 1;
  static final int FIB_DIR24_8_4B = 2;
  static final int FIB_LOOKUP_DIR24_8_VECTOR_AVX512 = 4;

  // struct rte_fib6_conf
  static final long FIB6_CONF_SIZE = 32;
  static final long FIB6_CONF_TYPE = 0;
  static final long FIB6_CONF_DEFAULT_NH = 8;
  static final long FIB6_CONF_MAX_ROUTES = 16;
  static final long FIB6_CONF_RIB_EXT_SZ = 20;
  static final long FIB6_CONF_TRIE_NH_SZ = 24;
  static final long FIB6_CONF_TRIE_NUM_TBL8 = 28;

  // enums and constants of rte_fib6.h
  static final int FIB6_TRIE = 1;
  static final int FIB6_TRIE_4B = 2;
  static final int FIB6_LOOKUP_TRIE_VECTOR_AVX512 = 2;
  static final int FIB6_IPV6_ADDR_SIZE = 16;

  // struct rte_malloc_socket_stats
  static final long MALLOC_STATS_SIZE = 40;
  static final long MALLOC_STATS_HEAP_ALLOCSZ_BYTES = 32;
}
