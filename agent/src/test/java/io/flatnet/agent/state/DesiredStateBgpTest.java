package io.flatnet.agent.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.TestConfigs;
import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.control.PortSpec;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.RouteSpec.Path;
import io.flatnet.control.State;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Routes from zebra in the desired state: precedence of the other sources, and ECMP plans. */
class DesiredStateBgpTest {

  static RouteSpec bgp(String prefix, String via) {
    return new RouteSpec(prefix, via, "uplink0", RouteSpec.ORIGIN_BGP);
  }

  @Test
  void configPeersAndServicesWinAPrefixBgpAddsTheRest() throws Exception {
    NodeConfig c = ConfigLoader.parse(TestConfigs.docExample(), "docs");
    List<RouteSpec> fromZebra =
        List.of(
            bgp("0.0.0.0/0", "192.0.2.254"), // routes[]
            bgp("10.244.2.0/24", "192.0.2.254"), // peers[] (and Kubernetes Node peers)
            bgp("10.96.0.0/12", "192.0.2.254"), // a service CIDR
            bgp("10.244.3.0/24", "192.0.2.13"), // nobody else's
            bgp("fd00:244:3::/64", "2001:db8:0:1::13"));
    State without = DesiredState.from(c, List.of());
    State with = DesiredState.from(c, List.of(), fromZebra);
    assertEquals(without.routes().size() + 2, with.routes().size());
    for (String prefix : List.of("0.0.0.0/0", "10.244.2.0/24", "10.96.0.0/12")) {
      assertEquals(without.routes().get(prefix), with.routes().get(prefix), prefix);
    }
    assertEquals(bgp("10.244.3.0/24", "192.0.2.13"), with.routes().get("10.244.3.0/24"));
    assertEquals(bgp("fd00:244:3::/64", "2001:db8:0:1::13"), with.routes().get("fd00:244:3::/64"));
    // the old signature is the state without BGP routes
    assertEquals(without, DesiredState.from(c, List.of(), List.of()));
  }

  @Test
  void anEcmpRouteIsRemovedAndReAddedWhenOneOfItsPortsIsReplaced() {
    PortSpec a = new PortSpec("a", "dev-a", "uplink", List.of("192.0.2.10/24"), 1500);
    PortSpec b = new PortSpec("b", "dev-b", "uplink", List.of("198.51.100.10/24"), 1500);
    PortSpec b2 = new PortSpec("b", "dev-b2", "uplink", List.of("198.51.100.10/24"), 1500);
    RouteSpec ecmp =
        RouteSpec.multipath(
            "10.7.0.0/16",
            List.of(new Path("192.0.2.1", "a", 1), new Path("198.51.100.1", "b", 2)),
            RouteSpec.ORIGIN_BGP);
    InMemoryDataplane dp = new InMemoryDataplane();
    State first = State.of(1, List.of(a, b), List.of(), List.of(ecmp));
    Planner.plan(dp.installed(), first, 1).applyTo(dp);
    assertEquals(ecmp, dp.installed().routes().get("10.7.0.0/16"));
    State second = State.of(2, List.of(a, b2), List.of(), List.of(ecmp));
    Plan p = Planner.plan(dp.installed(), second, 2);
    assertTrue(p.toString().contains("port b is replaced"), p.toString());
    p.applyTo(dp);
    assertEquals(ecmp, dp.installed().routes().get("10.7.0.0/16"));
    assertEquals("dev-b2", dp.installed().ports().get("b").device());
    // and an ECMP route that loses a path is one update
    RouteSpec single = new RouteSpec("10.7.0.0/16", "192.0.2.1", "a", RouteSpec.ORIGIN_BGP);
    Plan shrink =
        Planner.plan(dp.installed(), State.of(3, List.of(a, b2), List.of(), List.of(single)), 3);
    assertEquals(1, shrink.operations().size());
    shrink.applyTo(dp);
    assertEquals(single, dp.installed().routes().get("10.7.0.0/16"));
  }

  @Test
  void eachBgpNeighbourIsRoutedViaItselfUnlessTheConfigRoutesItsAddress() throws Exception {
    String yaml =
        TestConfigs.docExample()
            + "\nbgp:\n  asn: 65011\n  neighbors:\n"
            + "    - {address: 192.0.2.1, asn: 65001}\n"
            + "    - {address: 2001:db8:0:1::1, asn: 65001}\n";
    NodeConfig c = ConfigLoader.parse(yaml, "bgp");
    State s = DesiredState.from(c, List.of(), List.of(bgp("192.0.2.1/32", "192.0.2.254")));
    assertEquals(
        new RouteSpec("192.0.2.1/32", "192.0.2.1", "uplink0", RouteSpec.ORIGIN_BGP_NEIGHBOR),
        s.routes().get("192.0.2.1/32"),
        "the neighbour's own route wins over one zebra gives for its address");
    assertEquals(
        new RouteSpec(
            "2001:db8:0:1::1/128", "2001:db8:0:1::1", "uplink0", RouteSpec.ORIGIN_BGP_NEIGHBOR),
        s.routes().get("2001:db8:0:1::1/128"));
    assertTrue(DesiredState.from(c, List.of()).routes().containsKey("192.0.2.1/32"));
  }
}
