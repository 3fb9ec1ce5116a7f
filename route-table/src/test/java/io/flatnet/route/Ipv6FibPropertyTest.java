package io.flatnet.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Random batches against {@link RefLpm6}, on random and adversarial addresses after every commit.
 * Set -Dflatnet.seed=N to replay one seed.
 */
class Ipv6FibPropertyTest {

  private static final int[] LENGTHS = {
    0, 1, 3, 8, 15, 16, 17, 23, 24, 25, 31, 32, 33, 40, 44, 47, 48, 48, 49, 56, 60, 63, 64, 64, 65,
    72, 80, 96, 112, 119, 120, 121, 127, 128, 128
  };

  @Test
  void randomBatchesMatchReference() {
    String fixed = System.getProperty("flatnet.seed");
    long base = fixed != null ? Long.parseLong(fixed) : System.nanoTime();
    int seeds = fixed != null ? 1 : 4;
    for (int s = 0; s < seeds; s++) {
      long seed = base + s;
      try {
        run(seed, 40);
      } catch (AssertionError | RuntimeException e) {
        System.err.println("Ipv6FibPropertyTest failed with seed " + seed);
        throw new AssertionError("seed " + seed + " (-Dflatnet.seed=" + seed + "): " + e, e);
      }
    }
  }

  static void run(long seed, int rounds) {
    Random rnd = new Random(seed);
    QsbrDomain domain = new QsbrDomain();
    NextHopTable nht = new NextHopTable(64, domain);
    // Few next hops on odd seeds: equal neighbours make uniform nodes, which get folded.
    int[] nhs = new int[(seed & 1) == 0 ? 8 : 2];
    for (int i = 0; i < nhs.length; i++) {
      nhs[i] = nht.addForward(i, 0x0200_0000_0000L + i, 0x0200_0000_1000L + i);
    }
    try (Ipv6Fib fib = new Ipv6Fib(domain, nht, 1 << 16)) {
      RefLpm6 ref = new RefLpm6();
      for (int round = 0; round < rounds; round++) {
        Ipv6Fib.Batch batch = fib.batch();
        RefLpm6 next = ref.copy();
        List<Ipv6Prefix> known = new ArrayList<>(next.routes.keySet());
        int ops = rnd.nextInt(10) == 0 ? 200 + rnd.nextInt(200) : 1 + rnd.nextInt(30);
        for (int i = 0; i < ops; i++) {
          double r = rnd.nextDouble();
          if (r < 0.5 || known.isEmpty()) {
            Ipv6Prefix p = randomPrefix(rnd);
            int nh = nhs[rnd.nextInt(nhs.length)];
            batch.add(p, nh);
            next.put(p, nh);
            known.add(p);
          } else if (r < 0.7) {
            Ipv6Prefix p = known.get(rnd.nextInt(known.size()));
            batch.delete(p);
            next.remove(p);
          } else if (r < 0.8) {
            Ipv6Prefix p = randomPrefix(rnd);
            batch.delete(p);
            next.remove(p);
          } else if (r < 0.85) {
            // The sibling of a known prefix, same next hop: together they may fill a node.
            Ipv6Prefix p = known.get(rnd.nextInt(known.size()));
            if (p.length() > 0) {
              Ipv6Prefix s = sibling(p);
              int nh = next.routes.getOrDefault(p, nhs[0]);
              batch.add(s, nh);
              next.put(s, nh);
              known.add(s);
            }
          } else if (r < 0.9) {
            Ipv6Prefix p = known.get(rnd.nextInt(known.size()));
            int nh = nhs[rnd.nextInt(nhs.length)];
            batch.add(p, nh);
            next.put(p, nh);
          } else {
            Ipv6Prefix p = nested(rnd, known.get(rnd.nextInt(known.size())));
            int nh = nhs[rnd.nextInt(nhs.length)];
            batch.add(p, nh);
            next.put(p, nh);
            known.add(p);
          }
        }
        batch.commit();
        ref = next;
        assertEquals(ref.routes.size(), fib.routeCount(), "route count after round " + round);
        check(fib, ref, rnd, round);
      }
      Ipv6Fib.Batch batch = fib.batch();
      ref.routes.keySet().forEach(batch::delete);
      batch.commit();
      check(fib, new RefLpm6(), rnd, rounds);
      fib.batch().commit(); // an empty commit reclaims what the last one retired
      assertEquals(0, fib.nodesInUse(), "an empty trie folds back to the root alone");
      for (int nh : nhs) {
        assertEquals(1, nht.refCount(nh), "only the test's own reference is left");
      }
    }
  }

