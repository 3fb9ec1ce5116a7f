package io.flatnet.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.junit.jupiter.api.Test;

/**
 * One reader thread looks up while the writer churns batches. The writer records, before each
 * commit, the reference answers for every probe address at the generation it is about to publish.
 * The reader reads the generation before and after each lookup; the answer must be the reference
 * answer of some generation in [before, after + 1] (the +1: the table is published just before the
 * counter is bumped). For IPv6, whose batches are published with one store, a bulk lookup must
 * match one single generation for all 32 addresses: batches repaint whole groups of routes, so a
 * mix of two versions would show. IPv4 updates its one table in place, atomically per destination
 * only (see {@link Ipv4Fib}): each of the 32 answers must match some generation in the window, and
 * a second test churns tbl8 groups (created, unlinked, reused under a small limit) so that a reader
 * still in a group the writer recycled too early would show a next hop that no generation gave.
 */
class ConcurrencyTest {

  private static final int PROBES = 256;
  private static final int GROUPS = 3;

  /** What the harness needs from a FIB under test. */
  private interface Subject {
    int prefixes();

    /** Stage an add or delete of universe prefix {@code i} (nh 0 = delete). */
    void stage(int i, int nh);

    long commit();

    long generation();

    /** Reference answers for every probe, for the staged state. */
    int[] expected();

    void lookupBulk(int from, int[] out); // 32 probes starting at `from`

    int lookup(int probe);
  }

  @Test
  void ipv4ReadersSeeOldOrNewAnswerPerDestination() throws Exception {
    long seed = System.nanoTime();
    Random rnd = new Random(seed);
    QsbrDomain domain = new QsbrDomain();
    NextHopTable nht = new NextHopTable(16, domain);
    int[] colors = colors(nht, 6);
    // A universe of nested/overlapping prefixes in 10.1/16, plus a /8 and a /0.
    LinkedHashSet<Ipv4Prefix> set = new LinkedHashSet<>();
    set.add(Ipv4Prefix.parse("10.1.0.0/16"));
    set.add(Ipv4Prefix.parse("10.0.0.0/8"));
    set.add(Ipv4Prefix.parse("10.1.2.0/24"));
    while (set.size() < 48) {
      int len = 17 + rnd.nextInt(16);
      int a = 0x0A01_0000 | rnd.nextInt(1 << 12);
      set.add(new Ipv4Prefix(a & Ipv4Prefix.mask(len), len));
    }
    try (Ipv4Fib fib = new Ipv4Fib(domain, nht, 256)) {
      run(
          ipv4Subject(fib, new ArrayList<>(set), rnd),
          domain,
          colors,
          rnd,
          seed,
          300,
          false,
          false);
    }
  }

  /**
   * tbl8 churn: 8 /24s, each holding a few long routes that come and go, under an 8-group limit (so
   * unlinked groups are reused, some in the batch that unlinked another) and /20../24 routes over
   * them that repaint the groups in place. Every answer must be one some generation gave.
   */
  @Test
  void ipv4Tbl8ChurnNeverShowsARecycledGroup() throws Exception {
    long seed = System.nanoTime();
    Random rnd = new Random(seed);
    QsbrDomain domain = new QsbrDomain();
    NextHopTable nht = new NextHopTable(64, domain);
    int[] colors = colors(nht, 40);
    LinkedHashSet<Ipv4Prefix> set = new LinkedHashSet<>();
    set.add(Ipv4Prefix.parse("10.2.0.0/16")); // prefix 0: repainted by every batch
    set.add(Ipv4Prefix.parse("10.2.0.0/21"));
    set.add(Ipv4Prefix.parse("10.2.4.0/22"));
    for (int slot = 0; slot < 8; slot++) {
      set.add(new Ipv4Prefix(0x0A02_0000 | (slot << 8), 24));
      for (int k = 0; k < 5; k++) {
        int len = 25 + rnd.nextInt(8);
        int a = 0x0A02_0000 | (slot << 8) | rnd.nextInt(256);
        set.add(new Ipv4Prefix(a & Ipv4Prefix.mask(len), len));
      }
    }
    try (Ipv4Fib fib = new Ipv4Fib(domain, nht, 8)) {
      run(ipv4Subject(fib, new ArrayList<>(set), rnd), domain, colors, rnd, seed, 600, false, true);
    }
  }

