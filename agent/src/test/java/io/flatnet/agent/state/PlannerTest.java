package io.flatnet.agent.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.TestConfigs;
import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.control.DataplaneApi;
import io.flatnet.control.PodSpec;
import io.flatnet.control.PolicySpec;
import io.flatnet.control.PortSpec;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.State;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Diffing and ordering; plans are applied to {@link InMemoryDataplane}, a test double of {@link
 * DataplaneApi} that refuses out-of-order calls (pure-Java planner logic, no DPDK).
 */
class PlannerTest {

  static PortSpec port(String name, int mtu) {
    return new PortSpec(name, "dev-" + name, "uplink", List.of("192.0.2.10/24"), mtu);
  }

  static PodSpec pod(String name, String ip) {
    return new PodSpec(
        name,
        "tap",
        null,
        null,
        "t-" + name.replace('/', '-'),
        List.of(ip),
        null,
        List.of("169.254.1.1"));
  }

  static RouteSpec route(String prefix, String via, String port) {
    return new RouteSpec(prefix, via, port);
  }

  static List<String> ops(Plan p) {
    return p.operations().stream()
        .map(o -> o.action() + " " + o.spec().resource() + " " + o.spec().key())
        .toList();
  }

  @Test
  void equalStatesGiveAnEmptyPlan() {
    State s =
        State.of(
            3,
            List.of(port("u", 1500)),
            List.of(pod("a/b", "10.0.0.2")),
            List.of(route("0.0.0.0/0", "192.0.2.1", "u")));
    Plan p = Planner.plan(s, s.withGeneration(0), 4);
    assertTrue(p.isEmpty());
    assertEquals("generation 4: no changes", p.toString());
  }

  @Test
  void fromEmptyAddsPortsThenPodsThenRoutes() {
    State want =
        State.of(
            0,
            List.of(port("u", 1500)),
            List.of(pod("a/b", "10.0.0.2")),
            List.of(route("0.0.0.0/0", "192.0.2.1", "u")));
    assertEquals(
        List.of("ADD PORT u", "ADD POD a/b", "ADD ROUTE 0.0.0.0/0"),
        ops(Planner.plan(State.EMPTY, want, 1)));
  }

  @Test
  void orderRemoveRoutesPodsPortsThenAddsThenUpdates() {
    State have =
        State.of(
            1,
            List.of(port("u", 1500), port("old", 1500)),
            List.of(pod("a/gone", "10.0.0.2"), pod("a/keep", "10.0.0.3")),
            List.of(
                route("10.1.0.0/16", "192.0.2.1", "old"), route("10.2.0.0/16", "192.0.2.1", "u")));
    State want =
        State.of(
            0,
            List.of(port("u", 1500), port("new", 1500)),
            List.of(pod("a/keep", "10.0.0.3"), pod("a/new", "10.0.0.4")),
            List.of(
                route("10.2.0.0/16", "192.0.2.2", "u"), route("10.3.0.0/16", "192.0.2.1", "new")));
    Plan p = Planner.plan(have, want, 2);
    assertEquals(
        List.of(
            "REMOVE ROUTE 10.1.0.0/16",
            "REMOVE POD a/gone",
            "REMOVE PORT old",
            "ADD PORT new",
            "ADD POD a/new",
            "ADD ROUTE 10.3.0.0/16",
            "UPDATE ROUTE 10.2.0.0/16"),
        ops(p));
    assertEquals("changed: via", p.operations().get(6).reason());
    InMemoryDataplane dp = new InMemoryDataplane();
    Planner.plan(State.EMPTY, have, 1).applyTo(dp);
    p.applyTo(dp);
    assertTrue(dp.installed().sameSpecs(want));
    assertEquals(2, dp.installed().generation());
  }

  @Test
  void changedPodIsRemovedBeforeAnyAddSoAddressesCanMove() {
    // a/x gives 10.0.0.2 to the new a/y and takes 10.0.0.9.
    State have = State.of(1, List.of(), List.of(pod("a/x", "10.0.0.2")), List.of());
    State want =
        State.of(0, List.of(), List.of(pod("a/x", "10.0.0.9"), pod("a/y", "10.0.0.2")), List.of());
    Plan p = Planner.plan(have, want, 2);
    assertEquals(List.of("REMOVE POD a/x", "ADD POD a/x", "ADD POD a/y"), ops(p));
    assertEquals("replaced: ips", p.operations().get(0).reason());
    InMemoryDataplane dp = new InMemoryDataplane();
    Planner.plan(State.EMPTY, have, 1).applyTo(dp);
    p.applyTo(dp); // the double refuses an address held twice
    assertTrue(dp.installed().sameSpecs(want));
  }

  @Test
  void routesOnAReplacedPortAreReAdded() {
    State have =
        State.of(
            1, List.of(port("u", 1500)), List.of(), List.of(route("0.0.0.0/0", "192.0.2.1", "u")));
    State want =
        State.of(
            0, List.of(port("u", 9000)), List.of(), List.of(route("0.0.0.0/0", "192.0.2.1", "u")));
    Plan p = Planner.plan(have, want, 2);
    assertEquals(
        List.of("REMOVE ROUTE 0.0.0.0/0", "REMOVE PORT u", "ADD PORT u", "ADD ROUTE 0.0.0.0/0"),
        ops(p));
    InMemoryDataplane dp = new InMemoryDataplane();
    Planner.plan(State.EMPTY, have, 1).applyTo(dp);
    p.applyTo(dp);
    assertTrue(dp.installed().sameSpecs(want));
  }

