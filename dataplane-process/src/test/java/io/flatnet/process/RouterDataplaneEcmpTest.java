package io.flatnet.process;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.control.JsonText;
import io.flatnet.control.PortSpec;
import io.flatnet.control.RouteSpec;
import io.flatnet.dataplane.Router;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Prefix;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.NextHops;
import java.io.File;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ECMP RouteSpecs through {@link RouterDataplane} on a real router: applied as a group, replaced
 * with fewer paths in place (same group, survivors' buckets untouched), turned into a plain route
 * and back, removed; bad paths refused; {@code show routes} and {@code trace} describe them.
 */
class RouterDataplaneEcmpTest {
  @TempDir File dir;

  private static final Ipv4Prefix PREFIX = Ipv4Prefix.parse("10.50.0.0/16");

  private static RouteSpec ecmp(String... viaPortWeight) {
    List<RouteSpec.Path> paths = new java.util.ArrayList<>();
    for (String p : viaPortWeight) {
      String[] f = p.split(" ");
      paths.add(new RouteSpec.Path(f[0], f[1], Integer.parseInt(f[2])));
    }
    return RouteSpec.multipath(PREFIX.toString(), paths, RouteSpec.ORIGIN_BGP);
  }

  /** A dataplane on {@code router} with uplinks up1 (10.3.0.2/24) and up2 (10.4.0.2/24), pcap. */
  private RouterDataplane twoUplinks(Router router, String tag) throws Exception {
    RouterDataplane dp = new RouterDataplane(router, 1, null);
    long pid = ProcessHandle.current().pid();
    File empty = new File(dir, "empty.pcap");
    LiveTraceMatchesSimulatedTraceTest.pcap(empty, List.of());
    for (String name : List.of("up1", "up2")) {
      String devargs =
          "net_pcap_"
              + tag
              + "_"
              + name
              + pid
              + ",rx_pcap="
              + empty
              + ",tx_pcap="
              + new File(dir, name + "-" + tag + ".pcap");
      String address = name.equals("up1") ? "10.3.0.2/24" : "10.4.0.2/24";
      dp.addPort(new PortSpec(name, devargs, "uplink", List.of(address), 1500));
    }
    return dp;
  }

  @Test
  void ecmpRouteIsAppliedReplacedInPlaceAndRemoved() throws Exception {
    Eal.initOnce(
        EalArguments.forProgram("flatnet-process-test")
            .logLevel("warning")
            .extra("-m", "1024")
            .build());
    try (Router router = Router.open(Router.Sizes.defaults(), dir)) {
      RouterDataplane dp = twoUplinks(router, "ecmp");
      NextHopTable hops = router.nextHops();
      RouterQueries queries = new RouterQueries(router, dp, Map::of);

      RouteSpec three = ecmp("10.3.0.1 up1 1", "10.4.0.1 up2 2", "10.3.0.9 up1 1");
      dp.addRoute(three);
      int group = router.routes().get(PREFIX);
      assertEquals(NextHops.KIND_GROUP, hops.kind(group));
      assertEquals(3, hops.groupMembers(group).length);
      assertArrayEquals(new int[] {1, 2, 1}, hops.groupWeights(group));
      for (String via : List.of("10.3.0.1", "10.4.0.1", "10.3.0.9")) {
        assertTrue(router.routes().containsKey(Ipv4Prefix.parse(via + "/32")), via + "/32");
      }
      String shown = queries.routes().toString();
      assertTrue(shown.contains("\"origin\":\"bgp\""), shown);
      assertTrue(shown.contains("\"kind\":\"ecmp\""), shown);
      assertTrue(shown.contains("\"weight\":2"), shown);
      assertTrue(queries.neighbors().toString().contains("10.3.0.9"));

      JsonText.Obj trace = queries.trace("10.9.0.7", "10.50.1.1", null, "udp", "1234", "53");
      assertEquals(Integer.toString(group), trace.text("group"), trace.toString());
      int member = Integer.parseInt(trace.text("nextHop"));
      int hashed =
          hops.groupMember(
              hops.entry(group),
              io.flatnet.route.FlowHash.ipv4(
                  Ipv4Prefix.parseAddress("10.9.0.7"),
                  Ipv4Prefix.parseAddress("10.50.1.1"),
                  17,
                  io.flatnet.route.FlowHash.ports(17, 1234, 53)));
      assertEquals(hashed, member);
      assertEquals("resolve", trace.text("decision"), trace.toString());

      // a path withdrawn: the same group, changed in place; survivors keep their buckets
      int gone = hops.groupMembers(group)[2];
      int[] before = hops.groupBuckets(group);
      RouteSpec two = ecmp("10.3.0.1 up1 1", "10.4.0.1 up2 2");
      dp.replaceRoute(three, two);
      assertEquals(group, router.routes().get(PREFIX), "no FIB change");
      int[] after = hops.groupBuckets(group);
      for (int i = 0; i < after.length; i++) {
        int was = before[i & (before.length - 1)];
        if (was != gone) {
          assertEquals(was, after[i], "bucket " + i + " of a surviving path moved");
        }
        assertNotEquals(gone, after[i]);
      }
      assertFalse(hops.isLive(gone));
      assertFalse(router.routes().containsKey(Ipv4Prefix.parse("10.3.0.9/32")));
      assertEquals(two, dp.installed().routes().get(PREFIX.toString()));

      // the agent may also send the new spec as an add: the same in-place update
      dp.addRoute(ecmp("10.3.0.1 up1 1", "10.4.0.1 up2 5"));
      assertEquals(group, router.routes().get(PREFIX));
      assertArrayEquals(new int[] {1, 5}, hops.groupWeights(group));

      // one path left: a plain route (one FIB update), the group goes
      RouteSpec one = new RouteSpec(PREFIX.toString(), "10.4.0.1", "up2", RouteSpec.ORIGIN_BGP);
      dp.replaceRoute(two, one);
      int plain = router.routes().get(PREFIX);
      assertEquals(NextHops.KIND_RESOLVE, hops.kind(plain));
      assertNull(hops.groupMembers(group));
      assertFalse(router.routes().containsKey(Ipv4Prefix.parse("10.3.0.1/32")));
      assertTrue(router.routes().containsKey(Ipv4Prefix.parse("10.4.0.1/32")));

      // and back to two paths: a new group
      dp.replaceRoute(one, two);
      assertEquals(NextHops.KIND_GROUP, hops.kind(router.routes().get(PREFIX)));

      dp.removeRoute(two);
      assertFalse(router.routes().containsKey(PREFIX));
      assertFalse(router.routes().containsKey(Ipv4Prefix.parse("10.3.0.1/32")));
      assertFalse(router.routes().containsKey(Ipv4Prefix.parse("10.4.0.1/32")));
      assertEquals(0, dp.installed().routes().size());

      // bad paths are refused and change nothing
      IllegalArgumentException noPort =
          assertThrows(
              IllegalArgumentException.class,
              () -> dp.addRoute(ecmp("10.3.0.1 up1 1", "10.4.0.1 nope 1")));
      assertTrue(noPort.getMessage().contains("no port nope"), noPort.getMessage());
      IllegalArgumentException family =
          assertThrows(
              IllegalArgumentException.class,
              () -> dp.addRoute(ecmp("10.3.0.1 up1 1", "fd00::1 up2 1")));
      assertTrue(family.getMessage().contains("not an IPv4 address"), family.getMessage());
      assertFalse(router.routes().containsKey(PREFIX));
      hops.reclaim(); // no worker runs: the grace period is over
      assertEquals(0, hops.groupCount() - countGroups(router));

      // IPv6
      RouteSpec v6 =
          RouteSpec.multipath(
              "fd00:50::/64",
              List.of(
                  new RouteSpec.Path("fd00:3::1", "up1", 1),
                  new RouteSpec.Path("fd00:4::1", "up2", 1)),
              RouteSpec.ORIGIN_BGP);
      dp.addRoute(v6);
      int group6 = router.routes().get(Ipv6Prefix.parse("fd00:50::/64"));
      assertEquals(NextHops.KIND_GROUP, hops.kind(group6));
      JsonText.Obj trace6 = queries.trace("fd00:9::7", "fd00:50::1", null, "tcp", "1", "2");
      assertEquals(Integer.toString(group6), trace6.text("group"), trace6.toString());
      dp.removeRoute(v6);
      assertFalse(router.routes().containsKey(Ipv6Prefix.parse("fd00:50::/64")));
    }
  }

  /** Groups still referenced by a route. */
  private static int countGroups(Router router) {
    int n = 0;
    for (int nh : router.routes().values()) {
      n += router.nextHops().kind(nh) == NextHops.KIND_GROUP ? 1 : 0;
    }
    return n;
  }

  /**
   * A route given for a neighbour's own address (a BGP neighbour's /32) outlives the host route
   * that routes through the neighbour add and remove: the fabric demo lost its session to a ToR
   * when the last ECMP path through the ToR went and took the ToR's /32 with it.
   */
  @Test
  void aRouteGivenForANeighboursAddressOutlivesItsHostRoute() throws Exception {
    Eal.initOnce(
        EalArguments.forProgram("flatnet-process-test")
            .logLevel("warning")
            .extra("-m", "1024")
            .build());
    try (Router router = Router.open(Router.Sizes.defaults(), dir)) {
      RouterDataplane dp = twoUplinks(router, "hr");
      Ipv4Prefix torA = Ipv4Prefix.parse("10.3.0.1/32");
      RouteSpec neighbor =
          new RouteSpec("10.3.0.1/32", "10.3.0.1", "up1", RouteSpec.ORIGIN_BGP_NEIGHBOR);
      dp.addRoute(neighbor);
      int given = router.routes().get(torA);

      // ECMP through the neighbour comes and goes: the given route stays, unchanged.
      RouteSpec two = ecmp("10.3.0.1 up1 1", "10.4.0.1 up2 1");
      dp.addRoute(two);
      assertEquals(given, router.routes().get(torA));
      dp.replaceRoute(two, ecmp("10.4.0.1 up2 1", "10.4.0.9 up2 1"));
      assertEquals(given, router.routes().get(torA), "the path via 10.3.0.1 was withdrawn");
      dp.removeRoute(ecmp("10.4.0.1 up2 1", "10.4.0.9 up2 1"));
      assertEquals(given, router.routes().get(torA));
      assertFalse(router.routes().containsKey(Ipv4Prefix.parse("10.4.0.1/32")));

      // The other way round: the given route goes while a route still uses the neighbour.
      dp.addRoute(ecmp("10.3.0.1 up1 1", "10.4.0.1 up2 1"));
      dp.removeRoute(neighbor);
      assertTrue(router.routes().containsKey(torA), "the host route came back");
      assertEquals(NextHops.KIND_RESOLVE, router.nextHops().kind(router.routes().get(torA)));
      dp.removeRoute(ecmp("10.3.0.1 up1 1", "10.4.0.1 up2 1"));
      assertFalse(router.routes().containsKey(torA));
    }
  }
}
