package io.flatnet.perf.lpm;

import io.flatnet.route.Ipv4Fib;
import io.flatnet.route.Ipv6Fib;
import io.flatnet.route.Ipv6Prefix;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.QsbrDomain;
import java.util.Random;

/** Route sets and address streams for the LPM benchmarks. */
public final class LpmRoutes {

  private LpmRoutes() {}

  /** Rules per depth 1..32 for IPv4 classes A, B, C, as in DPDK's test_lpm_routes.c. */
  private static final int[][] CLASS_DEPTH_RULES = {
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

  /** IPv4 routes as parallel arrays. */
  public record V4(int[] addresses, int[] lengths) {
    public int size() {
      return addresses.length;
    }
  }

  /**
   * About 1.08M IPv4 prefixes (1.03M distinct) with the depth distribution of DPDK's
   * lpm_perf_autotest: per class and depth, evenly spaced prefixes from a random start.
   */
  public static V4 dpdkLikeIpv4(Random rnd) {
    int total = 0;
    for (int[] c : CLASS_DEPTH_RULES) {
      for (int n : c) {
        total += n;
      }
    }
    int[] addresses = new int[total];
    int[] lengths = new int[total];
    int k = 0;
    int[] fixedBits = {1, 2, 3};
    int[] head = {0x0000_0000, 0x8000_0000, 0xC000_0000};
    for (int cls = 0; cls < 3; cls++) {
      for (int depth = 1; depth <= 32; depth++) {
        int rules = CLASS_DEPTH_RULES[cls][depth - 1];
        if (rules == 0) {
          continue;
        }
        long range = 1L << (depth - fixedBits[cls]);
        long mask = range - 1;
        long step = range <= rules ? 1 : Math.round((double) range / rules);
        long start = rnd.nextInt() & mask;
        for (int r = 0; r < rules; r++) {
          addresses[k] = (int) (start << (32 - depth)) | head[cls];
          lengths[k] = depth;
          k++;
          start = (start + step) & mask;
        }
      }
    }
    return new V4(addresses, lengths);
  }

  /**
   * IPv6 routes: 20% internet-like (/32 allocations and /48 sites under a few /16 blocks), 80%
   * Kubernetes-like (a /64 pod CIDR per node plus sequential /128 pod routes).
   */
  public static Ipv6Prefix[] ipv6Mix(Random rnd, int count) {
    Ipv6Prefix[] out = new Ipv6Prefix[count];
    int internet = count / 5;
    long[] blocks = {0x2001, 0x2400, 0x2600, 0x2800, 0x2a00, 0x2c00};
    int[] lirs = new int[1000];
    for (int i = 0; i < lirs.length; i++) {
      lirs[i] = rnd.nextInt(1 << 16);
    }
    int k = 0;
    while (k < internet) {
      long hi =
          blocks[rnd.nextInt(blocks.length)] << 48 | (long) lirs[rnd.nextInt(lirs.length)] << 32;
      int len = rnd.nextInt(10) < 2 ? 32 : 48;
      if (len == 48) {
        hi |= (long) rnd.nextInt(1 << 16) << 16;
      }
      out[k++] = new Ipv6Prefix(hi, 0, len);
    }
    for (int node = 0; k < count; node++) {
      long hi = 0xfd00_0010_0244_0000L | node;
      out[k++] = new Ipv6Prefix(hi, 0, 64);
      for (int p = 1; p <= 159 && k < count; p++) {
        out[k++] = new Ipv6Prefix(hi, p, 128);
      }
    }
    return out;
  }

  /** Next hops 1..n, all forwarding. */
  public static int[] nextHops(NextHopTable nht, int n) {
    int[] nhs = new int[n];
    for (int i = 0; i < n; i++) {
      nhs[i] = nht.addForward(i % 16, 0x0200_0000_0000L + i, 0x0200_0000_1000L + i % 16);
    }
    return nhs;
  }

  /** A FIB loaded with {@code routes}, both copies up to date. */
  public static Ipv4Fib ipv4Fib(QsbrDomain domain, NextHopTable nht, int[] nhs, V4 routes) {
    Ipv4Fib fib = new Ipv4Fib(domain, nht, 1 << 16);
    Ipv4Fib.Batch batch = fib.batch();
    for (int i = 0; i < routes.size(); i++) {
      batch.add(routes.addresses()[i], routes.lengths()[i], nhs[i % nhs.length]);
    }
    batch.commit();
    // A second (real) commit replays the first onto the spare copy: steady state.
    fib.batch().add(0xF000_0000, 4, nhs[0]).commit();
    return fib;
  }

  /** A FIB loaded with {@code routes}. */
  public static Ipv6Fib ipv6Fib(
      QsbrDomain domain, NextHopTable nht, int[] nhs, Ipv6Prefix[] routes) {
    Ipv6Fib fib = new Ipv6Fib(domain, nht, 1 << 20);
    Ipv6Fib.Batch batch = fib.batch();
    for (int i = 0; i < routes.length; i++) {
      batch.add(routes[i], nhs[i % nhs.length]);
    }
    batch.commit();
    return fib;
  }

  /** Uniformly random IPv4 addresses over the whole space (as lpm_perf_autotest). */
  public static int[] randomIpv4(Random rnd, int n) {
    int[] a = new int[n];
    for (int i = 0; i < n; i++) {
      a[i] = rnd.nextInt();
    }
    return a;
  }

  /**
   * IPv6 destinations: random addresses inside randomly chosen routes (a random 128-bit address
   * would almost always miss at the root and measure nothing).
   *
   * @return {hi[], lo[]}
   */
  public static long[][] ipv6InRoutes(Random rnd, Ipv6Prefix[] routes, int n) {
    long[] hi = new long[n];
    long[] lo = new long[n];
    for (int i = 0; i < n; i++) {
      Ipv6Prefix p = routes[rnd.nextInt(routes.length)];
      hi[i] = p.hi() | (rnd.nextLong() & ~Ipv6Prefix.maskHi(p.length()));
      lo[i] = p.lo() | (rnd.nextLong() & ~Ipv6Prefix.maskLo(p.length()));
    }
    return new long[][] {hi, lo};
  }
}
