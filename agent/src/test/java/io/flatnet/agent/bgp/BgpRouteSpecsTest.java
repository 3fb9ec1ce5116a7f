package io.flatnet.agent.bgp;

import static io.flatnet.agent.bgp.FpmBytes.recording;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.bgp.FpmMessage.GroupMember;
import io.flatnet.agent.bgp.FpmMessage.NextHop;
import io.flatnet.agent.bgp.FpmMessage.Nexthop;
import io.flatnet.agent.bgp.FpmMessage.Route;
import io.flatnet.agent.config.ConfigException;
import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.RouteSpec.Path;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** zebra's routes into flatnet routes: the recordings of a real zebra, then the edge cases. */
class BgpRouteSpecsTest {

  /** A node whose uplinks are the recording's up0 and up1. */
  static final NodeConfig NODE =
      node(
          """
          node:
            name: node-a
            podCIDRs: [10.244.1.0/24, "fd00:244:1::/64"]
            gateways: [169.254.1.1, "fe80::1"]
          ports:
            - name: up0
              device: "0000:3b:00.0"
              role: uplink
              addresses: [192.168.1.10/24, "fd00:1::10/64"]
            - name: up1
              device: "0000:3b:00.1"
              role: uplink
              addresses: [192.168.2.10/24, "fd00:2::10/64"]
          """);

  static NodeConfig node(String yaml) {
    try {
      return ConfigLoader.parse(yaml, "test.yaml");
    } catch (ConfigException e) {
      throw new IllegalStateException(e);
    }
  }

  static final String BGP = RouteSpec.ORIGIN_BGP;

  static List<FpmMessage> decode(String recording) throws Exception {
    return new FpmDecoder(ByteOrder.LITTLE_ENDIAN).decodeAll(recording(recording));
  }

  static BgpRouteSpecs.Result replay(List<FpmMessage> messages) {
    BgpRoutes table = new BgpRoutes(() -> {});
    long epoch = table.beginEpoch();
    table.apply(epoch, messages);
    return BgpRouteSpecs.convert(NODE, table.snapshot());
  }

  static RouteSpec plain(String prefix, String via, String port) {
    return new RouteSpec(prefix, via, port, BGP);
  }

  static final List<BgpRouteSpecs.LeftOut> RECORDING_LEFT_OUT =
      List.of(
          new BgpRouteSpecs.LeftOut("10.11.0.0/16", "blackhole route, not unicast"),
          new BgpRouteSpecs.LeftOut("10.12.0.0/16", "no gateway (directly connected on ifindex 3)"),
          new BgpRouteSpecs.LeftOut("fd00:98::/64", "via fe80::1: link-local gateway"));

  @Test
  void zebrasFirstTable() throws Exception {
    BgpRouteSpecs.Result r = replay(decode("nhg-off-connection1.fpm").subList(0, 11));
    assertEquals(
        List.of(
            plain("10.9.0.0/16", "192.168.1.1", "up0"),
            RouteSpec.multipath(
                "10.10.0.0/16",
                List.of(new Path("192.168.1.1", "up0", 1), new Path("192.168.2.1", "up1", 1)),
                BGP),
            plain("fd00:99::/64", "fd00:1::1", "up0")),
        r.routes());
    assertEquals(RECORDING_LEFT_OUT, r.leftOut());
    assertEquals(5, r.ignored()); // the connected routes
    assertEquals(
        "3 routes from zebra (1 ECMP), 3 left out: 10.11.0.0/16: blackhole route, not unicast;"
            + " 10.12.0.0/16: no gateway (directly connected on ifindex 3);"
            + " fd00:98::/64 via fe80::1: link-local gateway, 5 kernel/connected ignored",
        r.summary());
  }

  static final List<RouteSpec> RECORDING_END =
      List.of(
          plain("10.10.0.0/16", "192.168.1.1", "up0"), plain("10.13.0.0/16", "192.168.2.1", "up1"));

  @Test
  void zebrasTableAfterTheChanges() throws Exception {
    BgpRouteSpecs.Result r = replay(decode("nhg-off-connection1.fpm"));
    assertEquals(RECORDING_END, r.routes());
    assertEquals(RECORDING_LEFT_OUT, r.leftOut());
    assertEquals(6, r.ignored()); // and the kernel route 10.50.0.0/16
  }