  private static Subject ipv4Subject(Ipv4Fib fib, List<Ipv4Prefix> universe, Random rnd) {
    int[] probes = new int[PROBES];
    for (int i = 0; i < PROBES; i++) {
      Ipv4Prefix p = universe.get(i % universe.size());
      probes[i] =
          switch (i % 4) {
            case 0 -> p.first();
            case 1 -> p.last();
            case 2 -> p.last() + 1;
            default -> (p.address() & 0xFFFF_F000) | rnd.nextInt(1 << 12);
          };
    }
    RefLpm4 ref = new RefLpm4();
    Ipv4Fib.Batch[] batch = {fib.batch()};
    return new Subject() {
      @Override
      public int prefixes() {
        return universe.size();
      }

      @Override
      public void stage(int i, int nh) {
        Ipv4Prefix p = universe.get(i);
        if (nh == 0) {
          batch[0].delete(p);
          ref.remove(p);
        } else {
          batch[0].add(p, nh);
          ref.put(p, nh);
        }
      }

      @Override
      public long commit() {
        return batch[0].commit();
      }

      @Override
      public long generation() {
        return fib.generation();
      }

      @Override
      public int[] expected() {
        int[] e = new int[PROBES];
        for (int i = 0; i < PROBES; i++) {
          e[i] = ref.lookup(probes[i]);
        }
        return e;
      }

      private final int[] window = new int[32];

      @Override
      public void lookupBulk(int from, int[] out) {
        System.arraycopy(probes, from, window, 0, 32);
        fib.lookupBulk(window, out, 32);
      }

      @Override
      public int lookup(int probe) {
        return fib.lookup(probes[probe]);
      }
    };
  }

  @Test
  void ipv6ReadersSeeWholeBatches() throws Exception {
    long seed = System.nanoTime();
    Random rnd = new Random(seed);
    QsbrDomain domain = new QsbrDomain();
    NextHopTable nht = new NextHopTable(16, domain);
    int[] colors = colors(nht, 6);
    LinkedHashSet<Ipv6Prefix> set = new LinkedHashSet<>();
    set.add(Ipv6Prefix.parse("fd00::/16"));
    set.add(Ipv6Prefix.parse("fd00:1::/32"));
    set.add(Ipv6Prefix.parse("fd00:1::/64"));
    while (set.size() < 48) {
      int len = 33 + rnd.nextInt(96);
      long hi = 0xfd00_0001_0000_0000L | rnd.nextInt(4);
      long lo = ((long) rnd.nextInt(4) << 62) | rnd.nextInt(64);
      set.add(new Ipv6Prefix(hi & Ipv6Prefix.maskHi(len), lo & Ipv6Prefix.maskLo(len), len));
    }
    List<Ipv6Prefix> universe = new ArrayList<>(set);
    long[] probeHi = new long[PROBES];
    long[] probeLo = new long[PROBES];
    for (int i = 0; i < PROBES; i++) {
      Ipv6Prefix p = universe.get(i % universe.size());
      switch (i % 3) {
        case 0 -> {
          probeHi[i] = p.hi();
          probeLo[i] = p.lo();
        }
        case 1 -> {
          probeHi[i] = p.lastHi();
          probeLo[i] = p.lastLo();
        }
        default -> {
          probeHi[i] = 0xfd00_0001_0000_0000L | rnd.nextInt(4);
          probeLo[i] = ((long) rnd.nextInt(4) << 62) | rnd.nextInt(64);
        }
      }
    }
    try (Ipv6Fib fib = new Ipv6Fib(domain, nht, 1 << 14)) {
      RefLpm6 ref = new RefLpm6();
      Ipv6Fib.Batch[] batch = {fib.batch()};
      Subject s =
          new Subject() {
            @Override
            public int prefixes() {
              return universe.size();
            }

            @Override
            public void stage(int i, int nh) {
              Ipv6Prefix p = universe.get(i);
              if (nh == 0) {
                batch[0].delete(p);
                ref.remove(p);
              } else {
                batch[0].add(p, nh);
                ref.put(p, nh);
              }
            }

            @Override
            public long commit() {
              return batch[0].commit();
            }

            @Override
            public long generation() {
              return fib.generation();
            }

            @Override
            public int[] expected() {
              int[] e = new int[PROBES];
              for (int i = 0; i < PROBES; i++) {
                e[i] = ref.lookup(probeHi[i], probeLo[i]);
              }
              return e;
            }

            private final long[] hi = new long[32];
            private final long[] lo = new long[32];

            @Override
            public void lookupBulk(int from, int[] out) {
              System.arraycopy(probeHi, from, hi, 0, 32);
              System.arraycopy(probeLo, from, lo, 0, 32);
              fib.lookupBulk(hi, lo, out, 32);
            }

            @Override
            public int lookup(int probe) {
              return fib.lookup(probeHi[probe], probeLo[probe]);
            }
          };
      run(s, domain, colors, rnd, seed, 300, true, false);
    }
  }

  private static int[] colors(NextHopTable nht, int count) {
    int[] colors = new int[count];
    for (int i = 0; i < colors.length; i++) {
      colors[i] = nht.addForward(i, 0x0200_0000_0000L + i, 0x0200_0000_1000L);
    }
    return colors;
  }

