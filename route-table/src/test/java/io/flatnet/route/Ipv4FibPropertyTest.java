package io.flatnet.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Random batches of adds, deletes, re-adds and absent deletes, checked against {@link RefLpm4} on
 * random and adversarial addresses after every commit. Set -Dflatnet.seed=N to replay one seed.
 */
class Ipv4FibPropertyTest {

  private static final int[] LENGTHS = {
    0, 1, 2, 7, 8, 9, 12, 15, 16, 17, 20, 23, 24, 24, 24, 25, 26, 27, 28, 29, 30, 31, 32, 32
  };

  @Test
  void randomBatchesMatchReference() {
    String fixed = System.getProperty("flatnet.seed");
    long base = fixed != null ? Long.parseLong(fixed) : System.nanoTime();
    int seeds = fixed != null ? 1 : 3;
    for (int s = 0; s < seeds; s++) {
      long seed = base + s;
      try {
        run(seed, 40);
      } catch (AssertionError | RuntimeException e) {
        System.err.println("Ipv4FibPropertyTest failed with seed " + seed);
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
    try (Ipv4Fib fib = new Ipv4Fib(domain, nht, 2048)) {
      RefLpm4 ref = new RefLpm4();
      for (int round = 0; round < rounds; round++) {
        Ipv4Fib.Batch batch = fib.batch();
        RefLpm4 next = ref.copy();
        List<Ipv4Prefix> known = new ArrayList<>(next.routes.keySet());
        int ops = rnd.nextInt(10) == 0 ? 200 + rnd.nextInt(300) : 1 + rnd.nextInt(30);
        for (int i = 0; i < ops; i++) {
          double r = rnd.nextDouble();
          if (r < 0.5 || known.isEmpty()) {
            Ipv4Prefix p = randomPrefix(rnd);
            int nh = nhs[rnd.nextInt(nhs.length)];
            batch.add(p, nh);
            next.put(p, nh);
            known.add(p);
          } else if (r < 0.7) {
            Ipv4Prefix p = known.get(rnd.nextInt(known.size()));
            batch.delete(p);
            next.remove(p);
          } else if (r < 0.8) {
            Ipv4Prefix p = randomPrefix(rnd); // usually absent: must be a no-op
            batch.delete(p);
            next.remove(p);
          } else if (r < 0.85) {
            // The sibling of a known prefix, same next hop: together they may fill a node.
            Ipv4Prefix p = known.get(rnd.nextInt(known.size()));
            if (p.length() > 0) {
              Ipv4Prefix s = sibling(p);
              int nh = next.routes.getOrDefault(p, nhs[0]);
              batch.add(s, nh);
              next.put(s, nh);
              known.add(s);
            }
          } else if (r < 0.9) {
            Ipv4Prefix p = known.get(rnd.nextInt(known.size())); // re-add, maybe another nh
            int nh = nhs[rnd.nextInt(nhs.length)];
            batch.add(p, nh);
            next.put(p, nh);
          } else {
            Ipv4Prefix p = nested(rnd, known.get(rnd.nextInt(known.size())));
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
      // Drain to empty: every entry must go back to NO_ROUTE (and all tbl8 groups freed).
      Ipv4Fib.Batch batch = fib.batch();
      ref.routes.keySet().forEach(batch::delete);
      batch.commit();
      ref = new RefLpm4();
      check(fib, ref, rnd, rounds);
      assertEquals(0, fib.tbl8GroupsInUse());
      for (int nh : nhs) {
        assertEquals(1, nht.refCount(nh), "only the test's own reference is left");
      }
    }
  }

  static Ipv4Prefix randomPrefix(Random rnd) {
    int len = rnd.nextInt(4) == 0 ? rnd.nextInt(33) : LENGTHS[rnd.nextInt(LENGTHS.length)];
    if (len == 0 && rnd.nextInt(8) != 0) {
      len = 24; // keep /0 (16M entries per copy) occasional
    }
    int zone = rnd.nextInt(10);
    int a;
    if (zone < 6) {
      a = 0x0A01_0000 | rnd.nextInt(1 << 16); // 10.1/16: dense nesting and shared tbl8 groups
    } else if (zone < 8) {
      a = 0x0A00_0000 | rnd.nextInt(1 << 24);
    } else {
      a = rnd.nextInt();
    }
    return new Ipv4Prefix(a & Ipv4Prefix.mask(len), len);
  }

  static Ipv4Prefix nested(Random rnd, Ipv4Prefix outer) {
    if (outer.length() == 32) {
      return outer;
    }
    int len = outer.length() + 1 + rnd.nextInt(32 - outer.length());
    int a = outer.address() | (rnd.nextInt() & ~Ipv4Prefix.mask(outer.length()));
    return new Ipv4Prefix(a & Ipv4Prefix.mask(len), len);
  }

  static Ipv4Prefix sibling(Ipv4Prefix p) {
    return new Ipv4Prefix(p.address() ^ (1 << (32 - p.length())), p.length());
  }

  static void check(Ipv4Fib fib, RefLpm4 ref, Random rnd, int round) {
    List<Integer> probes = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      probes.add(randomPrefix(rnd).address() | rnd.nextInt(256));
      probes.add(rnd.nextInt());
    }
    int n = 0;
    for (Ipv4Prefix p : ref.routes.keySet()) {
      if (n++ > 400) {
        break;
      }
      int first = p.first();
      int last = p.last();
      int[] edges = {
        first, last, first - 1, last + 1, first + 1, last - 1, first | 0xFF, last & ~0xFF
      };
      for (int e : edges) {
        probes.add(e);
      }
    }
    probes.add(0);
    probes.add(-1);
    int[] dst = new int[32];
    int[] got = new int[32];
    for (int i = 0; i < probes.size(); i += 32) {
      int count = Math.min(32, probes.size() - i);
      for (int k = 0; k < count; k++) {
        dst[k] = probes.get(i + k);
      }
      fib.lookupBulk(dst, got, count);
      for (int k = 0; k < count; k++) {
        int want = ref.lookup(dst[k]);
        int scalar = fib.lookup(dst[k]);
        if (scalar != want || got[k] != want) {
          fail(
              "round "
                  + round
                  + ": lookup("
                  + Ipv4Prefix.format(dst[k])
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
}