  @Test
  void nextHopGroupsGiveTheSameRoutes() throws Exception {
    List<FpmMessage> all = decode("nhg-on-connection1.fpm");
    BgpRouteSpecs.Result first = replay(all.subList(0, 24));
    assertEquals(replay(decode("nhg-off-connection1.fpm").subList(0, 11)), first);
    BgpRouteSpecs.Result end = replay(all);
    assertEquals(RECORDING_END, end.routes());
    assertEquals(RECORDING_LEFT_OUT, end.leftOut());
  }

  @Test
  void theResentTableAfterAReconnectGivesTheSameRoutes() throws Exception {
    assertEquals(
        replay(decode("nhg-off-connection1.fpm")), replay(decode("nhg-off-connection2.fpm")));
    assertEquals(
        replay(decode("nhg-on-connection1.fpm")), replay(decode("nhg-on-connection2.fpm")));
  }

  @Test
  void aWeightedBgpRouteFromZebra() throws Exception {
    BgpRouteSpecs.Result r = replay(decode("bgp-weights.fpm"));
    assertEquals(
        List.of(
            RouteSpec.multipath(
                "10.77.0.0/16",
                List.of(new Path("192.168.1.1", "up0", 25), new Path("192.168.2.1", "up1", 75)),
                BGP)),
        r.routes());
    assertEquals(3, r.ignored());
    assertEquals("1 route from zebra (1 ECMP), 3 kernel/connected ignored", r.summary());
  }

  // ---------------------------------------------------------------- edge cases

  static Route bgp(String prefix, NextHop... hops) {
    return new Route(false, prefix, 254, FpmMessage.PROTOCOL_BGP, 1, 20, List.of(hops), 0);
  }

  static NextHop via(String gateway, int weight) {
    return new NextHop(IpAddress.parse(gateway), 9, weight);
  }

  static BgpRouteSpecs.Result convert(FpmMessage... messages) {
    return replay(List.of(messages));
  }

  @Test
  void weightsAndPortsPerPath() {
    BgpRouteSpecs.Result r =
        convert(
            bgp(
                "10.7.0.0/16",
                via("192.168.1.1", 1),
                via("192.168.2.1", 3),
                via("192.168.2.2", 256)));
    assertEquals(
        List.of(
            RouteSpec.multipath(
                "10.7.0.0/16",
                List.of(
                    new Path("192.168.1.1", "up0", 1),
                    new Path("192.168.2.1", "up1", 3),
                    new Path("192.168.2.2", "up1", 255)),
                BGP)),
        r.routes());
  }

  @Test
  void unusableNextHopsAreDroppedAndNoted() {
    BgpRouteSpecs.Result r =
        convert(
            bgp("10.7.0.0/16", via("192.168.1.1", 1), via("203.0.113.1", 1)),
            bgp("10.8.0.0/16", via("203.0.113.1", 1)),
            bgp("10.9.0.0/16", via("192.168.1.10", 1)),
            bgp("fd00:7::/64", via("192.168.1.1", 1)));
    assertEquals(List.of(plain("10.7.0.0/16", "192.168.1.1", "up0")), r.routes());
    assertEquals(
        List.of(
            new BgpRouteSpecs.LeftOut(
                "10.8.0.0/16", "via 203.0.113.1: not on-link on an uplink port"),
            new BgpRouteSpecs.LeftOut("10.9.0.0/16", "via 192.168.1.10: this node's own address"),
            new BgpRouteSpecs.LeftOut(
                "fd00:7::/64", "via 192.168.1.1: gateway of the other address family")),
        r.leftOut());
    assertEquals(
        List.of(
            new BgpRouteSpecs.LeftOut(
                "10.7.0.0/16", "via 203.0.113.1: not on-link on an uplink port")),
        r.notes());
  }

  @Test
  void theNodesOwnPrefixesAreLeftOut() {
    BgpRouteSpecs.Result r =
        convert(
            bgp("10.244.1.0/24", via("192.168.1.1", 1)),
            bgp("10.244.1.128/25", via("192.168.1.1", 1)),
            bgp("10.244.0.0/16", via("192.168.1.1", 1)), // covers it: fine, longest match
            bgp("192.168.2.10/32", via("192.168.1.1", 1)),
            bgp("192.168.2.0/24", via("192.168.1.1", 1)));
    assertEquals(List.of(plain("10.244.0.0/16", "192.168.1.1", "up0")), r.routes());
    assertEquals(
        List.of(
            "10.244.1.0/24: inside this node's pod CIDR 10.244.1.0/24",
            "10.244.1.128/25: inside this node's pod CIDR 10.244.1.0/24",
            "192.168.2.0/24: the subnet of uplink up1",
            "192.168.2.10/32: this node's own address (up1)"),
        r.leftOut().stream().map(Object::toString).toList());
  }

