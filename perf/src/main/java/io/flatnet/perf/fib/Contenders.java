package io.flatnet.perf.fib;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.flatnet.perf.fib.RouteSets.Ipv4Routes;
import io.flatnet.perf.fib.RouteSets.Ipv6Addresses;
import io.flatnet.perf.fib.RouteSets.Ipv6Routes;
import io.flatnet.route.Ipv4Fib;
import io.flatnet.route.Ipv6Fib;
import io.flatnet.route.Ipv6Prefix;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.QsbrDomain;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The four systems {@code bench lpm} measures, behind one interface: flatnet's Ipv4Fib and Ipv6Fib,
 * DPDK's rte_fib (DIR24_8) and rte_fib6 (TRIE). Each holds its workload in the form it would have
 * in a real dataplane (Java arrays for flatnet, native memory for DPDK's bulk lookups), prepared
 * before any timing; each hot loop lives in its own method so the JIT compiles it for that system
 * alone.
 */
final class Contenders {
  private Contenders() {}

  /** Addresses per bulk lookup. */
  static final int BURST = 32;

  private static final AtomicInteger NAMES = new AtomicInteger();

  /** One system under test on one family's workload; rebuilt every round. */
  interface Contender extends AutoCloseable {
    /** Creates the table and adds every route, one route per add (flatnet: per commit). */
    void build();

    /** flatnet only: creates the table and adds every route in a single batch commit. */
    void buildOneBatch();

    /**
     * Bytes of the lookup tables: flatnet's {@code memoryBytes()}; DPDK's tbl24 and preallocated
     * tbl8s as its configuration sizes them.
     */
    long tableBytes();

    /** DPDK: hugepage heap growth over create and adds (tables and RIB); flatnet: -1 (n/a). */
    long heapBytes();

    /** One scalar lookup per address, over all addresses; returns a checksum. */
    long scalarPass();

    /** Bulk lookups of {@link #BURST} over all addresses; returns a checksum. */
    long bulkPass();

    /** Next hops of the first {@code out.length} addresses, one by one or in bulk. */
    void answers(int[] out, boolean bulk);

    /** Deletes these routes, one per delete (flatnet: per commit). */
    void delete(int[] routes);

    /** Frees the table (the workload stays). */
    void free();

    /** Frees everything. */
    @Override
    void close();
  }

  /** Next-hop indexes as a fresh flatnet NextHopTable hands them out, shared with DPDK's FIBs. */
  static int[] nextHopIndexes(int count) {
    NextHopTable table = nextHopTable(count, new QsbrDomain(), null);
    int[] out = new int[count];
    for (int i = 0; i < count; i++) {
      out[i] = table.addForward(i % (NextHopTable.MAX_PORT + 1), mac(i), mac(-1));
    }
    return out;
  }

  private static NextHopTable nextHopTable(int count, QsbrDomain domain, int[] expect) {
    NextHopTable table = new NextHopTable(count + 1, domain);
    if (expect != null) {
      for (int i = 0; i < count; i++) {
        int index = table.addForward(i % (NextHopTable.MAX_PORT + 1), mac(i), mac(-1));
        if (index != expect[i]) {
          throw new IllegalStateException("next hop " + i + " got index " + index);
        }
      }
    }
    return table;
  }

  private static long mac(int i) {
    return 0x02_00_00_00_00_00L | (i & 0xFFFF_FFFFL);
  }

  /**
   * What DPDK 22.11's DIR24_8 and TRIE allocate for lookups with 4-byte next hops: a tbl24 of
   * 2<sup>24</sup> entries and {@code numTbl8 + 1} groups of 256 (lib/fib/dir24_8.c, trie.c).
   */
  static long dpdkTableBytes(int numTbl8) {
    return 4L * (1 << 24) + 4L * 256 * (numTbl8 + 1L);
  }

  private static String dpdkName(String kind) {
    return "fl" + kind + NAMES.incrementAndGet();
  }

  // ---------------------------------------------------------------- IPv4

  /** flatnet's Ipv4Fib. */
  static final class Flat4 implements Contender {
    private final Ipv4Routes routes;
    private final int[] nhIndex;
    private final int maxTbl8;
    private final int[] addresses;
    private final int[][] bursts;
    private final int[] out = new int[BURST];
    private Ipv4Fib fib;

    Flat4(Ipv4Routes routes, int[] nhIndex, int maxTbl8, int[] addresses) {
      this.routes = routes;
      this.nhIndex = nhIndex;
      this.maxTbl8 = maxTbl8;
      this.addresses = addresses;
      this.bursts = new int[addresses.length / BURST][BURST];
      for (int b = 0; b < bursts.length; b++) {
        System.arraycopy(addresses, b * BURST, bursts[b], 0, BURST);
      }
    }

    private Ipv4Fib.Batch fresh() {
      free();
      QsbrDomain domain = new QsbrDomain();
      fib = new Ipv4Fib(domain, nextHopTable(nhIndex.length, domain, nhIndex), maxTbl8);
      return fib.batch();
    }

    @Override
    public void build() {
      Ipv4Fib.Batch batch = fresh();
      int[] a = routes.address();
      byte[] l = routes.length();
      int[] nh = routes.nh();
      for (int i = 0; i < a.length; i++) {
        batch.add(a[i], l[i], nhIndex[nh[i]]).commit();
      }
    }

    @Override
    public void buildOneBatch() {
      Ipv4Fib.Batch batch = fresh();
      int[] a = routes.address();
      byte[] l = routes.length();
      int[] nh = routes.nh();
      for (int i = 0; i < a.length; i++) {
        batch.add(a[i], l[i], nhIndex[nh[i]]);
      }
      batch.commit();
    }

    @Override
    public long tableBytes() {
      return fib.memoryBytes();
    }

    @Override
    public long heapBytes() {
      return -1;
    }

    @Override
    public long scalarPass() {
      Ipv4Fib f = fib;
      long sum = 0;
      for (int address : addresses) {
        sum += f.lookup(address);
      }
      return sum;
    }

    @Override
    public long bulkPass() {
      Ipv4Fib f = fib;
      int[] nhs = out;
      long sum = 0;
      for (int[] burst : bursts) {
        f.lookupBulk(burst, nhs, BURST);
        sum += nhs[BURST - 1];
      }
      return sum;
    }

    @Override
    public void answers(int[] to, boolean bulk) {
      if (!bulk) {
        for (int i = 0; i < to.length; i++) {
          to[i] = fib.lookup(addresses[i]);
        }
        return;
      }
      int[] in = new int[BURST];
      int[] nhs = new int[BURST];
      for (int i = 0; i < to.length; i += BURST) {
        int n = Math.min(BURST, to.length - i);
        System.arraycopy(addresses, i, in, 0, n);
        fib.lookupBulk(in, nhs, n);
        System.arraycopy(nhs, 0, to, i, n);
      }
    }

    @Override
    public void delete(int[] which) {
      Ipv4Fib.Batch batch = fib.batch();
      for (int r : which) {
        batch.delete(routes.address()[r], routes.length()[r]).commit();
      }
    }

    @Override
    public void free() {
      if (fib != null) {
        fib.close();
        fib = null;
      }
    }

    @Override
    public void close() {
      free();
    }
  }

  /** DPDK's rte_fib, DIR24_8. */
  static final class Rte4 implements Contender {
    private final Ipv4Routes routes;
    private final int[] nhIndex;
    private final int numTbl8;
    private final boolean avx512;
    private final int[] addresses;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment[] bursts;
    private final MemorySegment out = arena.allocate(8L * BURST, 64);
    private RteFib fib;
    private long heapBefore;
    private long heapBytes;
    private String lookupFunction = "default";

    Rte4(Ipv4Routes routes, int[] nhIndex, int numTbl8, boolean avx512, int[] addresses) {
      this.routes = routes;
      this.nhIndex = nhIndex;
      this.numTbl8 = numTbl8;
      this.avx512 = avx512;
      this.addresses = addresses;
      MemorySegment all = arena.allocate(4L * addresses.length, 64);
      MemorySegment.copy(addresses, 0, all, JAVA_INT, 0, addresses.length);
      bursts = new MemorySegment[addresses.length / BURST];
      for (int b = 0; b < bursts.length; b++) {
        bursts[b] = all.asSlice(4L * BURST * b, 4L * BURST);
      }
    }

    String lookupFunction() {
      return lookupFunction;
    }

    private void create() {
      free();
      heapBefore = DpdkHeap.allocatedBytes();
      fib = RteFib.create(dpdkName("4_"), routes.size() + 16, numTbl8, 0);
      if (avx512) {
        lookupFunction =
            fib.selectLookup(FibLayout.FIB_LOOKUP_DIR24_8_VECTOR_AVX512)
                ? "AVX512"
                : "default (AVX512 refused)";
      }
    }

    @Override
    public void build() {
      create();
      int[] a = routes.address();
      byte[] l = routes.length();
      int[] nh = routes.nh();
      RteFib f = fib;
      for (int i = 0; i < a.length; i++) {
        f.add(a[i], l[i], nhIndex[nh[i]]);
      }
      heapBytes = DpdkHeap.allocatedBytes() - heapBefore;
    }

    @Override
    public void buildOneBatch() {
      throw new UnsupportedOperationException("rte_fib has no batch add");
    }

    @Override
    public long tableBytes() {
      return dpdkTableBytes(numTbl8);
    }

    @Override
    public long heapBytes() {
      return heapBytes;
    }

    @Override
    public long scalarPass() {
      RteFib f = fib;
      long sum = 0;
      for (int address : addresses) {
        sum += f.lookup(address);
      }
      return sum;
    }

    @Override
    public long bulkPass() {
      RteFib f = fib;
      MemorySegment nhs = out;
      long sum = 0;
      for (MemorySegment burst : bursts) {
        f.lookupBulk(burst, nhs, BURST);
        sum += nhs.get(JAVA_LONG, 8L * (BURST - 1));
      }
      return sum;
    }

    @Override
    public void answers(int[] to, boolean bulk) {
      long[] nhs = new long[to.length];
      fib.lookupBulk(addresses, nhs, to.length);
      for (int i = 0; i < to.length; i++) {
        to[i] = Math.toIntExact(nhs[i]);
      }
    }

    @Override
    public void delete(int[] which) {
      for (int r : which) {
        fib.delete(routes.address()[r], routes.length()[r]);
      }
    }

    @Override
    public void free() {
      if (fib != null) {
        fib.close();
        fib = null;
      }
    }

    @Override
    public void close() {
      free();
      arena.close();
    }
  }

  // ---------------------------------------------------------------- IPv6

  /** flatnet's Ipv6Fib. */
  static final class Flat6 implements Contender {
    private final Ipv6Routes routes;
    private final int[] nhIndex;
    private final int maxNodes;
    private final long[] hi;
    private final long[] lo;
    private final long[][] burstHi;
    private final long[][] burstLo;
    private final int[] out = new int[BURST];
    private Ipv6Fib fib;

    Flat6(Ipv6Routes routes, int[] nhIndex, int maxNodes, Ipv6Addresses addresses) {
      this.routes = routes;
      this.nhIndex = nhIndex;
      this.maxNodes = maxNodes;
      this.hi = addresses.hi();
      this.lo = addresses.lo();
      int n = hi.length / BURST;
      burstHi = new long[n][BURST];
      burstLo = new long[n][BURST];
      for (int b = 0; b < n; b++) {
        System.arraycopy(hi, b * BURST, burstHi[b], 0, BURST);
        System.arraycopy(lo, b * BURST, burstLo[b], 0, BURST);
      }
    }

    private Ipv6Fib.Batch fresh() {
      free();
      QsbrDomain domain = new QsbrDomain();
      fib = new Ipv6Fib(domain, nextHopTable(nhIndex.length, domain, nhIndex), maxNodes);
      return fib.batch();
    }

    @Override
    public void build() {
      Ipv6Fib.Batch batch = fresh();
      for (int i = 0; i < routes.size(); i++) {
        batch
            .add(routes.hi()[i], routes.lo()[i], routes.length()[i], nhIndex[routes.nh()[i]])
            .commit();
      }
    }

    @Override
    public void buildOneBatch() {
      Ipv6Fib.Batch batch = fresh();
      for (int i = 0; i < routes.size(); i++) {
        batch.add(routes.hi()[i], routes.lo()[i], routes.length()[i], nhIndex[routes.nh()[i]]);
      }
      batch.commit();
    }

    @Override
    public long tableBytes() {
      return fib.memoryBytes();
    }

    @Override
    public long heapBytes() {
      return -1;
    }

    @Override
    public long scalarPass() {
      Ipv6Fib f = fib;
      long[] h = hi;
      long[] l = lo;
      long sum = 0;
      for (int i = 0; i < h.length; i++) {
        sum += f.lookup(h[i], l[i]);
      }
      return sum;
    }

    @Override
    public long bulkPass() {
      Ipv6Fib f = fib;
      int[] nhs = out;
      long[][] bh = burstHi;
      long[][] bl = burstLo;
      long sum = 0;
      for (int b = 0; b < bh.length; b++) {
        f.lookupBulk(bh[b], bl[b], nhs, BURST);
        sum += nhs[BURST - 1];
      }
      return sum;
    }

    @Override
    public void answers(int[] to, boolean bulk) {
      if (!bulk) {
        for (int i = 0; i < to.length; i++) {
          to[i] = fib.lookup(hi[i], lo[i]);
        }
        return;
      }
      long[] h = new long[BURST];
      long[] l = new long[BURST];
      int[] nhs = new int[BURST];
      for (int i = 0; i < to.length; i += BURST) {
        int n = Math.min(BURST, to.length - i);
        System.arraycopy(hi, i, h, 0, n);
        System.arraycopy(lo, i, l, 0, n);
        fib.lookupBulk(h, l, nhs, n);
        System.arraycopy(nhs, 0, to, i, n);
      }
    }

    @Override
    public void delete(int[] which) {
      Ipv6Fib.Batch batch = fib.batch();
      for (int r : which) {
        batch.delete(new Ipv6Prefix(routes.hi()[r], routes.lo()[r], routes.length()[r])).commit();
      }
    }

    @Override
    public void free() {
      if (fib != null) {
        fib.close();
        fib = null;
      }
    }

    @Override
    public void close() {
      free();
    }
  }

  /** DPDK's rte_fib6, TRIE. */
  static final class Rte6 implements Contender {
    private final Ipv6Routes routes;
    private final int[] nhIndex;
    private final int numTbl8;
    private final boolean avx512;
    private final long[] hi;
    private final long[] lo;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment[] bursts;
    private final MemorySegment out = arena.allocate(8L * BURST, 64);
    private RteFib6 fib;
    private long heapBefore;
    private long heapBytes;
    private String lookupFunction = "default";

    Rte6(Ipv6Routes routes, int[] nhIndex, int numTbl8, boolean avx512, Ipv6Addresses addresses) {
      this.routes = routes;
      this.nhIndex = nhIndex;
      this.numTbl8 = numTbl8;
      this.avx512 = avx512;
      this.hi = addresses.hi();
      this.lo = addresses.lo();
      long size = FibLayout.FIB6_IPV6_ADDR_SIZE;
      MemorySegment all = arena.allocate(size * hi.length, 64);
      for (int i = 0; i < hi.length; i++) {
        RteFib6.putAddress(all, size * i, hi[i], lo[i]);
      }
      bursts = new MemorySegment[hi.length / BURST];
      for (int b = 0; b < bursts.length; b++) {
        bursts[b] = all.asSlice(size * BURST * b, size * BURST);
      }
    }

    String lookupFunction() {
      return lookupFunction;
    }

    @Override
    public void build() {
      free();
      heapBefore = DpdkHeap.allocatedBytes();
      fib = RteFib6.create(dpdkName("6_"), routes.size() + 16, numTbl8, 0);
      if (avx512) {
        lookupFunction =
            fib.selectLookup(FibLayout.FIB6_LOOKUP_TRIE_VECTOR_AVX512)
                ? "AVX512"
                : "default (AVX512 refused)";
      }
      RteFib6 f = fib;
      for (int i = 0; i < routes.size(); i++) {
        f.add(routes.hi()[i], routes.lo()[i], routes.length()[i], nhIndex[routes.nh()[i]]);
      }
      heapBytes = DpdkHeap.allocatedBytes() - heapBefore;
    }

    @Override
    public void buildOneBatch() {
      throw new UnsupportedOperationException("rte_fib6 has no batch add");
    }

    @Override
    public long tableBytes() {
      return dpdkTableBytes(numTbl8);
    }

    @Override
    public long heapBytes() {
      return heapBytes;
    }

    @Override
    public long scalarPass() {
      RteFib6 f = fib;
      long[] h = hi;
      long[] l = lo;
      long sum = 0;
      for (int i = 0; i < h.length; i++) {
        sum += f.lookup(h[i], l[i]);
      }
      return sum;
    }

    @Override
    public long bulkPass() {
      RteFib6 f = fib;
      MemorySegment nhs = out;
      long sum = 0;
      for (MemorySegment burst : bursts) {
        f.lookupBulk(burst, nhs, BURST);
        sum += nhs.get(JAVA_LONG, 8L * (BURST - 1));
      }
      return sum;
    }

    @Override
    public void answers(int[] to, boolean bulk) {
      long[] nhs = new long[to.length];
      fib.lookupBulk(hi, lo, nhs, to.length);
      for (int i = 0; i < to.length; i++) {
        to[i] = Math.toIntExact(nhs[i]);
      }
    }

    @Override
    public void delete(int[] which) {
      for (int r : which) {
        fib.delete(routes.hi()[r], routes.lo()[r], routes.length()[r]);
      }
    }

    @Override
    public void free() {
      if (fib != null) {
        fib.close();
        fib = null;
      }
    }

    @Override
    public void close() {
      free();
      arena.close();
    }
  }
}
