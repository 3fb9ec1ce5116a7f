package io.flatnet.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class Ipv6FibTest {

  private final QsbrDomain domain = new QsbrDomain();
  private final NextHopTable nht = new NextHopTable(16, domain);
  private final int a = nht.addForward(1, 0xA, 0x1);
  private final int b = nht.addForward(2, 0xB, 0x1);

  private static int lookup(Ipv6Fib fib, String address) {
    long[] x = Ipv6Prefix.parseAddress(address);
    return fib.lookup(x[0], x[1]);
  }

  @Test
  void longestMatchAndDefault() {
    try (Ipv6Fib fib = new Ipv6Fib(domain, nht, 1024)) {
      fib.batch()
          .add(Ipv6Prefix.parse("fd00::/16"), a)
          .add(Ipv6Prefix.parse("fd00:1::/64"), b)
          .add(Ipv6Prefix.parse("fd00:1::5/128"), a)
          .commit();
      assertEquals(a, lookup(fib, "fd00:2::1"));
      assertEquals(b, lookup(fib, "fd00:1::4"));
      assertEquals(a, lookup(fib, "fd00:1::5"));
      assertEquals(NextHops.NO_ROUTE, lookup(fib, "fe80::1"));
      fib.add(Ipv6Prefix.DEFAULT, b);
      assertEquals(b, lookup(fib, "fe80::1"));
      assertEquals(b, lookup(fib, "fd00:1::4"));
      fib.delete(Ipv6Prefix.parse("fd00:1::/64"));
      assertEquals(a, lookup(fib, "fd00:1::4"), "falls back to the /16");
      fib.delete(Ipv6Prefix.DEFAULT);
      assertEquals(NextHops.NO_ROUTE, lookup(fib, "fe80::1"));
    }
  }

  @Test
  void siblingsWithTheSameNextHopFoldAndUnfold() {
    try (Ipv6Fib fib = new Ipv6Fib(domain, nht, 1024)) {
      // Two /17 halves of fd00::/16 with one next hop: their node is uniform and folds away.
      fib.batch()
          .add(Ipv6Prefix.parse("fd00::/17"), a)
          .add(Ipv6Prefix.parse("fd00:8000::/17"), a)
          .commit();
      fib.batch().commit();
      assertEquals(0, fib.nodesInUse(), "the uniform node was folded into the root");
      assertEquals(a, lookup(fib, "fd00::1"));
      assertEquals(a, lookup(fib, "fd00:8000::1"));
      // Deleting one half must still find the other's entries under the folded leaf.
      fib.delete(Ipv6Prefix.parse("fd00::/17"));
      assertEquals(NextHops.NO_ROUTE, lookup(fib, "fd00::1"));
      assertEquals(a, lookup(fib, "fd00:8000::1"));
      // Same thing deep in the trie: /128 siblings.
      fib.batch()
          .add(Ipv6Prefix.parse("fd00:1::/127"), b)
          .add(Ipv6Prefix.parse("fd00:1::2/127"), b)
          .commit();
      fib.delete(Ipv6Prefix.parse("fd00:1::2/127"));
      assertEquals(b, lookup(fib, "fd00:1::1"));
      assertEquals(NextHops.NO_ROUTE, lookup(fib, "fd00:1::2"));
    }
  }

  @Test
  void nodeExhaustionFailsTheWholeBatchAndLeavesTheTableUnchanged() {
    try (Ipv6Fib fib = new Ipv6Fib(domain, nht, 20)) {
      fib.add(Ipv6Prefix.parse("fd00:1::/64"), a); // 6 nodes
      long gen = fib.generation();
      int nodes = fib.nodesInUse();
      Ipv6Fib.Batch batch =
          fib.batch()
              .add(Ipv6Prefix.parse("fd00::/16"), b)
              .add(Ipv6Prefix.parse("2001:db8::1/128"), a) // 14 nodes
              .add(Ipv6Prefix.parse("2001:db9::1/128"), a); // 13 more: over the limit
      RouteTableFullException e = assertThrows(RouteTableFullException.class, batch::commit);
      assertTrue(e.getMessage().startsWith("IPv6 trie nodes exhausted: limit 20"), e.getMessage());
      assertEquals(20, e.limit());
      assertEquals(gen, fib.generation());
      assertEquals(1, fib.routeCount());
      assertEquals(NextHops.NO_ROUTE, fib.get(Ipv6Prefix.parse("fd00::/16")));
      assertEquals(NextHops.NO_ROUTE, lookup(fib, "fd00:2::1"));
      assertEquals(NextHops.NO_ROUTE, lookup(fib, "2001:db8::1"));
      assertEquals(a, lookup(fib, "fd00:1::1"));
      assertEquals(nodes, fib.nodesInUse());
      assertEquals(2, nht.refCount(b) + 1, "no reference taken for the failed batch");
      // A batch that fits still works afterwards.
      fib.batch().add(Ipv6Prefix.parse("fd00::/16"), b).commit();
      assertEquals(b, lookup(fib, "fd00:2::1"));
    }
  }

  @Test
  void unknownNextHopIsRejectedBeforeAnyChange() {
    try (Ipv6Fib fib = new Ipv6Fib(domain, nht, 64)) {
      Ipv6Fib.Batch batch =
          fib.batch().add(Ipv6Prefix.parse("fd00::/16"), a).add(Ipv6Prefix.parse("fd01::/16"), 9);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, batch::commit);
      assertTrue(e.getMessage().contains("fd01::/16: next hop 9 is not allocated"), e.getMessage());
      assertEquals(0, fib.routeCount());
      assertEquals(NextHops.NO_ROUTE, lookup(fib, "fd00::1"));
    }
  }

  @Test
  void memoryBytesCountsRootsAndPool() {
    try (Ipv6Fib fib = new Ipv6Fib(domain, nht, 1 << 12)) {
      long empty = fib.memoryBytes();
      assertEquals(2 * 4 * 65536, empty, "two roots; the node pool is committed as it is used");
      java.util.Random rnd = new java.util.Random(1);
      Ipv6Fib.Batch batch = fib.batch();
      for (int i = 0; i < 200; i++) {
        batch.add(new Ipv6Prefix(0xfd00_0000_0000_0000L | (rnd.nextLong() >>> 16), 0, 64), a);
      }
      batch.commit();
      assertTrue(fib.nodesInUse() > 64, "nodes " + fib.nodesInUse());
      assertEquals(empty + 1024L * fib.nodesInUse(), fib.memoryBytes());
    }
  }
}
