package io.flatnet.perf.fib;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.flatnet.dpdk.Dpdk;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Bytes allocated from DPDK's hugepage heaps ({@code rte_malloc_get_socket_stats}), summed over
 * NUMA sockets. The difference around an {@code rte_fib_create} plus its adds is what the FIB
 * really took: its tables, its RIB's mempool and the allocator's element headers.
 */
final class DpdkHeap {
  private DpdkHeap() {}

  private static final MethodHandle SOCKET_STATS =
      Dpdk.downcall(
          "rte_malloc_get_socket_stats", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
  private static final MethodHandle SOCKET_COUNT =
      Dpdk.downcall("rte_socket_count", FunctionDescriptor.of(JAVA_INT));
  private static final MethodHandle SOCKET_ID_BY_IDX =
      Dpdk.downcall("rte_socket_id_by_idx", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

  /** Bytes currently allocated on all sockets' heaps (EAL must be running). */
  static long allocatedBytes() {
    try (Arena call = Arena.ofConfined()) {
      MemorySegment stats = call.allocate(FibLayout.MALLOC_STATS_SIZE, 8);
      long total = 0;
      int sockets = (int) SOCKET_COUNT.invokeExact();
      for (int i = 0; i < sockets; i++) {
        int socket = (int) SOCKET_ID_BY_IDX.invokeExact(i);
        if ((int) SOCKET_STATS.invokeExact(socket, stats) == 0) {
          total += stats.get(JAVA_LONG, FibLayout.MALLOC_STATS_HEAP_ALLOCSZ_BYTES);
        }
      }
      return total;
    } catch (Throwable t) {
      throw RteFib.rethrow("rte_malloc_get_socket_stats", t);
    }
  }
}
