package io.flatnet.route;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The read side (lookups, bulk lookups, next-hop reads, quiescent) allocates nothing. */
class ZeroAllocationTest {

  private static final com.sun.management.ThreadMXBean MX =
      (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

  @Test
  void readSideDoesNotAllocate() {
    QsbrDomain domain = new QsbrDomain();
    NextHopTable nht = new NextHopTable(16, domain);
    int nh = nht.addForward(1, 0xA, 0xB);
    Random rnd = new Random(3);
    try (Ipv4Fib fib4 = new Ipv4Fib(domain, nht, 64);
        Ipv6Fib fib6 = new Ipv6Fib(domain, nht, 1024);
        QsbrReader reader = domain.register()) {
      Ipv4Fib.Batch b4 = fib4.batch();
      Ipv6Fib.Batch b6 = fib6.batch();
      for (int i = 0; i < 200; i++) {
        int len = 8 + rnd.nextInt(25);
        b4.add(rnd.nextInt() & Ipv4Prefix.mask(len), len, nh);
        int len6 = 16 + rnd.nextInt(113);
        long hi = 0xfd00_0000_0000_0000L | (rnd.nextLong() >>> 40);
        long lo = rnd.nextLong();
        b6.add(hi & Ipv6Prefix.maskHi(len6), lo & Ipv6Prefix.maskLo(len6), len6, nh);
      }
      b4.commit();
      b6.commit();
      int[] dst = new int[32];
      long[] hi = new long[32];
      long[] lo = new long[32];
      int[] out = new int[32];
      for (int i = 0; i < 32; i++) {
        dst[i] = rnd.nextInt();
        hi[i] = 0xfd00_0000_0000_0000L | (rnd.nextLong() >>> 40);
        lo[i] = rnd.nextLong();
      }
      long sink = 0;
      for (int round = 0; round < 3; round++) { // the first rounds warm up (and JIT) the code
        long before = MX.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 200_000; i++) {
          int k = i & 31;
          int h = fib4.lookup(dst[k] + i);
          sink += h + fib6.lookup(hi[k], lo[k] + i);
          sink += nht.entry(h) + nht.srcMac(h);
          if (k == 0) {
            fib4.lookupBulk(dst, out, 32);
            fib6.lookupBulk(hi, lo, out, 32);
            reader.quiescent();
          }
        }
        long allocated = MX.getCurrentThreadAllocatedBytes() - before;
        if (round == 2) {
          assertTrue(allocated < 1024, "read side allocated " + allocated + " bytes");
        }
      }
      assertTrue(sink != 42);
    }
  }
}
