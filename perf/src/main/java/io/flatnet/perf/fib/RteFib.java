package io.flatnet.perf.fib;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.flatnet.dpdk.Dpdk;
import io.flatnet.dpdk.DpdkException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * DPDK's IPv4 FIB ({@code rte_fib}, DIR24_8 with 4-byte next hops), the reference that {@code
 * ./flatnet bench lpm} measures flatnet's {@code Ipv4Fib} against. Addresses are host-order ints
 * (as {@code rte_fib} takes them); a miss returns the default next hop given at creation.
 *
 * <p>Not thread-safe: one writer, and lookups from the thread that owns the scratch buffers (the
 * {@link #lookupBulk(MemorySegment, MemorySegment, int)} form is safe from any thread).
 */
public final class RteFib implements AutoCloseable {

  private static final MethodHandle CREATE =
      Dpdk.downcall("rte_fib_create", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
  private static final MethodHandle FREE =
      Dpdk.downcall("rte_fib_free", FunctionDescriptor.ofVoid(ADDRESS));
  private static final MethodHandle ADD =
      Dpdk.downcall(
          "rte_fib_add", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_BYTE, JAVA_LONG));
  private static final MethodHandle DELETE =
      Dpdk.downcall(
          "rte_fib_delete", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_BYTE));
  private static final MethodHandle SELECT_LOOKUP =
      Dpdk.downcall("rte_fib_select_lookup", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));

  /** Never blocks, allocates nothing: a critical downcall (no thread-state transition). */
  private static final MethodHandle LOOKUP_BULK =
      Dpdk.criticalDowncall(
          "rte_fib_lookup_bulk",
          FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT));

  /** The SOCKET_ID_ANY of rte_memory.h. */
  private static final int SOCKET_ID_ANY = -1;

  private static final int SCRATCH = 64;

  private final String name;
  private final MemorySegment fib;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment scratchIps = arena.allocate(4L * SCRATCH, 64);
  private final MemorySegment scratchNhs = arena.allocate(8L * SCRATCH, 64);
  private boolean closed;

  private RteFib(String name, MemorySegment fib) {
    this.name = name;
    this.fib = fib;
  }

  /**
   * {@code rte_fib_create} of a DIR24_8 FIB with 4-byte next hops.
   *
   * @param name unique among live FIBs
   * @param maxRoutes the RIB's route limit
   * @param numTbl8 tbl8 groups (one per /24 holding a route longer than /24), allocated up front
   * @param defaultNextHop what a lookup miss returns
   */
  public static RteFib create(String name, int maxRoutes, int numTbl8, long defaultNextHop) {
    try (Arena call = Arena.ofConfined()) {
      MemorySegment conf = call.allocate(FibLayout.FIB_CONF_SIZE, 8);
      conf.set(JAVA_INT, FibLayout.FIB_CONF_TYPE, FibLayout.FIB_DIR24_8);
      conf.set(JAVA_LONG, FibLayout.FIB_CONF_DEFAULT_NH, defaultNextHop);
      conf.set(JAVA_INT, FibLayout.FIB_CONF_MAX_ROUTES, maxRoutes);
      conf.set(JAVA_INT, FibLayout.FIB_CONF_RIB_EXT_SZ, 0);
      conf.set(JAVA_INT, FibLayout.FIB_CONF_DIR24_8_NH_SZ, FibLayout.FIB_DIR24_8_4B);
      conf.set(JAVA_INT, FibLayout.FIB_CONF_DIR24_8_NUM_TBL8, numTbl8);
      MemorySegment fib;
      try {
        fib = (MemorySegment) CREATE.invokeExact(call.allocateFrom(name), SOCKET_ID_ANY, conf);
      } catch (Throwable t) {
        throw rethrow("rte_fib_create", t);
      }
      if (fib.equals(MemorySegment.NULL)) {
        throw new DpdkException(
            "rte_fib_create("
                + name
                + ", max_routes "
                + maxRoutes
                + ", num_tbl8 "
                + numTbl8
                + "; its tables and RIB come from hugepages: enough free? see HugePages_Free in"
                + " /proc/meminfo)",
            Dpdk.rteErrno());
      }
      return new RteFib(name, fib);
    }
  }

  public String name() {
    return name;
  }

  /** Adds or replaces {@code ip/depth}; host bits of {@code ip} are ignored by DPDK. */
  public void add(int ip, int depth, long nextHop) {
    int rc;
    try {
      rc = (int) ADD.invokeExact(fib, ip, (byte) depth, nextHop);
    } catch (Throwable t) {
      throw rethrow("rte_fib_add", t);
    }
    if (rc < 0) {
      throw new DpdkException("rte_fib_add(" + prefix(ip, depth) + ")", -rc);
    }
  }

  /** Deletes {@code ip/depth}; fails (ENOENT) if it is not installed. */
  public void delete(int ip, int depth) {
    int rc;
    try {
      rc = (int) DELETE.invokeExact(fib, ip, (byte) depth);
    } catch (Throwable t) {
      throw rethrow("rte_fib_delete", t);
    }
    if (rc < 0) {
      throw new DpdkException("rte_fib_delete(" + prefix(ip, depth) + ")", -rc);
    }
  }

  /**
   * {@code rte_fib_select_lookup}: e.g. {@link FibLayout#FIB_LOOKUP_DIR24_8_VECTOR_AVX512}.
   *
   * @return false if DPDK refused (not built in, or the CPU or EAL's max SIMD width forbids it)
   */
  boolean selectLookup(int type) {
    try {
      return (int) SELECT_LOOKUP.invokeExact(fib, type) == 0;
    } catch (Throwable t) {
      throw rethrow("rte_fib_select_lookup", t);
    }
  }

  /**
   * {@code rte_fib_lookup_bulk} on native arrays: {@code n} uint32 addresses in, {@code n} uint64
   * next hops out.
   */
  public void lookupBulk(MemorySegment ips, MemorySegment nextHops, int n) {
    int rc;
    try {
      rc = (int) LOOKUP_BULK.invokeExact(fib, ips, nextHops, n);
    } catch (Throwable t) {
      throw rethrow("rte_fib_lookup_bulk", t);
    }
    if (rc < 0) {
      throw new DpdkException("rte_fib_lookup_bulk", -rc);
    }
  }

  /** Convenience form (copies through scratch buffers): for tests and verification. */
  public void lookupBulk(int[] ips, long[] nextHops, int n) {
    for (int done = 0; done < n; ) {
      int chunk = Math.min(SCRATCH, n - done);
      MemorySegment.copy(ips, done, scratchIps, JAVA_INT, 0, chunk);
      lookupBulk(scratchIps, scratchNhs, chunk);
      MemorySegment.copy(scratchNhs, JAVA_LONG, 0, nextHops, done, chunk);
      done += chunk;
    }
  }

  /** One address (a bulk lookup of one: rte_fib has no scalar lookup). */
  public long lookup(int ip) {
    scratchIps.set(JAVA_INT, 0, ip);
    lookupBulk(scratchIps, scratchNhs, 1);
    return scratchNhs.get(JAVA_LONG, 0);
  }

  /** {@code rte_fib_free}. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      FREE.invokeExact(fib);
    } catch (Throwable t) {
      throw rethrow("rte_fib_free", t);
    } finally {
      arena.close();
    }
  }

  private static String prefix(int ip, int depth) {
    return (ip >>> 24)
        + "."
        + ((ip >>> 16) & 0xFF)
        + "."
        + ((ip >>> 8) & 0xFF)
        + "."
        + (ip & 0xFF)
        + "/"
        + depth;
  }

  static RuntimeException rethrow(String what, Throwable t) {
    if (t instanceof RuntimeException e) {
      return e;
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new DpdkException(what + " failed", t);
  }
}
