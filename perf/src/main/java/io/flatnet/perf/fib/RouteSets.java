package io.flatnet.perf.fib;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Synthetic route tables and lookup addresses for the LPM benchmark, reproducible from a seed.
 *
 * <h2>IPv4</h2>
 *
 * The prefix-length mix of DPDK's {@code lpm_perf_autotest} ({@code app/test/test_lpm_routes.c}):
 * per address class (A: first bit 0, B: 10, C: 110) and per length, the route counts of a real BGP
 * table of about 1.08M routes (mostly /24, then /16, /22, /23, /20, /19, ...; about 4% longer than
 * /24), scaled to the requested size. Within each class and length the prefixes are distinct and
 * random. The table is returned in random order.
 *
 * <h2>IPv6</h2>
 *
 * A hierarchical table in 2000::/3 with a realistic length mix (about 45% /48, 10% /32, 8% /44, 8%
 * /64, 7% /40, 6% /56, 4% /36, 3% each /29, /46, /47, 2% /128, 1% /24-/28): allocations (/24 to
 * /32) are random; /33 to /48 routes lie inside a random allocation, /56 and /64 inside a random
 * /48, /128 inside a random /64. So upper trie levels are shared as in a real table.
 *
 * <h2>Lookup addresses</h2>
 *
 * A given fraction are "hits": a random installed route and a random host address inside it (a
 * longer route may cover that host; the answer is still the longest match). The rest are uniformly
 * random addresses, which may or may not be covered.
 */
public final class RouteSets {
  private RouteSets() {}

  /** IPv4 routes: {@code address[i]/length[i]} (host order) to next-hop ordinal {@code nh[i]}. */
  public record Ipv4Routes(int[] address, byte[] length, int[] nh) {
    public int size() {
      return address.length;
    }
  }

  /** IPv6 routes: {@code hi[i]:lo[i]/length[i]} to next-hop ordinal {@code nh[i]}. */
  public record Ipv6Routes(long[] hi, long[] lo, int[] length, int[] nh) {
    public int size() {
      return hi.length;
    }
  }

  /** IPv6 addresses as flatnet passes them: bytes 0..7 and 8..15, each read big-endian. */
  public record Ipv6Addresses(long[] hi, long[] lo) {
    public int size() {
      return hi.length;
    }
  }

  // Route counts per length 1..32 of DPDK's lpm_perf_autotest, classes A, B, C.
  private static final int[][] IPV4_COUNTS = {
    {
      0, 0, 1, 0, 2, 1, 3, 185, 26, 16, 39, 144, 233, 528, 866, 3856, 3268, 5662, 17301, 22226,
      11147, 16746, 17120, 77578, 401, 656, 1107, 1121, 2316, 717, 10, 66
    },
    {
      0, 0, 0, 0, 1, 1, 1, 3, 3, 30, 25, 168, 305, 569, 1129, 50800, 1645, 1820, 3506, 3258, 3424,
      4971, 6885, 39771, 424, 170, 433, 92, 366, 377, 2, 200
    },
    {
      0, 0, 0, 0, 0, 0, 0, 12, 8, 9, 33, 69, 237, 1007, 1717, 14663, 8070, 16185, 48261, 36870,
      33960, 50638, 61422, 466549, 1829, 4824, 4927, 5914, 10254, 4905, 1, 716
    }
  };
  private static final int[] CLASS_HEAD = {0x0000_0000, 0x8000_0000, 0xC000_0000};
  private static final int[] CLASS_BITS = {1, 2, 3};

