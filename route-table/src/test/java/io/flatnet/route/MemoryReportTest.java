package io.flatnet.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.agrona.collections.Long2LongHashMap;
import org.junit.jupiter.api.Test;

/** Builds the scale tables, prints the memory the structures report, checks a sample. */
class MemoryReportTest {

  private static final double MIB = 1 << 20;

  @Test
  void ipv4MillionRoutes() {
    Random rnd = new Random(1);
    TestRoutes.V4 routes = TestRoutes.dpdkLikeIpv4(rnd);
    QsbrDomain domain = new QsbrDomain();
    NextHopTable nht = new NextHopTable(1024, domain);
    int[] nhs = new int[64];
    for (int i = 0; i < nhs.length; i++) {
      nhs[i] = nht.addForward(i, 0x0200_0000_0000L + i, 0x0200_0000_1000L);
    }
    Long2LongHashMap ref = new Long2LongHashMap(0);
    try (Ipv4Fib fib = new Ipv4Fib(domain, nht, 1 << 16)) {
      long t0 = System.nanoTime();
      Ipv4Fib.Batch batch = fib.batch();
      for (int i = 0; i < routes.size(); i++) {
        int nh = nhs[i & 63];
        batch.add(routes.addresses()[i], routes.lengths()[i], nh);
        ref.put(Ipv4Fib.key(routes.addresses()[i], routes.lengths()[i]), nh);
      }
      batch.commit();
      long t1 = System.nanoTime();
      Ipv4Prefix victim = new Ipv4Prefix(routes.addresses()[0], routes.lengths()[0]);
      assertTrue(fib.get(victim) != NextHops.NO_ROUTE);
      fib.delete(victim);
      ref.remove(Ipv4Fib.key(victim.address(), victim.length()));
      long t2 = System.nanoTime();
      System.out.printf(
          "IPv4: %d routes (%d generated), %d tbl8 groups: memoryBytes %.1f MiB"
              + " (64 MiB tbl24 + tbl8 groups used), %.1f B/route;"
              + " build %.0f ms, one delete %.0f ms%n",
          fib.routeCount(),
          routes.size(),
          fib.tbl8GroupsInUse(),
          fib.memoryBytes() / MIB,
          (double) fib.memoryBytes() / fib.routeCount(),
          (t1 - t0) / 1e6,
          (t2 - t1) / 1e6);
      assertEquals(ref.size(), fib.routeCount());
      assertTrue(fib.routeCount() > 1_000_000, "routes " + fib.routeCount());
      long tbl8Bytes = fib.tbl8GroupsInUse() * 1024L;
      assertTrue(
          fib.memoryBytes() <= (64L << 20) + tbl8Bytes + 1024,
          "one tbl24 + the tbl8 groups in use (+ the one the delete may have unlinked)");

      // Check against the reference, delete, check again.
      for (int copy = 0; copy < 2; copy++) {
        for (int i = 0; i < 100_000; i++) {
          int a = i < 50_000 ? rnd.nextInt() : edge(routes, rnd);
          assertEquals(refLookup(ref, a), fib.lookup(a), Ipv4Prefix.format(a));
        }
        Ipv4Prefix victim2 =
            new Ipv4Prefix(routes.addresses()[1 + copy], routes.lengths()[1 + copy]);
        long gen = fib.generation();
        fib.delete(victim2);
        assertEquals(gen + 1, fib.generation());
        ref.remove(Ipv4Fib.key(victim2.address(), victim2.length()));
      }
    }
  }

  private static int edge(TestRoutes.V4 routes, Random rnd) {
    int i = rnd.nextInt(routes.size());
    Ipv4Prefix p = new Ipv4Prefix(routes.addresses()[i], routes.lengths()[i]);
    return switch (rnd.nextInt(4)) {
      case 0 -> p.first();
      case 1 -> p.last();
      case 2 -> p.first() - 1;
      default -> p.last() + 1;
    };
  }

  private static int refLookup(Long2LongHashMap ref, int a) {
    for (int len = 32; len >= 0; len--) {
      long nh = ref.get(Ipv4Fib.key(a & Ipv4Prefix.mask(len), len));
      if (nh != 0) {
        return (int) nh;
      }
    }
    return 0;
  }

  @Test
  void ipv6HundredThousandRoutes() {
    Random rnd = new Random(2);
    Ipv6Prefix[] routes = TestRoutes.ipv6Mix(rnd, 100_000);
    QsbrDomain domain = new QsbrDomain();
    NextHopTable nht = new NextHopTable(1024, domain);
    int[] nhs = new int[64];
    for (int i = 0; i < nhs.length; i++) {
      nhs[i] = nht.addForward(i, 0x0200_0000_0000L + i, 0x0200_0000_1000L);
    }
    RefLpm6 ref = new RefLpm6();
    try (Ipv6Fib fib = new Ipv6Fib(domain, nht, 1 << 20)) {
      long t0 = System.nanoTime();
      Ipv6Fib.Batch batch = fib.batch();
      for (int i = 0; i < routes.length; i++) {
        batch.add(routes[i], nhs[i & 63]);
        ref.put(routes[i], nhs[i & 63]);
      }
      batch.commit();
      long t1 = System.nanoTime();
      System.out.printf(
          "IPv6: %d routes, %d trie nodes: memoryBytes %.1f MiB (2 x 256 KiB roots + node pool),"
              + " %.1f B/route; build %.0f ms%n",
          fib.routeCount(),
          fib.nodesInUse(),
          fib.memoryBytes() / MIB,
          (double) fib.memoryBytes() / fib.routeCount(),
          (t1 - t0) / 1e6);
      assertEquals(ref.routes.size(), fib.routeCount());
      assertTrue(fib.memoryBytes() < 256 * (1L << 20), "under 256 MiB");
      for (int i = 0; i < 20_000; i++) {
        Ipv6Prefix p = routes[rnd.nextInt(routes.length)];
        long hi = i % 2 == 0 ? p.hi() : p.lastHi();
        long lo = i % 2 == 0 ? p.lo() : p.lastLo();
        assertEquals(ref.lookup(hi, lo), fib.lookup(hi, lo), Ipv6Prefix.format(hi, lo));
      }
    }
  }
}
