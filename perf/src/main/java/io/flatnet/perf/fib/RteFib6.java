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
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteOrder;

/**
 * DPDK's IPv6 FIB ({@code rte_fib6}, TRIE with 4-byte next hops), the reference for flatnet's
 * {@code Ipv6Fib}. An address is two longs, {@code hi} = bytes 0..7 and {@code lo} = bytes 8..15
 * read big-endian (flatnet's convention); DPDK takes the 16 bytes in network order.
 *
 * <p>Not thread-safe, like {@link RteFib}.
 */
public final class RteFib6 implements AutoCloseable {

  private static final MethodHandle CREATE =
      Dpdk.downcall("rte_fib6_create", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
  private static final MethodHandle FREE =
      Dpdk.downcall("rte_fib6_free", FunctionDescriptor.ofVoid(ADDRESS));
  private static final MethodHandle ADD =
      Dpdk.downcall(
          "rte_fib6_add", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_BYTE, JAVA_LONG));
  private static final MethodHandle DELETE =
      Dpdk.downcall(
          "rte_fib6_delete", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_BYTE));
  private static final MethodHandle SELECT_LOOKUP =
      Dpdk.downcall("rte_fib6_select_lookup", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle LOOKUP_BULK =
      Dpdk.criticalDowncall(
          "rte_fib6_lookup_bulk",
          FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT));

  /** Big-endian longs: how flatnet's (hi, lo) become DPDK's 16 network-order bytes. */
  static final ValueLayout.OfLong BE_LONG =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

  private static final int SOCKET_ID_ANY = -1;
  private static final int SCRATCH = 64;
  private static final int ADDR = FibLayout.FIB6_IPV6_ADDR_SIZE;

  private final String name;
  private final MemorySegment fib;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment scratchIps = arena.allocate((long) ADDR * SCRATCH, 64);
  private final MemorySegment scratchNhs = arena.allocate(8L * SCRATCH, 64);
  private boolean closed;

  private RteFib6(String name, MemorySegment fib) {
    this.name = name;
    this.fib = fib;
  }

  /**
   * {@code rte_fib6_create} of a TRIE FIB with 4-byte next hops.
   *
   * @param numTbl8 8-bit trie nodes below the 24-bit first level, allocated up front
   */
  public static RteFib6 create(String name, int maxRoutes, int numTbl8, long defaultNextHop) {
    try (Arena call = Arena.ofConfined()) {
      MemorySegment conf = call.allocate(FibLayout.FIB6_CONF_SIZE, 8);
      conf.set(JAVA_INT, FibLayout.FIB6_CONF_TYPE, FibLayout.FIB6_TRIE);
      conf.set(JAVA_LONG, FibLayout.FIB6_CONF_DEFAULT_NH, defaultNextHop);
      conf.set(JAVA_INT, FibLayout.FIB6_CONF_MAX_ROUTES, maxRoutes);
      conf.set(JAVA_INT, FibLayout.FIB6_CONF_RIB_EXT_SZ, 0);
      conf.set(JAVA_INT, FibLayout.FIB6_CONF_TRIE_NH_SZ, FibLayout.FIB6_TRIE_4B);
      conf.set(JAVA_INT, FibLayout.FIB6_CONF_TRIE_NUM_TBL8, numTbl8);
      MemorySegment fib;
      try {
        fib = (MemorySegment) CREATE.invokeExact(call.allocateFrom(name), SOCKET_ID_ANY, conf);
      } catch (Throwable t) {
        throw RteFib.rethrow("rte_fib6_create", t);
      }
      if (fib.equals(MemorySegment.NULL)) {
        throw new DpdkException(
            "rte_fib6_create("
                + name
                + ", max_routes "
                + maxRoutes
                + ", num_tbl8 "
                + numTbl8
                + "; its tables and RIB come from hugepages: enough free? see HugePages_Free in"
                + " /proc/meminfo)",
            Dpdk.rteErrno());
      }
      return new RteFib6(name, fib);
    }
  }

  public String name() {
    return name;
  }

  /** Writes address {@code (hi, lo)} as DPDK's 16 network-order bytes at {@code offset}. */
  public static void putAddress(MemorySegment to, long offset, long hi, long lo) {
    to.set(BE_LONG, offset, hi);
    to.set(BE_LONG, offset + 8, lo);
  }

  public void add(long hi, long lo, int depth, long nextHop) {
    putAddress(scratchIps, 0, hi, lo);
    int rc;
    try {
      rc = (int) ADD.invokeExact(fib, scratchIps, (byte) depth, nextHop);
    } catch (Throwable t) {
      throw RteFib.rethrow("rte_fib6_add", t);
    }
    if (rc < 0) {
      throw new DpdkException("rte_fib6_add(" + prefix(hi, lo, depth) + ")", -rc);
    }
  }

  /** Deletes {@code hi:lo/depth}; fails (ENOENT) if it is not installed. */
  public void delete(long hi, long lo, int depth) {
    putAddress(scratchIps, 0, hi, lo);
    int rc;
    try {
      rc = (int) DELETE.invokeExact(fib, scratchIps, (byte) depth);
    } catch (Throwable t) {
      throw RteFib.rethrow("rte_fib6_delete", t);
    }
    if (rc < 0) {
      throw new DpdkException("rte_fib6_delete(" + prefix(hi, lo, depth) + ")", -rc);
    }
  }

  /** {@code rte_fib6_select_lookup}; false if DPDK refused. */
  boolean selectLookup(int type) {
    try {
      return (int) SELECT_LOOKUP.invokeExact(fib, type) == 0;
    } catch (Throwable t) {
      throw RteFib.rethrow("rte_fib6_select_lookup", t);
    }
  }

  /**
   * {@code rte_fib6_lookup_bulk} on native arrays: {@code n} 16-byte network-order addresses in,
   * {@code n} uint64 next hops out.
   */
  public void lookupBulk(MemorySegment ips, MemorySegment nextHops, int n) {
    int rc;
    try {
      rc = (int) LOOKUP_BULK.invokeExact(fib, ips, nextHops, n);
    } catch (Throwable t) {
      throw RteFib.rethrow("rte_fib6_lookup_bulk", t);
    }
    if (rc < 0) {
      throw new DpdkException("rte_fib6_lookup_bulk", -rc);
    }
  }

  /** Convenience form (copies through scratch buffers): for tests and verification. */
  public void lookupBulk(long[] hi, long[] lo, long[] nextHops, int n) {
    for (int done = 0; done < n; ) {
      int chunk = Math.min(SCRATCH, n - done);
      for (int i = 0; i < chunk; i++) {
        putAddress(scratchIps, (long) i * ADDR, hi[done + i], lo[done + i]);
      }
      lookupBulk(scratchIps, scratchNhs, chunk);
      MemorySegment.copy(scratchNhs, JAVA_LONG, 0, nextHops, done, chunk);
      done += chunk;
    }
  }

  /** One address (a bulk lookup of one: rte_fib6 has no scalar lookup). */
  public long lookup(long hi, long lo) {
    putAddress(scratchIps, 0, hi, lo);
    lookupBulk(scratchIps, scratchNhs, 1);
    return scratchNhs.get(JAVA_LONG, 0);
  }

  /** {@code rte_fib6_free}. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      FREE.invokeExact(fib);
    } catch (Throwable t) {
      throw RteFib.rethrow("rte_fib6_free", t);
    } finally {
      arena.close();
    }
  }

  private static String prefix(long hi, long lo, int depth) {
    return String.format("%016x:%016x/%d", hi, lo, depth);
  }
}