  @Test
  void failedOperationIsNamedAndNotCommitted() {
    State want = State.of(0, List.of(port("u", 1500)), List.of(pod("a/b", "10.0.0.2")), List.of());
    InMemoryDataplane dp = new InMemoryDataplane();
    dp.failOn = c -> c.equals("addPod a/b");
    Plan p = Planner.plan(State.EMPTY, want, 1);
    PlanApplyException e = assertThrows(PlanApplyException.class, () -> p.applyTo(dp));
    assertEquals(1, e.index());
    assertTrue(e.getMessage().contains("operation 2/2 failed: add pod a/b"), e.getMessage());
    assertEquals(0, dp.installed().generation());
  }

  @Test
  void desiredStateFromConfigIsCanonical() throws Exception {
    NodeConfig c1 = ConfigLoader.parse(TestConfigs.BASE, "t");
    NodeConfig c2 =
        ConfigLoader.parse(
            TestConfigs.BASE
                .replace("\"fd00:244:1::10\"", "\"FD00:244:1:0:0:0:0:10\"")
                .replace("02:00:00:00:01:0a", "02:00:00:00:01:0A"),
            "t");
    State s1 = DesiredState.from(c1, List.of());
    State s2 = DesiredState.from(c2, List.of());
    assertTrue(Planner.plan(s1, s2, 2).isEmpty());
    PodSpec a = s1.pods().get("default/a");
    assertEquals(List.of("10.244.1.10", "fd00:244:1::10"), a.ips());
    assertEquals(List.of("169.254.1.1", "fe80::1"), a.gateways());
    assertEquals("client", a.mode());
    assertEquals(
        new RouteSpec("10.244.2.0/24", "192.0.2.11", "uplink0", RouteSpec.ORIGIN_PEER),
        s1.routes().get("10.244.2.0/24"));
    assertEquals(new RouteSpec("0.0.0.0/0", "192.0.2.1", "uplink0"), s1.routes().get("0.0.0.0/0"));
    assertEquals(List.of("192.0.2.10/24"), s1.ports().get("uplink0").addresses());
    assertNull(s1.routes().get("10.96.0.0/12"), "no host port: no kernel for service CIDRs");
  }

  @Test
  void docExampleDesiredState() throws Exception {
    NodeConfig c = ConfigLoader.parse(TestConfigs.docExample(), "docs");
    State s = DesiredState.from(c, List.of());
    assertEquals(2, s.ports().size());
    assertEquals(2, s.pods().size());
    assertEquals(6, s.routes().size());
    assertEquals(
        new RouteSpec("fd00:244:2::/64", "2001:db8:0:1::11", "uplink0", RouteSpec.ORIGIN_PEER),
        s.routes().get("fd00:244:2::/64"));
    // Service CIDRs go to the kernel (kube-proxy), via the node address it keeps on the TAP.
    assertEquals(
        new RouteSpec("10.96.0.0/12", "192.0.2.10", "host0", RouteSpec.ORIGIN_SERVICE),
        s.routes().get("10.96.0.0/12"));
    assertEquals(
        new RouteSpec("fd00:96::/108", "2001:db8:0:1::10", "host0", RouteSpec.ORIGIN_SERVICE),
        s.routes().get("fd00:96::/108"));
    assertEquals(List.of("169.254.1.1"), s.pods().get("default/legacy").gateways());
  }

  static PolicySpec denyIngress(String pod, String ip) {
    return new PolicySpec(pod, List.of(ip), true, false, List.of(), List.of());
  }

  @Test
  void aNewPodsPolicyIsSetBeforeThePodAndAGonePodsIsRemovedLast() {
    State have = State.of(1, List.of(port("u", 1500)), List.of(pod("x/a", "10.0.0.2")), List.of());
    State want =
        State.of(
            0,
            List.of(port("u", 1500)),
            List.of(pod("x/b", "10.0.0.3")),
            List.of(),
            List.of(denyIngress("x/b", "10.0.0.3")));
    Plan p = Planner.plan(have, want, 2);
    assertEquals(List.of("ADD POLICY x/b", "REMOVE POD x/a", "ADD POD x/b"), ops(p));
    InMemoryDataplane dp = new InMemoryDataplane();
    Planner.plan(State.EMPTY, have, 1).applyTo(dp);
    p.applyTo(dp);
    assertTrue(dp.installed().sameSpecs(want));

    State gone = State.of(0, List.of(port("u", 1500)), List.of(), List.of());
    assertEquals(List.of("REMOVE POD x/b", "REMOVE POLICY x/b"), ops(Planner.plan(want, gone, 3)));
  }

  @Test
  void aChangedPolicyIsUpdatedInPlaceAndAnUnchangedOneIsLeftAlone() {
    PolicySpec before = denyIngress("x/a", "10.0.0.2");
    PolicySpec after = new PolicySpec("x/a", List.of("10.0.0.2"), true, true, List.of(), List.of());
    State have =
        State.of(1, List.of(), List.of(pod("x/a", "10.0.0.2")), List.of(), List.of(before));
    assertTrue(Planner.plan(have, have.withGeneration(0), 2).isEmpty());
    State want = State.of(0, List.of(), List.of(pod("x/a", "10.0.0.2")), List.of(), List.of(after));
    Plan p = Planner.plan(have, want, 2);
    assertEquals(List.of("UPDATE POLICY x/a"), ops(p));
    assertTrue(p.operations().get(0).reason().contains("egressIsolated"), p.toString());
  }
}