  /** The IPv4 table of lpm_perf_autotest's length mix, {@code count} routes. */
  public static Ipv4Routes ipv4(int count, int nextHops, long seed) {
    if (count < 1) {
      throw new IllegalArgumentException("IPv4 route count must be positive: " + count);
    }
    SplittableRandom random = new SplittableRandom(seed);
    long total = 0;
    for (int[] row : IPV4_COUNTS) {
      for (int n : row) {
        total += n;
      }
    }
    // Scale each (class, length) cell, bounded by the prefixes that exist there.
    int[][] cells = new int[3][32];
    long sum = 0;
    for (int c = 0; c < 3; c++) {
      for (int d = 1; d <= 32; d++) {
        long want = Math.round((double) IPV4_COUNTS[c][d - 1] * count / total);
        cells[c][d - 1] = (int) Math.min(want, capacity(c, d));
        sum += cells[c][d - 1];
      }
    }
    // Rounding leaves the sum a little off: settle the difference on the largest cells.
    int[][] order = {{2, 24}, {0, 24}, {1, 24}, {1, 16}, {2, 23}, {2, 22}, {2, 19}};
    for (int[] cell : order) {
      int c = cell[0];
      int d = cell[1];
      long room = sum < count ? capacity(c, d) - cells[c][d - 1] : cells[c][d - 1];
      int change = (int) Math.min(room, Math.abs(count - sum));
      cells[c][d - 1] += sum < count ? change : -change;
      sum += sum < count ? change : -change;
    }
    if (sum != count) {
      throw new IllegalArgumentException("cannot make " + count + " distinct IPv4 routes");
    }

    int[] address = new int[count];
    byte[] length = new byte[count];
    int at = 0;
    for (int c = 0; c < 3; c++) {
      for (int d = 1; d <= 32; d++) {
        int n = cells[c][d - 1];
        if (n == 0) {
          continue;
        }
        int bits = d - CLASS_BITS[c];
        for (long v : sample(random, 1L << bits, n)) {
          address[at] = CLASS_HEAD[c] | (int) (v << (32 - d));
          length[at] = (byte) d;
          at++;
        }
      }
    }
    int[] perm = permutation(random, count);
    int[] a = new int[count];
    byte[] l = new byte[count];
    int[] nh = new int[count];
    for (int i = 0; i < count; i++) {
      a[i] = address[perm[i]];
      l[i] = length[perm[i]];
      nh[i] = random.nextInt(nextHops);
    }
    return new Ipv4Routes(a, l, nh);
  }

  private static long capacity(int ipClass, int depth) {
    return depth < CLASS_BITS[ipClass] ? 0 : 1L << (depth - CLASS_BITS[ipClass]);
  }

  /** {@code n} distinct values in [0, range), in no particular order. */
  private static long[] sample(SplittableRandom random, long range, int n) {
    long[] out = new long[n];
    if ((long) n * 8 >= range) {
      // Dense: selection sampling (Knuth's algorithm S), one pass over the range.
      int got = 0;
      for (long v = 0; v < range && got < n; v++) {
        if (random.nextLong(range - v) < n - got) {
          out[got++] = v;
        }
      }
      return out;
    }
    Set<Long> seen = new HashSet<>();
    for (int got = 0; got < n; ) {
      long v = random.nextLong(range);
      if (seen.add(v)) {
        out[got++] = v;
      }
    }
    return out;
  }