  @Test
  void otherTablesAreLeftOut() {
    Route vrf = new Route(false, "10.7.0.0/16", 1000, 186, 1, 0, List.of(via("192.168.1.1", 1)), 0);
    assertEquals(
        List.of(new BgpRouteSpecs.LeftOut("10.7.0.0/16", "table 1000, not the main table")),
        convert(vrf).leftOut());
  }

  @Test
  void theSameGatewayTwiceIsOnePath() {
    BgpRouteSpecs.Result r =
        convert(bgp("10.7.0.0/16", via("192.168.1.1", 2), via("192.168.1.1", 5)));
    assertEquals(List.of(plain("10.7.0.0/16", "192.168.1.1", "up0")), r.routes());
  }

  @Test
  void atMostSixteenPaths() {
    List<NextHop> hops = new ArrayList<>();
    for (int i = 1; i <= 18; i++) {
      hops.add(via("192.168.1." + i, 1));
    }
    BgpRouteSpecs.Result r = convert(bgp("10.7.0.0/16", hops.toArray(NextHop[]::new)));
    assertEquals(RouteSpec.MAX_PATHS, r.routes().get(0).paths().size());
    assertTrue(r.notes().get(0).why().contains("more than 16 paths"));
  }

  @Test
  void groupsWithWeightsAndUnknownObjects() {
    Nexthop a = new Nexthop(false, 1, IpAddress.parse("192.168.1.1"), 3, false, List.of());
    Nexthop b = new Nexthop(false, 2, IpAddress.parse("192.168.2.1"), 5, false, List.of());
    Nexthop group =
        new Nexthop(
            false, 3, null, 0, false, List.of(new GroupMember(1, 1), new GroupMember(2, 4)));
    Route viaGroup = new Route(false, "10.7.0.0/16", 254, 186, 1, 0, List.of(), 3);
    Route viaUnknown = new Route(false, "10.8.0.0/16", 254, 186, 1, 0, List.of(), 77);
    BgpRouteSpecs.Result r = convert(a, b, group, viaGroup, viaUnknown);
    assertEquals(
        List.of(
            RouteSpec.multipath(
                "10.7.0.0/16",
                List.of(new Path("192.168.1.1", "up0", 1), new Path("192.168.2.1", "up1", 4)),
                BGP)),
        r.routes());
    assertEquals(
        List.of(
            new BgpRouteSpecs.LeftOut(
                "10.8.0.0/16", "next-hop object 77 unknown (zebra has not sent it)")),
        r.leftOut());
  }

  // ---------------------------------------------------------------- the table's connections

  @Test
  void aNewConnectionKeepsTheRoutesUntilItsResyncThenDropsWhatWasNotResent() {
    AtomicInteger changes = new AtomicInteger();
    BgpRoutes table = new BgpRoutes(changes::incrementAndGet);
    long first = table.beginEpoch();
    table.apply(first, List.of(bgp("10.7.0.0/16", via("192.168.1.1", 1))));
    table.apply(first, List.of(bgp("10.8.0.0/16", via("192.168.1.1", 1))));
    assertEquals(2, changes.get());
    long second = table.beginEpoch();
    // the old connection's last words are ignored
    assertFalse(table.apply(first, List.of(bgp("10.9.0.0/16", via("192.168.1.1", 1)))));
    // re-sent unchanged: no change
    assertFalse(table.apply(second, List.of(bgp("10.7.0.0/16", via("192.168.1.1", 1)))));
    assertEquals(2, table.snapshot().routes().size());
    assertEquals(0, table.endResync(first)); // not the current connection's
    assertEquals(1, table.endResync(second));
    assertEquals(
        List.of("10.7.0.0/16"), table.snapshot().routes().stream().map(Route::prefix).toList());
    assertEquals(3, changes.get());
    assertEquals(1, table.clear());
    assertEquals(0, table.clear());
    assertEquals(4, changes.get());
  }
}