  private static void run(
      Subject s,
      QsbrDomain domain,
      int[] colors,
      Random rnd,
      long seed,
      int batches,
      boolean wholeBatches,
      boolean churn)
      throws Exception {
    AtomicReferenceArray<int[]> expected = new AtomicReferenceArray<>(batches + 2);
    expected.set(0, s.expected()); // generation 0: empty
    AtomicBoolean done = new AtomicBoolean();
    AtomicReference<String> error = new AtomicReference<>();
    AtomicLong bulkChecks = new AtomicLong();
    AtomicLong straddling = new AtomicLong();

    Thread reader =
        new Thread(
            () -> {
              int[] out = new int[32];
              try (QsbrReader qsbr = domain.register()) {
                for (int iter = 0; !done.get() && error.get() == null; iter++) {
                  int from = (iter % (PROBES / 32)) * 32;
                  long g1 = s.generation();
                  s.lookupBulk(from, out);
                  long g2 = s.generation();
                  if (wholeBatches
                      ? !matchesOneGeneration(expected, g1, g2 + 1, from, out)
                      : !eachMatchesSome(expected, g1, g2 + 1, from, out)) {
                    error.set(
                        "bulk lookup at probes "
                            + from
                            + (wholeBatches ? " matches no single generation" : " not all seen")
                            + " in ["
                            + g1
                            + ", "
                            + (g2 + 1)
                            + "]: "
                            + Arrays.toString(out));
                  }
                  int probe = iter % PROBES;
                  long h1 = s.generation();
                  int one = s.lookup(probe);
                  long h2 = s.generation();
                  if (!matchesSome(expected, h1, h2 + 1, probe, one)) {
                    error.set(
                        "lookup of probe " + probe + " = " + one + " in [" + h1 + ", " + h2 + "]");
                  }
                  bulkChecks.incrementAndGet();
                  if (g2 != g1) {
                    straddling.incrementAndGet();
                  }
                  qsbr.quiescent(); // no next-hop index or table reference held past here
                }
              }
            });
    reader.start();

    int n = s.prefixes();
    for (int k = 1; k <= batches && error.get() == null; k++) {
      // Repaint one group (the first GROUPS prefixes are never deleted, so this always changes
      // something), and toggle a few random prefixes.
      if (churn) {
        // Prefix 0 always changes; every other one is added, recoloured or deleted at random.
        s.stage(0, colors[k % colors.length]);
        for (int i = 1; i < n; i++) {
          int r = rnd.nextInt(4);
          if (r == 0) {
            s.stage(i, 0);
          } else if (r == 1) {
            s.stage(i, colors[rnd.nextInt(colors.length)]);
          }
        }
      } else {
        int group = k % GROUPS;
        int color = colors[k % colors.length];
        for (int i = group; i < n; i += GROUPS) {
          s.stage(i, color);
        }
      }
      for (int t = churn ? 0 : rnd.nextInt(4); t > 0; t--) {
        int i = GROUPS + rnd.nextInt(n - GROUPS);
        s.stage(i, rnd.nextInt(3) == 0 ? 0 : colors[rnd.nextInt(colors.length)]);
      }
      expected.set(k, s.expected()); // before the commit publishes generation k
      assertEquals(k, s.commit(), "seed " + seed);
      if ((k & 15) == 0) {
        Thread.yield(); // let the reader run on a busy 2-CPU box
      }
    }
    done.set(true);
    reader.join();
    assertNull(error.get(), "seed " + seed);
    System.out.println(
        "concurrency: "
            + bulkChecks.get()
            + " checked lookup rounds, "
            + straddling.get()
            + " straddled a commit (seed "
            + seed
            + ")");
    assertTrue(bulkChecks.get() > batches, "reader ran too little: " + bulkChecks.get());
  }

  private static boolean matchesOneGeneration(
      AtomicReferenceArray<int[]> expected, long from, long to, int at, int[] out) {
    for (long g = from; g <= to && g < expected.length(); g++) {
      int[] e = expected.get((int) g);
      if (e != null && Arrays.equals(e, at, at + 32, out, 0, 32)) {
        return true;
      }
    }
    return false;
  }

  private static boolean eachMatchesSome(
      AtomicReferenceArray<int[]> expected, long from, long to, int at, int[] out) {
    for (int i = 0; i < 32; i++) {
      if (!matchesSome(expected, from, to, at + i, out[i])) {
        return false;
      }
    }
    return true;
  }

  private static boolean matchesSome(
      AtomicReferenceArray<int[]> expected, long from, long to, int probe, int answer) {
    for (long g = from; g <= to && g < expected.length(); g++) {
      int[] e = expected.get((int) g);
      if (e != null && e[probe] == answer) {
        return true;
      }
    }
    return false;
  }
}
