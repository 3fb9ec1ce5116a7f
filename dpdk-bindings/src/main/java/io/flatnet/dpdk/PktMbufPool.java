package io.flatnet.dpdk;

import static io.flatnet.dpdk.DpdkLayout.*;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** A pktmbuf mempool ({@code rte_pktmbuf_pool_create}) with bulk alloc and free. */
@SuppressWarnings("restricted") // the bindings are where native access belongs
public final class PktMbufPool {
  /** rte_mbuf's default data room: 2048 bytes of data after the 128-byte headroom. */
  public static final int DEFAULT_DATA_ROOM =
      DpdkLayout.MBUF_DEFAULT_DATAROOM + DpdkLayout.MBUF_HEADROOM;

  private static final MethodHandle POOL_CREATE =
      Dpdk.downcall(
          "rte_pktmbuf_pool_create",
          FunctionDescriptor.of(
              ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_SHORT, JAVA_SHORT, JAVA_INT));
  private static final MethodHandle POOL_FREE =
      Dpdk.downcall("rte_mempool_free", FunctionDescriptor.ofVoid(ADDRESS));
  private static final MethodHandle AVAIL_COUNT =
      Dpdk.downcall("rte_mempool_avail_count", FunctionDescriptor.of(JAVA_INT, ADDRESS));
  private static final MethodHandle IN_USE_COUNT =
      Dpdk.downcall("rte_mempool_in_use_count", FunctionDescriptor.of(JAVA_INT, ADDRESS));
  private static final MethodHandle FREE_BULK =
      Dpdk.criticalDowncall(
          "rte_pktmbuf_free_bulk", FunctionDescriptor.ofVoid(JAVA_LONG, JAVA_INT));

  /** {@code int (*dequeue)(struct rte_mempool *, void **, unsigned)}, called through a pointer. */
  private static final MethodHandle DEQUEUE =
      Dpdk.LINKER.downcallHandle(
          FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT),
          Linker.Option.critical(false));

  private static final long OPS_TABLE = Dpdk.symbol("rte_mempool_ops_table").address();

  private final String name;
  private final MemorySegment pool;
  private final long poolAddress;
  private final MemorySegment dequeueFunction;

  private PktMbufPool(String name, MemorySegment pool) {
    this.name = name;
    this.pool = pool;
    this.poolAddress = pool.address();
    int opsIndex = NativeMemory.getInt(poolAddress + MEMPOOL_OPS_INDEX);
    if (opsIndex < 0 || opsIndex >= MEMPOOL_MAX_OPS_IDX) {
      throw new DpdkException("mempool " + name + " has a bad ops index " + opsIndex);
    }
    long ops = OPS_TABLE + MEMPOOL_OPS_TABLE_OPS + (long) opsIndex * MEMPOOL_OPS_SIZE;
    this.dequeueFunction = MemorySegment.ofAddress(NativeMemory.getLong(ops + MEMPOOL_OPS_DEQUEUE));
  }

  /**
   * Creates a pool of {@code size} mbufs with a per-lcore cache. Threads that use the cache must be
   * EAL lcores or registered with {@link Lcore#registerCurrentThread()}.
   */
  public static PktMbufPool create(String name, int size, int cacheSize, int dataRoom, int socket) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment pool =
          (MemorySegment)
              POOL_CREATE.invokeExact(
                  arena.allocateFrom(name), size, cacheSize, (short) 0, (short) dataRoom, socket);
      if (pool.address() == 0) {
        throw new DpdkException(
            "rte_pktmbuf_pool_create(" + name + ", " + size + " mbufs)", Dpdk.rteErrno());
      }
      return new PktMbufPool(name, pool);
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_pktmbuf_pool_create", t);
    }
  }

  public String name() {
    return name;
  }

  public long address() {
    return poolAddress;
  }

  /**
   * Takes {@code count} mbufs into {@code into[0..count)}, all or none, and resets each as
   * rte_pktmbuf_alloc does. Goes to the pool's backing store directly (the lcore cache is bypassed,
   * which is correct for any thread).
   *
   * @return true if all {@code count} were allocated
   */
  public boolean allocBulk(MbufArray into, int count) {
    int result;
    try {
      result = (int) DEQUEUE.invokeExact(dequeueFunction, poolAddress, into.address(), count);
    } catch (Throwable t) {
      throw Dpdk.rethrow("mempool dequeue", t);
    }
    if (result < 0) {
      return false;
    }
    for (int i = 0; i < count; i++) {
      Mbuf.reset(into.get(i));
    }
    return true;
  }

  /** Allocates one mbuf, or returns 0 if the pool is empty. For the control path and tests. */
  public long alloc(MbufArray scratch) {
    return allocBulk(scratch, 1) ? scratch.get(0) : 0;
  }

  /** Frees {@code count} mbufs whose pointers start at native address {@code pointers}. */
  public static void freeBulk(long pointers, int count) {
    if (count <= 0) {
      return;
    }
    try {
      FREE_BULK.invokeExact(pointers, count);
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_pktmbuf_free_bulk", t);
    }
  }

  public int available() {
    try {
      return (int) AVAIL_COUNT.invokeExact(pool);
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_mempool_avail_count", t);
    }
  }

  public int inUse() {
    try {
      return (int) IN_USE_COUNT.invokeExact(pool);
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_mempool_in_use_count", t);
    }
  }

  /** Frees the pool. Every mbuf must be back and no port may still use it. */
  public void free() {
    try {
      POOL_FREE.invokeExact(pool);
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_mempool_free", t);
    }
  }
}
