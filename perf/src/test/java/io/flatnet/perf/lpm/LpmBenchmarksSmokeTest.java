package io.flatnet.perf.lpm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.infra.Blackhole;

/** Runs the benchmark bodies on small tables (no JMH): they work and bulk agrees with scalar. */
class LpmBenchmarksSmokeTest {

  private static final Blackhole BH =
      new Blackhole(
          "Today's password is swordfish. I understand instantiating Blackholes directly is"
              + " dangerous.");

  private static LpmRoutes.V4 smallV4() {
    LpmRoutes.V4 all = LpmRoutes.dpdkLikeIpv4(new Random(1));
    int[] idx = new Random(2).ints(50_000, 0, all.size()).toArray();
    int[] a = new int[idx.length];
    int[] l = new int[idx.length];
    for (int i = 0; i < idx.length; i++) {
      a[i] = all.addresses()[idx[i]];
      l[i] = all.lengths()[idx[i]];
    }
    return new LpmRoutes.V4(a, l);
  }

  @Test
  void ipv4Lookups() {
    Ipv4LookupBenchmark b = new Ipv4LookupBenchmark();
    b.setUp(smallV4());
    try {
      int hits = 0;
      for (int i = 0; i < 10_000; i++) {
        hits += b.lookup() != 0 ? 1 : 0;
      }
      assertTrue(hits > 0);
      b.cursor = 0;
      b.lookupLoop(BH);
      int[] scalar = Arrays.copyOf(b.nextHops, Ipv4LookupBenchmark.BURST);
      b.cursor = 0;
      b.lookupBulk(BH);
      assertArrayEquals(scalar, b.nextHops);
    } finally {
      b.tearDown();
    }
  }

  @Test
  void ipv6Lookups() {
    Ipv6LookupBenchmark b = new Ipv6LookupBenchmark();
    b.setUp(5_000);
    try {
      for (int i = 0; i < 10_000; i++) {
        assertTrue(b.lookup() != 0, "addresses are drawn inside routes");
      }
      b.cursor = 64;
      b.lookupLoop(BH);
      int[] scalar = Arrays.copyOf(b.nextHops, Ipv6LookupBenchmark.BURST);
      b.cursor = 64;
      b.lookupBulk(BH);
      assertArrayEquals(scalar, b.nextHops);
    } finally {
      b.tearDown();
    }
  }

  @Test
  void updates() {
    LpmUpdateBenchmark b = new LpmUpdateBenchmark();
    b.batchSize = 32;
    b.setUp(smallV4(), 5_000);
    try {
      int v4 = b.fib4.routeCount();
      int v6 = b.fib6.routeCount();
      for (int i = 0; i < 128; i++) { // every set added, then deleted
        b.ipv4Batch();
        b.ipv6Batch();
      }
      assertEquals(v4, b.fib4.routeCount());
      assertEquals(v6, b.fib6.routeCount());
    } finally {
      b.tearDown();
    }
  }
}
