package io.flatnet.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.config.MacAddress;
import io.flatnet.agent.state.InMemoryDataplane;
import io.flatnet.control.PodSpec;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.State;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's load/validate/diff/apply logic against {@link InMemoryDataplane}, a test double of
 * {@link io.flatnet.control.DataplaneApi} (acceptable here: this is the agent's pure-Java logic;
 * the router's implementation is tested against DPDK by its own tests).
 */
class AgentTest {

  @TempDir Path dir;
  Path config;
  InMemoryDataplane dp;

  @BeforeEach
  void setUp() throws Exception {
    config = dir.resolve("etc/node.yaml");
    Files.createDirectories(config.getParent());
    Files.writeString(config, TestConfigs.BASE);
    dp = new InMemoryDataplane();
  }

  Agent agent() throws Exception {
    return new Agent(
        Agent.Options.defaults(config)
            .withStateDir(dir.resolve("state"))
            .withVhostSocketDir(dir.resolve("vhost"))
            .withValidator(TestConfigs.VALIDATOR),
        dp);
  }

  static AgentProtocol.Request podAdd(
      String name, String containerId, String kind, List<String> ips) {
    return new AgentProtocol.Request(
        AgentProtocol.POD_ADD,
        name,
        containerId,
        kind,
        ips,
        null,
        null,
        "/var/run/netns/x",
        kind.equals("af_packet") ? "fnabc" : null);
  }

  static void await(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out");
      }
      Thread.sleep(20);
    }
  }

  /** Whether the default route goes via {@code via}; a reload in flight has it absent a moment. */
  boolean defaultRouteVia(String via) {
    RouteSpec route = dp.installed().routes().get("0.0.0.0/0");
    return route != null && via.equals(route.via());
  }

  @Test
  void runtimeRoutesAreValidatedKeptAndSurviveRestartAndReload() throws Exception {
    try (Agent a = agent()) {
      a.start();
      assertTrue(
          a.handle(AgentProtocol.Request.routeAdd("198.51.100.0/24", "192.0.2.7", "uplink0")).ok());
      assertEquals("192.0.2.7", dp.installed().routes().get("198.51.100.0/24").via());
      AgentProtocol.Response bad =
          a.handle(AgentProtocol.Request.routeAdd("203.0.113.0/24", "192.0.2.7", "nope"));
      assertFalse(bad.ok());
      assertTrue(bad.error().contains("unknown port"), bad.error());
      AgentProtocol.Response configured = a.handle(AgentProtocol.Request.routeDel("0.0.0.0/0"));
      assertFalse(configured.ok(), "a route of the config file is not ctl's to remove");
      assertTrue(a.reload().ok());
      assertTrue(dp.installed().routes().containsKey("198.51.100.0/24"), "reload keeps it");
    }
    dp = new InMemoryDataplane();
    try (Agent a = agent()) {
      a.start();
      assertTrue(dp.installed().routes().containsKey("198.51.100.0/24"), "restart restores it");
      assertTrue(a.handle(AgentProtocol.Request.routeDel("198.51.100.0/24")).ok());
      assertFalse(dp.installed().routes().containsKey("198.51.100.0/24"));
      assertTrue(a.handle(AgentProtocol.Request.routeDel("198.51.100.0/24")).ok(), "idempotent");
    }
    dp = new InMemoryDataplane();
    try (Agent a = agent()) {
      a.start();
      assertFalse(dp.installed().routes().containsKey("198.51.100.0/24"), "del is persisted");
    }
  }

  @Test
  void startAppliesAndARestartedAgentAppliesNothing() throws Exception {
    try (Agent a = agent()) {
      ApplyResult r = a.start();
      ApplyResult.Applied applied = assertInstanceOf(ApplyResult.Applied.class, r);
      assertEquals(1, applied.plan().generation());
      assertEquals(
          List.of(
              "addPort uplink0",
              "addPod default/a",
              "addRoute 0.0.0.0/0",
              "addRoute 10.244.2.0/24",
              "commit 1"),
          dp.calls);
    }
    int calls = dp.calls.size();
    try (Agent b = agent()) {
      assertEquals(new ApplyResult.Unchanged(1), b.start());
      assertEquals(calls, dp.calls.size(), "nothing torn down or re-added: " + dp.calls);
      assertEquals(1, b.generation());
      assertTrue(b.lastGoodConfig().isPresent());
    }
  }

  @Test
  void invalidConfigIsNeverAppliedAndTheOldStateKeepsRunning() throws Exception {
    try (Agent a = agent()) {
      a.start();
      State before = dp.installed();
      int calls = dp.calls.size();
      Files.writeString(
          config,
          TestConfigs.BASE
              .replace("ips: [10.244.1.10,", "ips: [10.9.9.9,")
              .replace("port: uplink0", "port: eth9"));
      ApplyResult.Rejected r = assertInstanceOf(ApplyResult.Rejected.class, a.reload());
      assertEquals(
          List.of(
              "pods[0].ips[0] \"10.9.9.9\": outside node.podCIDRs (10.244.1.0/24, fd00:244:1::/64)",
              "routes[0].port \"eth9\": unknown port (ports: uplink0)"),
          r.errors().stream().map(Object::toString).toList());
      assertEquals(before, dp.installed());
      assertEquals(calls, dp.calls.size());
      assertEquals(1, a.generation());
      assertEquals("10.244.1.10", a.lastGoodConfig().orElseThrow().pods().get(0).ips().get(0));

      Files.writeString(config, TestConfigs.BASE.replace("sockt", "socket") + "bogus: 1\n");
      assertInstanceOf(ApplyResult.Rejected.class, a.reload());
      assertEquals(before, dp.installed());
    }
  }

  @Test
  void noValidConfigAtStartTouchesNothing() throws Exception {
    Files.writeString(config, "node: {name: x}\n");
    try (Agent a = agent()) {
      assertInstanceOf(ApplyResult.Rejected.class, a.start());
      assertEquals(List.of(), dp.calls);
      assertTrue(a.lastGoodConfig().isEmpty());
      AgentProtocol.Response r =
          a.handle(podAdd("default/w", "c1", "vhost-user", List.of("10.244.1.20")));
      assertFalse(r.ok());
      assertTrue(r.wantsRetry());
      assertTrue(a.handle(AgentProtocol.Request.nodeInfo()).wantsRetry());
    }
  }

  @Test
  void onlyTheDifferenceIsApplied() throws Exception {
    try (Agent a = agent()) {
      a.start();
      dp.calls.clear();
      Files.writeString(config, TestConfigs.BASE.replace("via: 192.0.2.1", "via: 192.0.2.254"));
      ApplyResult.Applied r = assertInstanceOf(ApplyResult.Applied.class, a.reload());
      assertEquals(2, r.plan().generation());
      assertEquals(List.of("replaceRoute 0.0.0.0/0", "commit 2"), dp.calls);
      assertEquals(
          new RouteSpec("0.0.0.0/0", "192.0.2.254", "uplink0"),
          dp.installed().routes().get("0.0.0.0/0"));
      dp.calls.clear();
      assertEquals(new ApplyResult.Unchanged(2), a.reload());
      assertEquals(List.of(), dp.calls);
    }
  }

  @Test
  void reloadRepairsDrift() throws Exception {
    try (Agent a = agent()) {
      a.start();
      dp.removePod("default/a"); // someone else's doing
      dp.calls.clear();
      assertInstanceOf(ApplyResult.Applied.class, a.reload());
      assertEquals(List.of("addPod default/a", "commit 2"), dp.calls);
    }
  }

  @Test
  void aFailedApplyRestoresTheLastGoodState() throws Exception {
    try (Agent a = agent()) {
      a.start();
      State good = dp.installed();
      Files.writeString(
          config,
          TestConfigs.BASE
              .replace(
                  "routes:",
                  "  - {name: node-c, nodeIPs: [192.0.2.12], podCIDRs: [10.244.3.0/24]}\nroutes:")
              .replace("ips: [10.244.1.10,", "ips: [10.244.1.11,"));
      dp.failOn = c -> c.equals("addRoute 10.244.3.0/24");
      ApplyResult.Failed f = assertInstanceOf(ApplyResult.Failed.class, a.reload());
      assertTrue(f.rolledBack());
      assertTrue(f.error().contains("add route 10.244.3.0/24"), f.error());
      assertTrue(dp.installed().sameSpecs(good), dp.installed().toString());
      assertTrue(dp.installed().generation() > good.generation());
      assertEquals("10.244.1.10", a.lastGoodConfig().orElseThrow().pods().get(0).ips().get(0));
      dp.failOn = c -> false;
      assertInstanceOf(ApplyResult.Applied.class, a.reload());
      assertTrue(dp.installed().routes().containsKey("10.244.3.0/24"));
    }
  }

  @Test
  void concurrentRouteRequestsAreGatheredAndABadOneAnswersForItself() throws Exception {
    try (Agent a = agent()) {
      a.start();
      int before = (int) dp.calls.stream().filter(c -> c.startsWith("commit")).count();
      dp.failOn =
          c -> {
            if (c.startsWith("commit")) {
              try {
                Thread.sleep(5); // a dataplane that takes a while: requests queue up meanwhile
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }
            return false;
          };
      int threads = 8;
      int each = 25;
      List<String> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
      List<Thread> clients = new java.util.ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int id = t;
        clients.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      for (int i = 0; i < each; i++) {
                        AgentProtocol.Response r =
                            a.handle(
                                AgentProtocol.Request.routeAdd(
                                    "10.50." + id + "." + i + "/32", "192.0.2.1", "uplink0"));
                        if (!r.ok()) {
                          failures.add(r.error());
                        }
                        if (id == 0 && i == 10) {
                          AgentProtocol.Response bad =
                              a.handle(
                                  AgentProtocol.Request.routeAdd(
                                      "10.60.0.0/16", "192.0.2.1", "nope"));
                          if (bad.ok() || !bad.error().contains("nope")) {
                            failures.add("the bad request: " + bad);
                          }
                        }
                      }
                    }));
      }
      for (Thread t : clients) {
        t.join(60_000);
      }
      assertTrue(failures.isEmpty(), failures.toString());
      assertEquals(threads * each, a.runtimeRoutes().size());
      State installed = dp.installed();
      for (int t = 0; t < threads; t++) {
        assertTrue(installed.routes().containsKey("10.50." + t + ".24/32"));
      }
      assertFalse(installed.routes().containsKey("10.60.0.0/16"));
      long commits = dp.calls.stream().filter(c -> c.startsWith("commit")).count() - before;
      assertTrue(commits < threads * each, "gathered into fewer plans: " + commits);
    }
    try (Agent a = agent()) { // persisted: a restarted agent has them all
      assertEquals(8 * 25, a.runtimeRoutes().size());
    }
  }

  @Test
  void watchReloadsOnceAfterABurstOfWrites() throws Exception {
    // A long debounce, so a slow machine stalling between the writes still sees one burst.
    Agent.Options slow =
        Agent.Options.defaults(config)
            .withStateDir(dir.resolve("state"))
            .withVhostSocketDir(dir.resolve("vhost"))
            .withValidator(TestConfigs.VALIDATOR)
            .withDebounce(Duration.ofMillis(1000));
    try (Agent a = new Agent(slow, dp)) {
      a.start();
      a.watch();
      Thread.sleep(100);
      long g = a.generation();
      String[] vias = {"192.0.2.2", "192.0.2.3", "192.0.2.4"};
      for (String via : vias) {
        Path tmp = config.resolveSibling("..tmp");
        Files.writeString(tmp, TestConfigs.BASE.replace("via: 192.0.2.1", "via: " + via));
        Files.move(
            tmp, config, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Thread.sleep(30);
      }
      await(() -> defaultRouteVia("192.0.2.4"));
      Thread.sleep(1200);
      assertEquals(g + 1, a.generation(), "one debounced reload: " + dp.calls);
      // Touching another file in the directory changes nothing.
      Files.writeString(config.resolveSibling("unrelated"), "x");
      Thread.sleep(1500);
      assertEquals(g + 1, a.generation());
    }
  }

  @Test
  void theWatcherSurvivesAReloadThatThrowsAndAppliesTheNextGoodFile() throws Exception {
    java.util.concurrent.atomic.AtomicBoolean explode =
        new java.util.concurrent.atomic.AtomicBoolean();
    // The dataplane blows up with an unexpected exception while the bad file is being applied.
    io.flatnet.control.DataplaneApi exploding =
        new io.flatnet.control.DataplaneApi() {
          @Override
          public io.flatnet.control.State installed() {
            if (explode.getAndSet(false)) {
              throw new IllegalStateException("unexpected: dataplane table vanished");
            }
            return dp.installed();
          }

          @Override
          public void addPort(io.flatnet.control.PortSpec port) {
            dp.addPort(port);
          }

          @Override
          public void removePort(String name) {
            dp.removePort(name);
          }

          @Override
          public void addPod(io.flatnet.control.PodSpec pod) {
            dp.addPod(pod);
          }

          @Override
          public void removePod(String name) {
            dp.removePod(name);
          }

          @Override
          public void addRoute(io.flatnet.control.RouteSpec route) {
            dp.addRoute(route);
          }

          @Override
          public void removeRoute(io.flatnet.control.RouteSpec route) {
            dp.removeRoute(route);
          }

          @Override
          public void setPolicy(io.flatnet.control.PolicySpec policy) {
            dp.setPolicy(policy);
          }

          @Override
          public void removePolicy(String pod) {
            dp.removePolicy(pod);
          }

          @Override
          public void commit(long generation) {
            dp.commit(generation);
          }
        };
    Agent.Options options =
        Agent.Options.defaults(config)
            .withStateDir(dir.resolve("state"))
            .withVhostSocketDir(dir.resolve("vhost"))
            .withValidator(TestConfigs.VALIDATOR)
            .withDebounce(Duration.ofMillis(100));
    try (Agent a = new Agent(options, exploding)) {
      a.start();
      a.watch();
      Thread.sleep(100);
      explode.set(true);
      Files.writeString(config, TestConfigs.BASE.replace("via: 192.0.2.1", "via: 192.0.2.2"));
      await(() -> !explode.get()); // the reload ran and threw
      Thread.sleep(300);
      Files.writeString(config, TestConfigs.BASE.replace("via: 192.0.2.1", "via: 192.0.2.3"));
      await(() -> defaultRouteVia("192.0.2.3"));
    }
  }

  @Test
  void atStartIpamAddressesOfContainersThatAreNoPodAreFreed() throws Exception {
    Path ipamRoot = dir.resolve("ipam");
    List<io.flatnet.agent.config.IpNet> ranges =
        List.of(io.flatnet.agent.config.IpNet.parse("10.244.1.0/24"));
    io.flatnet.agent.ipam.Ipam store =
        new io.flatnet.agent.ipam.Ipam(ipamRoot, "flatnet", ranges, List.of());
    try (Agent a = agent()) {
      a.start();
      var live = store.allocate("c-live", "eth0");
      assertTrue(
          a.handle(podAdd("ns/live", "c-live", "vhost-user", List.of(live.get(0).toString())))
              .ok());
    }
    store.allocate("c-gone", "eth0"); // its pod was deleted while DEL never came
    var adding = store.allocate("c-adding", "eth0"); // an ADD in flight: fresh
    java.nio.file.attribute.FileTime hourAgo =
        java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 3_600_000);
    try (var files = Files.list(ipamRoot.resolve("flatnet"))) {
      for (Path f : files.toList()) {
        if (!f.getFileName().toString().equals(adding.get(0).toString())) {
          Files.setLastModifiedTime(f, hourAgo);
        }
      }
    }
    Agent.Options withIpam =
        Agent.Options.defaults(config)
            .withStateDir(dir.resolve("state"))
            .withVhostSocketDir(dir.resolve("vhost"))
            .withValidator(TestConfigs.VALIDATOR)
            .withIpamDir(ipamRoot);
    // An unreadable pod record: any pod could be live, so nothing is collected.
    Path bad = dir.resolve("state/pods/x.json.bad");
    Files.writeString(bad, "{");
    try (Agent a = new Agent(withIpam, dp)) {
      a.start();
      assertEquals(3, store.allocated().size());
    }
    Files.delete(bad);
    try (Agent a = new Agent(withIpam, dp)) {
      a.start();
      assertEquals(
          java.util.Set.of(store.get("c-live", "eth0").get(0), adding.get(0)), store.allocated());
      assertEquals(java.util.Map.of(), a.collectIpam(), "nothing more to free");
    }
  }

  @Test
  void cniPodsAreAddedPersistedAndDeleted() throws Exception {
    try (Agent a = agent()) {
      a.start();
      AgentProtocol.Response r =
          a.handle(
              podAdd("kube/web", "c1", "vhost-user", List.of("10.244.1.20", "fd00:244:1::20")));
      assertTrue(r.ok(), r.toString());
      assertEquals(dir.resolve("vhost/kube_web.sock").toString(), r.socket());
      assertEquals(MacAddress.derive("kube/web"), r.mac());
      PodSpec p = dp.installed().pods().get("kube/web");
      assertEquals("server", p.mode());
      assertEquals(List.of("169.254.1.1", "fe80::1"), p.gateways());
      assertTrue(Files.exists(dir.resolve("state/pods/kube%2Fweb.json")));
      // The same ADD again is idempotent.
      int calls = dp.calls.size();
      assertTrue(
          a.handle(podAdd("kube/web", "c1", "vhost-user", List.of("10.244.1.20", "fd00:244:1::20")))
              .ok());
      assertEquals(calls, dp.calls.size());
      assertTrue(a.handle(AgentProtocol.Request.podCheck("kube/web", "c1")).ok());
    }
    // A restarted agent knows the pod and changes nothing.
    int calls = dp.calls.size();
    try (Agent b = agent()) {
      assertInstanceOf(ApplyResult.Unchanged.class, b.start());
      assertEquals(calls, dp.calls.size());
      // A stale DEL (another sandbox) does nothing.
      assertTrue(b.handle(AgentProtocol.Request.podDel("kube/web", "old-sandbox")).ok());
      assertTrue(dp.installed().pods().containsKey("kube/web"));
      assertTrue(b.handle(AgentProtocol.Request.podDel("kube/web", "c1")).ok());
      assertFalse(dp.installed().pods().containsKey("kube/web"));
      assertFalse(Files.exists(dir.resolve("state/pods/kube%2Fweb.json")));
      // DEL of what is gone succeeds.
      assertTrue(b.handle(AgentProtocol.Request.podDel("kube/web", "c1")).ok());
      assertFalse(b.handle(AgentProtocol.Request.podCheck("kube/web", "c1")).ok());
    }
  }

  @Test
  void afPacketPodGetsItsHostInterface() throws Exception {
    try (Agent a = agent()) {
      a.start();
      assertTrue(a.handle(podAdd("kube/n", "c2", "af_packet", List.of("10.244.1.21"))).ok());
      PodSpec p = dp.installed().pods().get("kube/n");
      assertEquals("fnabc", p.iface());
      assertNull(p.socket());
      assertEquals(List.of("169.254.1.1"), p.gateways());
    }
  }

  @Test
  void invalidCniPodIsRefusedWithThePathAndValue() throws Exception {
    try (Agent a = agent()) {
      a.start();
      State before = dp.installed();
      AgentProtocol.Response r =
          a.handle(podAdd("kube/bad", "c3", "af_packet", List.of("10.9.9.9")));
      assertFalse(r.ok());
      assertEquals(
          "cniPods[kube/bad].ips[0] \"10.9.9.9\": outside node.podCIDRs (10.244.1.0/24, fd00:244:1::/64)",
          r.error());
      r = a.handle(podAdd("kube/dup", "c3", "af_packet", List.of("10.244.1.10")));
      assertEquals(
          "cniPods[kube/dup].ips[0] \"10.244.1.10\": duplicate address: also pods[0].ips[0]",
          r.error());
      assertFalse(a.handle(podAdd("default/a", "c3", "af_packet", List.of("10.244.1.30"))).ok());
      assertFalse(a.handle(podAdd("kube/x", "c3", "veth", List.of("10.244.1.30"))).ok());
      assertFalse(a.handle(AgentProtocol.Request.podDel("default/a", "c3")).ok());
      assertEquals(before, dp.installed());
    }
  }

  @Test
  void aConfigThatConflictsWithACniPodIsRejected() throws Exception {
    try (Agent a = agent()) {
      a.start();
      assertTrue(a.handle(podAdd("kube/web", "c1", "af_packet", List.of("10.244.1.20"))).ok());
      Files.writeString(
          config,
          TestConfigs.BASE.replace(
              "peers:",
              "  - {name: default/b, kind: tap, interface: tb, ips: [10.244.1.20]}\npeers:"));
      ApplyResult.Rejected r = assertInstanceOf(ApplyResult.Rejected.class, a.reload());
      assertEquals(
          List.of(
              "cniPods[kube/web].ips[0] \"10.244.1.20\": duplicate address: also pods[1].ips[0]"),
          r.errors().stream().map(Object::toString).toList());
    }
  }

  @Test
  void applyFailureOfACniPodRollsBackItsRecord() throws Exception {
    try (Agent a = agent()) {
      a.start();
      dp.failOn = c -> c.equals("addPod kube/web");
      AgentProtocol.Response r =
          a.handle(podAdd("kube/web", "c1", "af_packet", List.of("10.244.1.20")));
      assertFalse(r.ok());
      assertTrue(r.error().contains("injected failure"), r.error());
      assertFalse(Files.exists(dir.resolve("state/pods/kube%2Fweb.json")));
      dp.failOn = c -> false;
      assertInstanceOf(ApplyResult.Unchanged.class, a.reload());
    }
  }

  @Test
  void podCheckNoticesAPodMissingFromTheDataplane() throws Exception {
    try (Agent a = agent()) {
      a.start();
      assertTrue(a.handle(podAdd("kube/web", "c1", "af_packet", List.of("10.244.1.20"))).ok());
      dp.removePod("kube/web");
      AgentProtocol.Response r = a.handle(AgentProtocol.Request.podCheck("kube/web", "c1"));
      assertFalse(r.ok());
      assertTrue(r.error().contains("not installed"), r.error());
      assertFalse(a.handle(AgentProtocol.Request.podCheck("kube/web", "other")).ok());
    }
  }

  @Test
  void nodeInfo() throws Exception {
    try (Agent a = agent()) {
      a.start();
      AgentProtocol.Response r = a.handle(AgentProtocol.Request.nodeInfo());
      assertEquals(List.of("10.244.1.0/24", "fd00:244:1::/64"), r.podCIDRs());
      assertEquals(List.of("169.254.1.1", "fe80::1"), r.gateways());
      assertFalse(
          a.handle(
                  new AgentProtocol.Request("nope", null, null, null, null, null, null, null, null))
              .ok());
    }
  }

  @Test
  void longPodNamesGetAHashedSocket() throws Exception {
    try (Agent a = agent()) {
      String name = "ns/" + "p".repeat(120);
      Path s = a.defaultSocket(name);
      assertTrue(s.getFileName().toString().matches("pod-[0-9a-f]{10}\\.sock"), s.toString());
      assertEquals(s, a.defaultSocket(name));
    }
  }
}