  private static int[] permutation(SplittableRandom random, int n) {
    int[] p = new int[n];
    for (int i = 0; i < n; i++) {
      p[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  // IPv6 length mix, per mille.
  private static final int[] V6_LENGTHS = {24, 28, 29, 32, 36, 40, 44, 46, 47, 48, 56, 64, 128};
  private static final int[] V6_PER_MILLE = {3, 7, 30, 100, 40, 70, 80, 30, 30, 450, 60, 80, 20};

  private record Key(long hi, long lo, int length) {}

  /** A hierarchical IPv6 table of {@code count} routes; see the class comment. */
  public static Ipv6Routes ipv6(int count, int nextHops, long seed) {
    if (count < 1) {
      throw new IllegalArgumentException("IPv6 route count must be positive: " + count);
    }
    SplittableRandom random = new SplittableRandom(seed);
    int[] cells = new int[V6_LENGTHS.length];
    int sum = 0;
    for (int i = 0; i < cells.length; i++) {
      cells[i] = (int) ((long) V6_PER_MILLE[i] * count / 1000);
      sum += cells[i];
    }
    cells[9] += count - sum; // the /48s take the rounding
    long[] hi = new long[count];
    long[] lo = new long[count];
    int[] length = new int[count];
    Set<Key> seen = new HashSet<>();
    int at = 0;
    int allocations = 0;
    int from48 = 0;
    int to48 = 0;
    int from64 = 0;
    int to64 = 0;
    for (int i = 0; i < cells.length; i++) {
      int len = V6_LENGTHS[i];
      if (len == 48) {
        from48 = at;
      } else if (len == 64) {
        from64 = at;
      }
      for (int k = 0; k < cells[i]; k++) {
        for (int attempt = 0; ; attempt++) {
          long h;
          long l = 0;
          if (len <= 32) {
            h = 0x2000_0000_0000_0000L | (random.nextLong() >>> 3); // 2000::/3
          } else if (len <= 48 || to48 == from48) {
            int parent = allocations == 0 ? -1 : random.nextInt(allocations);
            h = parent < 0 ? 0x2000_0000_0000_0000L | (random.nextLong() >>> 3) : hi[parent];
            h |= random.nextLong() & ~Ipv6Masks.hi(parent < 0 ? 3 : length[parent]);
          } else if (len <= 64 || to64 == from64) {
            int parent = from48 + random.nextInt(to48 - from48);
            h = hi[parent] | (random.nextLong() & ~Ipv6Masks.hi(48));
          } else {
            int parent = from64 + random.nextInt(to64 - from64);
            h = hi[parent];
            l = random.nextLong();
          }
          h &= Ipv6Masks.hi(len);
          l &= Ipv6Masks.lo(len);
          if (seen.add(new Key(h, l, len))) {
            hi[at] = h;
            lo[at] = l;
            length[at] = len;
            at++;
            break;
          }
          if (attempt > 1000) {
            throw new IllegalStateException("cannot place a distinct /" + len + " route");
          }
        }
      }
      if (len <= 32) {
        allocations = at;
      } else if (len == 48) {
        to48 = at;
      } else if (len == 64) {
        to64 = at;
      }
    }
    int[] perm = permutation(random, count);
    long[] h = new long[count];
    long[] l = new long[count];
    int[] len = new int[count];
    int[] nh = new int[count];
    for (int i = 0; i < count; i++) {
      h[i] = hi[perm[i]];
      l[i] = lo[perm[i]];
      len[i] = length[perm[i]];
      nh[i] = random.nextInt(nextHops);
    }
    return new Ipv6Routes(h, l, len, nh);
  }

  /** IPv6 prefix masks, split in halves. */
  static final class Ipv6Masks {
    private Ipv6Masks() {}

    static long hi(int length) {
      return length <= 0 ? 0 : length >= 64 ? -1L : -1L << (64 - length);
    }

    static long lo(int length) {
      return length <= 64 ? 0 : length >= 128 ? -1L : -1L << (128 - length);
    }
  }

  /** IPv4 lookup addresses; {@code hitFraction} of them inside a random installed prefix. */
  public static int[] ipv4Lookups(Ipv4Routes routes, int count, double hitFraction, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    int[] out = new int[count];
    for (int i = 0; i < count; i++) {
      if (random.nextDouble() < hitFraction) {
        int r = random.nextInt(routes.size());
        int hostMask = (int) (0xFFFF_FFFFL >>> routes.length()[r]);
        out[i] = routes.address()[r] | (random.nextInt() & hostMask);
      } else {
        out[i] = random.nextInt();
      }
    }
    return out;
  }

  /** IPv6 lookup addresses; {@code hitFraction} of them inside a random installed prefix. */
  public static Ipv6Addresses ipv6Lookups(
      Ipv6Routes routes, int count, double hitFraction, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    long[] hi = new long[count];
    long[] lo = new long[count];
    for (int i = 0; i < count; i++) {
      if (random.nextDouble() < hitFraction) {
        int r = random.nextInt(routes.size());
        int len = routes.length()[r];
        hi[i] = routes.hi()[r] | (random.nextLong() & ~Ipv6Masks.hi(len));
        lo[i] = routes.lo()[r] | (random.nextLong() & ~Ipv6Masks.lo(len));
      } else {
        hi[i] = random.nextLong();
        lo[i] = random.nextLong();
      }
    }
    return new Ipv6Addresses(hi, lo);
  }

  /** tbl8 groups a DIR-24-8 table needs: the /24s holding a route longer than /24. */
  public static int ipv4Tbl8Need(Ipv4Routes routes) {
    Set<Integer> slots = new HashSet<>();
    for (int i = 0; i < routes.size(); i++) {
      if (routes.length()[i] > 24) {
        slots.add(routes.address()[i] >>> 8);
      }
    }
    return slots.size();
  }

  /**
   * Nodes a multibit trie with a {@code firstStride}-bit root and 8-bit strides below needs without
   * folding: one per distinct prefix of length {@code firstStride + 8k} covering a longer route.
   * For rte_fib6 TRIE (first stride 24) that is its tbl8 count; for flatnet's Ipv6Fib (16) its
   * nodes.
   */
  public static int ipv6NodeNeed(Ipv6Routes routes, int firstStride) {
    Set<Key> nodes = new HashSet<>();
    for (int i = 0; i < routes.size(); i++) {
      int len = routes.length()[i];
      for (int level = firstStride; level < len; level += 8) {
        nodes.add(
            new Key(
                routes.hi()[i] & Ipv6Masks.hi(level), routes.lo()[i] & Ipv6Masks.lo(level), level));
      }
    }
    return nodes.size();
  }

  /**
   * How many tbl8s rte_fib6's TRIE needs ({@code num_tbl8}) to accept these routes added in this
   * order, with next hops equal where {@link Ipv6Routes#nh()} is. DPDK 22.11 (lib/fib/trie.c)
   * admits a route longer than /24 only if its running reservation plus the route's own stays below
   * {@code num_tbl8}: a route reserves one tbl8 per 8-bit level between its longest covering route
   * (at least /24) and itself, unless a route already lies inside its prefix truncated to a
   * multiple of 8, and keeps the reservation only if the covering route's next hop differs. This
   * replays that rule; it is an upper bound, measured at most a few tbl8s above the true minimum
   * (RteFibDifferentialTest checks that).
   */
  public static int ipv6TrieReservation(Ipv6Routes routes) {
    Map<Key, Integer> installed = new HashMap<>(); // routes added so far -> next hop
    Set<Key> inside = new HashSet<>(); // (p, L): some added route longer than L starts with p
    boolean[] lengthsSeen = new boolean[129];
    long reserved = 0;
    long need = 0;
    for (int i = 0; i < routes.size(); i++) {
      long hi = routes.hi()[i];
      long lo = routes.lo()[i];
      int depth = routes.length()[i];
      int parent = -1;
      int parentNh = -1;
      for (int d = depth - 1; d >= 0 && parent < 0; d--) {
        if (lengthsSeen[d]) {
          Integer nh = installed.get(new Key(hi & Ipv6Masks.hi(d), lo & Ipv6Masks.lo(d), d));
          if (nh != null) {
            parent = d;
            parentNh = nh;
          }
        }
      }
      if (depth > 24) {
        int floor = depth & ~7;
        int diff = 0;
        if (!inside.contains(new Key(hi & Ipv6Masks.hi(floor), lo & Ipv6Masks.lo(floor), floor))) {
          diff = (ceil8(depth) - ceil8(Math.max(parent, 24))) / 8;
        }
        need = Math.max(need, reserved + diff + 1);
        if (parentNh != routes.nh()[i]) {
          reserved += diff;
        }
      }
      installed.put(new Key(hi, lo, depth), routes.nh()[i]);
      lengthsSeen[depth] = true;
      for (int l = 0; l < depth; l += 8) {
        inside.add(new Key(hi & Ipv6Masks.hi(l), lo & Ipv6Masks.lo(l), l));
      }
    }
    return (int) Math.min(Integer.MAX_VALUE, need);
  }

  private static int ceil8(int x) {
    return (x + 7) & ~7;
  }

  /** Routes per prefix length 0..maxLength. */
  public static int[] lengthHistogram(int[] lengths, int maxLength) {
    int[] h = new int[maxLength + 1];
    for (int l : lengths) {
      h[l]++;
    }
    return h;
  }

  public static int[] lengthHistogram(byte[] lengths, int maxLength) {
    int[] wide = new int[lengths.length];
    for (int i = 0; i < lengths.length; i++) {
      wide[i] = lengths[i];
    }
    return lengthHistogram(wide, maxLength);
  }

  /**
   * The index of the longest route covering {@code address}, or -1 (brute force).
   *
   * @param absent routes to skip (deleted), or null
   */
  static int referenceIpv4(Ipv4Routes routes, boolean[] absent, int address) {
    int best = -1;
    int bestLen = -1;
    for (int i = 0; i < routes.size(); i++) {
      if (absent != null && absent[i]) {
        continue;
      }
      int len = routes.length()[i];
      int mask = len == 0 ? 0 : -1 << (32 - len);
      if ((address & mask) == routes.address()[i] && len > bestLen) {
        best = i;
        bestLen = len;
      }
    }
    return best;
  }

  /** The index of the longest route covering {@code hi:lo}, or -1 (brute force). */
  static int referenceIpv6(Ipv6Routes routes, boolean[] absent, long hi, long lo) {
    int best = -1;
    int bestLen = -1;
    for (int i = 0; i < routes.size(); i++) {
      if (absent != null && absent[i]) {
        continue;
      }
      int len = routes.length()[i];
      if ((hi & Ipv6Masks.hi(len)) == routes.hi()[i]
          && (lo & Ipv6Masks.lo(len)) == routes.lo()[i]
          && len > bestLen) {
        best = i;
        bestLen = len;
      }
    }
    return best;
  }
}
