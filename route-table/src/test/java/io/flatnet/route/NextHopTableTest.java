package io.flatnet.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class NextHopTableTest {

  private final QsbrDomain domain = new QsbrDomain();

  @Test
  void entriesAndIndexZero() {
    NextHopTable t = new NextHopTable(8, domain);
    assertEquals(NextHops.KIND_NO_ROUTE, t.kind(NextHops.NO_ROUTE));
    int fwd = t.addForward(3, 0x0A0B_0C0D_0E0FL, 0x0211_2233_4455L);
    assertTrue(fwd > 0);
    assertEquals(NextHops.KIND_FORWARD, t.kind(fwd));
    assertEquals(3, t.port(fwd));
    assertEquals(0x0A0B_0C0D_0E0FL, t.dstMac(fwd));
    assertEquals(0x0211_2233_4455L, t.srcMac(fwd));
    int local = t.addLocal(4095);
    assertEquals(NextHops.KIND_LOCAL, t.kind(local));
    assertEquals(4095, t.port(local));
    int drop = t.addDrop();
    assertEquals(NextHops.KIND_DROP, t.kind(drop));
    assertEquals(drop, t.addDrop(), "equal entries are shared");
    assertEquals(2, t.refCount(drop));
    assertEquals(fwd, t.addForward(3, 0x0A0B_0C0D_0E0FL, 0x0211_2233_4455L));
    assertNotEquals(fwd, t.addForward(3, 0x0A0B_0C0D_0E0EL, 0x0211_2233_4455L));
  }

  @Test
  void theAdjacencyCopiesItsPortsMtuAndFollowsItsChanges() {
    NextHopTable t = new NextHopTable(8, domain);
    int a = t.addForward(3, 0x0A0B_0C0D_0E0FL, 0x0211_2233_4455L);
    int n = t.addNeighbourIpv4(3, Ipv4Prefix.parseAddress("10.0.0.1"), 0x0211_2233_4455L);
    int other = t.addForward(4, 0x0A0B_0C0D_0E0FL, 0x0211_2233_4455L);
    assertEquals(NextHopTable.DEFAULT_MTU, t.mtu(a));
    long entry = t.entry(a);
    t.setPortMtu(3, 9000);
    assertEquals(9000, t.mtu(a));
    assertEquals(9000, t.mtu(n));
    assertEquals(NextHopTable.DEFAULT_MTU, t.mtu(other), "another port's");
    assertEquals(entry, t.entry(a), "the entry word is not touched");
    assertEquals(0x0211_2233_4455L, t.srcMac(a));
    long egress = t.egress(a);
    assertEquals(9000, NextHopTable.mtuOf(egress));
    assertEquals(0x0211_2233_4455L, NextHopTable.srcMacOf(egress));
    int later = t.addForward(3, 0x0A0B_0C0D_0E01L, 0x0211_2233_4455L);
    assertEquals(9000, t.mtu(later), "made after the change");
    t.resolve(n, 0x0011_2233_4455L);
    assertEquals(9000, t.mtu(n), "resolving keeps the MTU");
    assertEquals(9000, t.portMtu(3));
    assertThrows(IllegalArgumentException.class, () -> t.setPortMtu(3, 1 << 16));
  }

  @Test
  void aReaderNeverPairsAKindWithAnotherVersionsMacNorLosesTheSourceMac() throws Exception {
    NextHopTable t = new NextHopTable(8, domain);
    long src = 0x0211_2233_4455L;
    int nh = t.addNeighbourIpv4(2, Ipv4Prefix.parseAddress("10.0.0.1"), src);
    AtomicReference<String> bad = new AtomicReference<>();
    Thread reader =
        new Thread(
            () -> {
              for (int i = 0; i < 2_000_000 && bad.get() == null; i++) {
                long e = t.entry(nh);
                long g = t.egress(nh);
                int kind = NextHopTable.kindOf(e);
                long mac = NextHopTable.dstMacOf(e);
                if (kind == NextHops.KIND_FORWARD && (mac & 0xFF) != (mac >>> 40)) {
                  bad.set("FORWARD with a torn MAC " + Long.toHexString(mac));
                }
                if (NextHopTable.srcMacOf(g) != src || NextHopTable.portOf(e) != 2) {
                  bad.set("egress " + Long.toHexString(g));
                }
                int mtu = NextHopTable.mtuOf(g);
                if (mtu != 1500 && mtu != 9000) {
                  bad.set("MTU " + mtu);
                }
              }
            });
    reader.start();
    for (int v = 1; reader.isAlive(); v = v % 250 + 1) {
      t.resolve(nh, (long) v << 40 | (long) v << 16 | v); // first and last byte agree
      t.setPortMtu(2, v % 2 == 0 ? 9000 : 1500);
      t.unresolve(nh);
    }
    reader.join();
    assertEquals(null, bad.get());
  }

  @Test
  void neighbourResolutionIsOneAtomicWord() {
    NextHopTable t = new NextHopTable(8, domain);
    int nh = t.addNeighbourIpv4(2, Ipv4Prefix.parseAddress("10.0.0.1"), 0x02AA_BBCC_DDEEL);
    assertEquals(NextHops.KIND_RESOLVE, t.kind(nh));
    assertEquals(2, t.port(nh));
    assertEquals(Ipv4Prefix.parseAddress("10.0.0.1"), t.neighbourIpv4(nh));
    assertEquals(4, t.neighbourFamily(nh));
    t.resolve(nh, 0x0011_2233_4455L);
    long e = t.entry(nh);
    assertEquals(NextHops.KIND_FORWARD, NextHopTable.kindOf(e));
    assertEquals(2, NextHopTable.portOf(e));
    assertEquals(0x0011_2233_4455L, NextHopTable.dstMacOf(e));
    t.unresolve(nh);
    assertEquals(NextHops.KIND_RESOLVE, t.kind(nh));
    long[] v6 = Ipv6Prefix.parseAddress("fe80::1");
    int nh6 = t.addNeighbourIpv6(1, v6[0], v6[1], 0x02AA_BBCC_DDEEL);
    assertEquals(v6[0], t.neighbourIpv6Hi(nh6));
    assertEquals(v6[1], t.neighbourIpv6Lo(nh6));
    int fwd = t.addForward(1, 1, 1);
    assertThrows(IllegalArgumentException.class, () -> t.resolve(fwd, 2));
  }

  @Test
  void readerNeverSeesATornEntry() throws Exception {
    NextHopTable t = new NextHopTable(8, domain);
    int nh = t.addNeighbourIpv4(5, 0x0A00_0001, 0x02AA_BBCC_DDEEL);
    AtomicReference<String> error = new AtomicReference<>();
    Thread reader =
        new Thread(
            () -> {
              for (int i = 0; i < 2_000_000 && error.get() == null; i++) {
                long e = t.entry(nh);
                int kind = NextHopTable.kindOf(e);
                long mac = NextHopTable.dstMacOf(e);
                // The writer only ever publishes (FORWARD, mac m) with port 5 and m's two halves
                // equal.
                if (kind == NextHops.KIND_FORWARD
                    && (NextHopTable.portOf(e) != 5 || (mac >>> 24) != (mac & 0xFF_FFFF))) {
                  error.set("torn entry " + Long.toHexString(e));
                }
              }
            });
    reader.start();
    for (int i = 1; reader.isAlive(); i++) {
      long half = i & 0xFF_FFFF;
      t.resolve(nh, (half << 24) | half);
      if ((i & 7) == 0) {
        t.unresolve(nh);
      }
    }
    reader.join();
    assertEquals(null, error.get());
  }

  @Test
  void fullTableIsAClearError() {
    NextHopTable t = new NextHopTable(2, domain);
    t.addForward(0, 1, 1);
    t.addForward(0, 2, 1);
    RouteTableFullException e =
        assertThrows(RouteTableFullException.class, () -> t.addForward(0, 3, 1));
    assertEquals("next-hop table exhausted: limit 2", e.getMessage());
    assertEquals(2, t.size());
  }

  @Test
  void badArguments() {
    NextHopTable t = new NextHopTable(2, domain);
    assertThrows(IllegalArgumentException.class, () -> t.addForward(4096, 1, 1));
    assertThrows(IllegalArgumentException.class, () -> t.addForward(0, 1L << 48, 1));
    assertThrows(IllegalArgumentException.class, () -> t.retain(1));
    assertThrows(IllegalArgumentException.class, () -> t.release(0));
    assertThrows(IllegalArgumentException.class, () -> new NextHopTable(0, domain));
  }

  @Test
  void indexIsReusedOnlyAfterTheGracePeriod() {
    NextHopTable t = new NextHopTable(8, domain);
    try (QsbrReader reader = domain.register();
        Ipv4Fib fib = new Ipv4Fib(domain, t, 4)) {
      int nh = t.addForward(1, 0xA, 0x1);
      fib.add(Ipv4Prefix.parse("10.0.0.0/8"), nh);
      t.release(nh); // only the route holds it now
      reader.quiescent();
      fib.delete(Ipv4Prefix.parse("10.0.0.0/8")); // the reader may still hold nh from a lookup
      assertFalse(t.isLive(nh));
      assertEquals(1, t.retiredCount());
      int other = t.addForward(2, 0xB, 0x1);
      assertNotEquals(nh, other, "not reused while a reader may still use it");
      assertEquals(0, t.reclaim());
      reader.quiescent();
      assertEquals(1, t.reclaim());
      assertEquals(nh, t.addForward(3, 0xC, 0x1), "reused after the grace period");
    }
  }

  @Test
  void fullTableWaitsForRetiredEntriesRatherThanFailing() throws Exception {
    NextHopTable t = new NextHopTable(1, domain);
    try (QsbrReader reader = domain.register()) {
      int nh = t.addForward(1, 0xA, 0x1);
      t.release(nh);
      Thread worker =
          new Thread(
              () -> {
                try {
                  Thread.sleep(100);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
                reader.offline(); // stands in for the worker's next quiescent point
              });
      worker.start();
      assertEquals(nh, t.addForward(2, 0xB, 0x1));
      worker.join();
    }
  }
}