  /**
   * One route per commit, as a control plane adding routes one by one does, under a node limit
   * small enough that some commits fail: each commit starts from the root of the one before it
   * (only the root entries the last batch wrote are replayed), and a failed commit must leave the
   * next one a clean start.
   */
  @Test
  void singleRouteCommitsAndFailuresMatchReference() {
    String fixed = System.getProperty("flatnet.seed");
    long seed = fixed != null ? Long.parseLong(fixed) : System.nanoTime();
    Random rnd = new Random(seed);
    QsbrDomain domain = new QsbrDomain();
    NextHopTable nht = new NextHopTable(64, domain);
    int[] nhs = new int[4];
    for (int i = 0; i < nhs.length; i++) {
      nhs[i] = nht.addForward(i, 0x0200_0000_0000L + i, 0x0200_0000_1000L + i);
    }
    int failures = 0;
    try (Ipv6Fib fib = new Ipv6Fib(domain, nht, 400)) {
      RefLpm6 ref = new RefLpm6();
      List<Ipv6Prefix> known = new ArrayList<>();
      for (int step = 0; step < 3000; step++) {
        Ipv6Fib.Batch batch = fib.batch();
        if (rnd.nextInt(3) == 0 && !known.isEmpty()) {
          int k = rnd.nextInt(known.size());
          Ipv6Prefix p = known.get(k);
          batch.delete(p);
          try {
            batch.commit(); // copy-on-write: even a delete may need nodes
            ref.remove(p);
            known.remove(k);
          } catch (RouteTableFullException e) {
            failures++;
          }
        } else {
          Ipv6Prefix p = randomPrefix(rnd);
          int nh = nhs[rnd.nextInt(nhs.length)];
          batch.add(p, nh);
          try {
            batch.commit();
            ref.put(p, nh);
            known.add(p);
          } catch (RouteTableFullException e) {
            failures++;
          }
        }
        if (step % 50 == 0 || step > 2950) {
          try {
            check(fib, ref, rnd, step);
          } catch (AssertionError e) {
            throw new AssertionError("seed " + seed + " (-Dflatnet.seed=" + seed + "): " + e, e);
          }
        }
      }
    }
    assertTrue(failures > 0, "the node limit was reached at least once (seed " + seed + ")");
  }

  static Ipv6Prefix randomPrefix(Random rnd) {
    int len = rnd.nextInt(4) == 0 ? rnd.nextInt(129) : LENGTHS[rnd.nextInt(LENGTHS.length)];
    long hi;
    long lo;
    int zone = rnd.nextInt(10);
    if (zone < 6) {
      // fd00:1:X:Y::Z with few distinct values: lots of shared paths, nesting and folding.
      hi = 0xfd00_0001_0000_0000L | ((long) rnd.nextInt(8) << 16) | rnd.nextInt(4);
      lo = ((long) rnd.nextInt(4) << 62) | rnd.nextInt(512);
    } else if (zone < 8) {
      hi = 0xfd00_0000_0000_0000L | (rnd.nextLong() >>> 16);
      lo = rnd.nextLong();
    } else {
      hi = rnd.nextLong();
      lo = rnd.nextLong();
    }
    return new Ipv6Prefix(hi & Ipv6Prefix.maskHi(len), lo & Ipv6Prefix.maskLo(len), len);
  }

  static Ipv6Prefix nested(Random rnd, Ipv6Prefix outer) {
    if (outer.length() == 128) {
      return outer;
    }
    int len = outer.length() + 1 + rnd.nextInt(Math.min(40, 128 - outer.length()));
    long hi = outer.hi() | (rnd.nextLong() & ~Ipv6Prefix.maskHi(outer.length()));
    long lo = outer.lo() | (rnd.nextLong() & ~Ipv6Prefix.maskLo(outer.length()));
    return new Ipv6Prefix(hi & Ipv6Prefix.maskHi(len), lo & Ipv6Prefix.maskLo(len), len);
  }

  static void check(Ipv6Fib fib, RefLpm6 ref, Random rnd, int round) {
    List<long[]> probes = new ArrayList<>();
    for (int i = 0; i < 400; i++) {
      Ipv6Prefix p = randomPrefix(rnd);
      probes.add(new long[] {p.hi(), p.lo() | rnd.nextInt(256)});
      probes.add(new long[] {rnd.nextLong(), rnd.nextLong()});
    }
    int n = 0;
    for (Ipv6Prefix p : ref.routes.keySet()) {
      if (n++ > 300) {
        break;
      }
      probes.add(new long[] {p.hi(), p.lo()});
      probes.add(new long[] {p.lastHi(), p.lastLo()});
      probes.add(minusOne(p.hi(), p.lo()));
      probes.add(plusOne(p.lastHi(), p.lastLo()));
      probes.add(plusOne(p.hi(), p.lo()));
      probes.add(minusOne(p.lastHi(), p.lastLo()));
    }
    probes.add(new long[] {0, 0});
    probes.add(new long[] {-1, -1});
    long[] hi = new long[32];
    long[] lo = new long[32];
    int[] got = new int[32];
    for (int i = 0; i < probes.size(); i += 32) {
      int count = Math.min(32, probes.size() - i);
      for (int k = 0; k < count; k++) {
        hi[k] = probes.get(i + k)[0];
        lo[k] = probes.get(i + k)[1];
      }
      fib.lookupBulk(hi, lo, got, count);
      for (int k = 0; k < count; k++) {
        int want = ref.lookup(hi[k], lo[k]);
        int scalar = fib.lookup(hi[k], lo[k]);
        if (scalar != want || got[k] != want) {
          fail(
              "round "
                  + round
                  + ": lookup("
                  + Ipv6Prefix.format(hi[k], lo[k])
                  + ") scalar="
                  + scalar
                  + " bulk="
                  + got[k]
                  + " want="
                  + want
                  + " routes="
                  + (ref.routes.size() < 40 ? ref.routes : ref.routes.size()));
        }
      }
    }
  }

  static Ipv6Prefix sibling(Ipv6Prefix p) {
    int bit = 128 - p.length(); // the prefix's last bit, counted from the address's low end
    return bit >= 64
        ? new Ipv6Prefix(p.hi() ^ (1L << (bit - 64)), p.lo(), p.length())
        : new Ipv6Prefix(p.hi(), p.lo() ^ (1L << bit), p.length());
  }

  static long[] plusOne(long hi, long lo) {
    return lo == -1L ? new long[] {hi + 1, 0} : new long[] {hi, lo + 1};
  }

  static long[] minusOne(long hi, long lo) {
    return lo == 0 ? new long[] {hi - 1, -1L} : new long[] {hi, lo - 1};
  }
}
