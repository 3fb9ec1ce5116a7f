package io.flatnet.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class Ipv4FibTest {

  private final QsbrDomain domain = new QsbrDomain();
  private final NextHopTable nht = new NextHopTable(16, domain);
  private final int a = nht.addForward(1, 0xA, 0x1);
  private final int b = nht.addForward(2, 0xB, 0x1);
  private final int c = nht.addForward(3, 0xC, 0x1);

  private static int lookup(Ipv4Fib fib, String address) {
    return fib.lookup(Ipv4Prefix.parseAddress(address));
  }

  @Test
  void longestMatchAcrossTbl24AndTbl8() {
    try (Ipv4Fib fib = new Ipv4Fib(domain, nht, 16)) {
      fib.batch()
          .add(Ipv4Prefix.parse("0.0.0.0/0"), a)
          .add(Ipv4Prefix.parse("10.0.0.0/8"), b)
          .add(Ipv4Prefix.parse("10.1.2.128/25"), c)
          .add(Ipv4Prefix.parse("10.1.2.200/32"), a)
          .commit();
      assertEquals(a, lookup(fib, "192.168.1.1"));
      assertEquals(b, lookup(fib, "10.1.2.127"));
      assertEquals(c, lookup(fib, "10.1.2.128"));
      assertEquals(a, lookup(fib, "10.1.2.200"));
      assertEquals(c, lookup(fib, "10.1.2.255"));
      assertEquals(1, fib.tbl8GroupsInUse());
      fib.batch()
          .delete(Ipv4Prefix.parse("10.1.2.128/25"))
          .delete(Ipv4Prefix.parse("10.1.2.200/32"))
          .commit();
      assertEquals(b, lookup(fib, "10.1.2.200"));
      assertEquals(0, fib.tbl8GroupsInUse(), "the group is freed when its last long route goes");
      fib.delete(Ipv4Prefix.parse("10.0.0.0/8"));
      assertEquals(a, lookup(fib, "10.1.2.200"));
      fib.delete(Ipv4Prefix.parse("0.0.0.0/0"));
      assertEquals(NextHops.NO_ROUTE, lookup(fib, "10.1.2.200"));
      assertEquals(0, fib.routeCount());
    }
  }

  @Test
  void deletingAnAbsentRouteIsANoOp() {
    try (Ipv4Fib fib = new Ipv4Fib(domain, nht, 4)) {
      fib.add(Ipv4Prefix.parse("10.0.0.0/8"), a);
      long gen = fib.generation();
      assertEquals(gen, fib.delete(Ipv4Prefix.parse("10.0.0.0/9")));
      assertEquals(a, lookup(fib, "10.0.0.1"));
    }
  }

  @Test
  void tbl8ExhaustionFailsTheWholeBatchAndLeavesTheTableUnchanged() {
    try (Ipv4Fib fib = new Ipv4Fib(domain, nht, 4)) {
      Ipv4Fib.Batch fill = fib.batch();
      for (int i = 0; i < 4; i++) {
        fill.add(Ipv4Prefix.parse("10.0." + i + ".1/32"), a);
      }
      fill.commit();
      long gen = fib.generation();
      Ipv4Fib.Batch batch =
          fib.batch()
              .add(Ipv4Prefix.parse("172.16.0.0/12"), b)
              .add(Ipv4Prefix.parse("10.0.0.2/32"), c) // shares a group: fine
              .add(Ipv4Prefix.parse("10.0.9.1/32"), c); // a fifth group: over the limit
      RouteTableFullException e = assertThrows(RouteTableFullException.class, batch::commit);
      assertTrue(e.getMessage().startsWith("tbl8 groups exhausted: limit 4"), e.getMessage());
      assertEquals("tbl8 groups", e.resource());
      assertEquals(4, e.limit());
      assertEquals(gen, fib.generation());
      assertEquals(4, fib.routeCount());
      assertEquals(NextHops.NO_ROUTE, lookup(fib, "172.16.0.1"));
      assertEquals(NextHops.NO_ROUTE, lookup(fib, "10.0.0.2"));
      assertEquals(a, lookup(fib, "10.0.0.1"));
      assertEquals(5, nht.refCount(a));
      assertEquals(1, nht.refCount(b), "no reference taken for the failed batch");
      // Freeing a group in the same batch makes room: deletes are applied first.
      fib.batch()
          .delete(Ipv4Prefix.parse("10.0.3.1/32"))
          .add(Ipv4Prefix.parse("10.0.9.1/32"), c)
          .commit();
      assertEquals(c, lookup(fib, "10.0.9.1"));
      assertEquals(NextHops.NO_ROUTE, lookup(fib, "10.0.3.1"));
      assertEquals(4, fib.tbl8GroupsInUse());
    }
  }

  @Test
  void zeroTbl8GroupsMeansNoLongRoutes() {
    try (Ipv4Fib fib = new Ipv4Fib(domain, nht, 0)) {
      fib.add(Ipv4Prefix.parse("10.0.0.0/24"), a);
      RouteTableFullException e =
          assertThrows(
              RouteTableFullException.class, () -> fib.add(Ipv4Prefix.parse("10.0.0.0/25"), a));
      assertTrue(e.getMessage().startsWith("tbl8 groups exhausted: limit 0"), e.getMessage());
    }
  }

  @Test
  void unknownNextHopIsRejectedBeforeAnyChange() {
    try (Ipv4Fib fib = new Ipv4Fib(domain, nht, 4)) {
      Ipv4Fib.Batch batch =
          fib.batch().add(Ipv4Prefix.parse("10.0.0.0/8"), a).add(Ipv4Prefix.parse("11.0.0.0/8"), 9);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, batch::commit);
      assertTrue(
          e.getMessage().contains("11.0.0.0/8: next hop 9 is not allocated"), e.getMessage());
      assertEquals(0, fib.routeCount());
      assertEquals(NextHops.NO_ROUTE, lookup(fib, "10.0.0.1"));
      assertThrows(IllegalArgumentException.class, () -> fib.batch().add(0, 0, 0));
      assertThrows(IllegalArgumentException.class, () -> fib.batch().add(0x0A000001, 8, a));
      assertThrows(IllegalArgumentException.class, () -> fib.batch().add(0, 33, a));
    }
  }

  @Test
  void routesHoldNextHopReferences() {
    try (Ipv4Fib fib = new Ipv4Fib(domain, nht, 4)) {
      int nh = nht.addForward(7, 0x77, 0x1);
      fib.batch()
          .add(Ipv4Prefix.parse("10.0.0.0/8"), nh)
          .add(Ipv4Prefix.parse("11.0.0.0/8"), nh)
          .commit();
      assertEquals(3, nht.refCount(nh));
      nht.release(nh); // the caller's own reference
      fib.add(Ipv4Prefix.parse("10.0.0.0/8"), a); // replace: releases one
      assertEquals(1, nht.refCount(nh));
      fib.delete(Ipv4Prefix.parse("11.0.0.0/8"));
      assertTrue(!nht.isLive(nh));
    }
  }

  @Test
  void memoryBytesIsOneTbl24AndTheGroupsUsed() {
    // One copy (there were two before the in-place update): the tbl24 and the groups up to the
    // high-water mark; the rest of the 1024-group reservation is address space only.
    try (Ipv4Fib fib = new Ipv4Fib(domain, nht, 1024)) {
      assertEquals(64L << 20, fib.memoryBytes());
      fib.add(Ipv4Prefix.parse("10.0.0.0/25"), a);
      fib.add(Ipv4Prefix.parse("10.0.1.0/25"), a);
      assertEquals((64L << 20) + 2 * 1024, fib.memoryBytes());
      fib.delete(Ipv4Prefix.parse("10.0.0.0/25")); // unlinked, reused after its grace period
      fib.add(Ipv4Prefix.parse("10.0.2.0/25"), a);
      assertEquals((64L << 20) + 2 * 1024, fib.memoryBytes(), "the unlinked group was reused");
    }
  }
}
