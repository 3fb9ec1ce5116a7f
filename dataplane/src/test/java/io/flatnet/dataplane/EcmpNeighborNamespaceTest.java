package io.flatnet.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.dataplane.neighbor.NeighborEntry;
import io.flatnet.route.GroupBuckets;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Prefix;
import io.flatnet.route.NextHopTable;
import java.io.File;
import java.util.List;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An ECMP path whose neighbour stops answering (a real pod in a network namespace, Linux's own ARP)
 * is skipped by its group once unreachability detection gives up on it, with only its buckets
 * moved, and put back when it answers again (the resolver keeps asking for it).
 */
class EcmpNeighborNamespaceTest {
  private static final String SUFFIX = Long.toString(ProcessHandle.current().pid() % 100000);
  private static final String POD_A = "fnEa" + SUFFIX;
  private static final String POD_B = "fnEb" + SUFFIX;
  private static final String VETH_A = "fea" + SUFFIX;
  private static final String VETH_B = "feb" + SUFFIX;
  private static final NeighborEntry.Timers TIMERS =
      new NeighborEntry.Timers(1_000_000_000L, 200_000_000L, 2, 2);

  @TempDir File dir;
  private Router router;

  @AfterEach
  void unplug() {
    if (router != null) {
      router.close();
    }
    for (String namespace : List.of(POD_A, POD_B)) {
      Shell.run("ip", "netns", "del", namespace);
    }
    Shell.run("ip", "link", "del", VETH_A);
    Shell.run("ip", "link", "del", VETH_B);
  }

  @Test
  void aFailedPathIsSkippedAndComesBackWhenItAnswers() throws InterruptedException {
    DataplaneTestSupport.eal();
    unplug();
    router = null;
    PodNamespaces.create(POD_A, VETH_A, "10.244.1.2", "fd00:244:1::2");
    PodNamespaces.create(POD_B, VETH_B, "10.244.1.3", "fd00:244:1::3");
    router = Router.open(Router.Sizes.defaults(), dir, TIMERS);
    int portA = router.addPort(port("podA", VETH_A, "10.244.1.1", "fd00:244:1::1"));
    int portB = router.addPort(port("podB", VETH_B, "10.244.1.1", "fd00:244:1::1"));
    router.addLocalAddress(Ipv4Prefix.parse("10.244.1.1/32"));
    PodNamespaces.routeToNeighbor(router, "10.244.1.2", "fd00:244:1::2", portA);
    PodNamespaces.routeToNeighbor(router, "10.244.1.3", "fd00:244:1::3", portB);
    int group =
        router.routeMultipath(
            Ipv4Prefix.parse("10.99.0.0/16"),
            new int[] {portA, portB},
            new int[] {
              Ipv4Prefix.parseAddress("10.244.1.2"), Ipv4Prefix.parseAddress("10.244.1.3")
            },
            new int[] {1, 1});
    router.startWorker(-1, new BackoffIdleStrategy(10, 10, 1000, 100_000));
    Shell.mustIn(POD_A, "ping", "-c", "2", "-W", "2", "-i", "0.2", "10.244.1.3"); // resolves both
    NextHopTable hops = router.nextHops();
    int[] members = hops.groupMembers(group);
    int memberB = members[1];
    assertEquals(NextHopTable.KIND_FORWARD, hops.kind(memberB));
    int[] before = hops.groupBuckets(group);

    // B stops answering ARP: NUD withdraws its MAC, and the group skips it
    Shell.mustIn(POD_B, "ip", "link", "set", "eth0", "arp", "off");
    long deadline = System.nanoTime() + 3 * TIMERS.worstCaseRecoveryNanos();
    while (!hops.isDown(memberB) && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertTrue(hops.isDown(memberB), "B marked down within NUD's worst case");
    int[] skipping = hops.groupBuckets(group);
    assertEquals(0, GroupBuckets.counts(skipping, members)[1]);
    for (int i = 0; i < skipping.length; i++) {
      int was = before[i & (before.length - 1)];
      if (was != memberB) {
        assertEquals(was, skipping[i], "a flow on A moved");
      }
    }

    // B answers again: the resolver's retries find it, and it is back in the group
    Shell.mustIn(POD_B, "ip", "link", "set", "eth0", "arp", "on");
    deadline = System.nanoTime() + 5_000_000_000L;
    while (hops.isDown(memberB) && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertFalse(hops.isDown(memberB), "B back once it answers");
    assertEquals(NextHopTable.KIND_FORWARD, hops.kind(memberB));
    assertTrue(GroupBuckets.counts(hops.groupBuckets(group), members)[1] > 0);
  }

  private static Router.PortSpec port(String name, String veth, String gateway, String gateway6) {
    long[] g6 = Ipv6Prefix.parseAddress(gateway6);
    return new Router.PortSpec(
        name,
        DataplaneTestSupport.unique("net_af_packet") + ",iface=" + veth + ",qpairs=1",
        PortTable.ROLE_POD,
        1500,
        Ipv4Prefix.parseAddress(gateway),
        g6[0],
        g6[1],
        0);
  }
}
