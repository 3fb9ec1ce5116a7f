package io.flatnet.agent.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.flatnet.agent.api.AgentClient;
import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.config.ConfigValidator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CNI plugin as kubelet runs it, against a real router: {@code bin/flatnet-cni} (a new JVM per
 * call) ADDs 50 network-namespace pods, ten at a time, to a router child process (RouterMain with
 * its agent, in its own namespace, which plays the node's host namespace: the plugin runs there
 * too); every result is checked against the CNI 1.0.0 result shape, CHECK passes for all, pods ping
 * each other and their gateways through the router, and DEL (again for a sample: idempotent)
 * removes them from the router. Needs root, hugepages, ip/ping/ethtool.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CniEndToEndTest {

  static final ObjectMapper JSON = JsonMapper.builder().build();
  static final int PODS = 50;
  static final int CONCURRENCY = 10;

  Path dir;
  RouterChild router;

  record Run(int exit, String stdout, String stderr, long millis) {
    JsonNode json() throws IOException {
      return JSON.readTree(stdout);
    }
  }

  @BeforeAll
  void startRouter(@TempDir Path tmp) throws Exception {
    dir = tmp;
    Assumptions.assumeTrue(
        "0".equals(RouterChild.sh("id", "-u").output().strip()), "needs root (netns, veth)");
    router = new RouterChild("fnc", dir);
    router.start();
  }

  @AfterAll
  void stopRouter() throws Exception {
    if (router != null) {
      Files.writeString(Path.of("target", "cni-e2e-router.log"), router.logText());
      for (int i = 0; i < PODS; i++) {
        RouterChild.sh("ip", "netns", "del", podNs(i));
      }
      router.close();
    }
  }

  static String podNs(int i) {
    return String.format(Locale.ROOT, "fnc-p%02d", i);
  }

  static String containerId(int i) {
    return String.format(Locale.ROOT, "e2e%02dc0ffee", i);
  }

  String conf() {
    return router.conf();
  }

  Run cni(String command, int pod, String stdin) throws Exception {
    RouterChild.Cni r = router.cni(command, containerId(pod), podNs(pod), "e2e/web-" + pod, stdin);
    return new Run(r.exit(), r.stdout(), r.stderr(), r.millis());
  }

  /** Runs {@code command} for every pod, {@link #CONCURRENCY} at a time. */
  List<Run> all(String command, List<Integer> pods, java.util.function.IntFunction<String> stdin)
      throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(CONCURRENCY);
    try {
      List<Future<Run>> futures = new ArrayList<>();
      for (int pod : pods) {
        futures.add(pool.submit(() -> cni(command, pod, stdin.apply(pod))));
      }
      List<Run> runs = new ArrayList<>();
      for (Future<Run> f : futures) {
        runs.add(f.get(120, TimeUnit.SECONDS));
      }
      return runs;
    } finally {
      pool.shutdownNow();
    }
  }

  static String summary(String what, List<Run> runs, long wallMillis) {
    long sum = runs.stream().mapToLong(Run::millis).sum();
    long max = runs.stream().mapToLong(Run::millis).max().orElse(0);
    return String.format(
        Locale.ROOT,
        "%s x%d: wall %d ms (%d ms per call at %d concurrent), per call mean %d ms, max %d ms",
        what,
        runs.size(),
        wallMillis,
        wallMillis / Math.max(1, runs.size()),
        CONCURRENCY,
        sum / Math.max(1, runs.size()),
        max);
  }

  AgentProtocol.Response agent(AgentProtocol.Request request) throws IOException {
    return new AgentClient(router.socket(), Duration.ofSeconds(10)).call(request);
  }

  static boolean ping(String ns, String target, boolean v6, String... options) {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns, "ping"));
    if (v6) {
      cmd.add("-6");
    }
    cmd.addAll(List.of(options));
    cmd.addAll(List.of("-c", "3", "-i", "0.2", "-W", "1", "-w", "4", target));
    return RouterChild.sh(cmd, 10).ok(); // at least one reply
  }

  @Test
  void fiftyNetnsPodsAsKubeletWould() throws Exception {
    List<String> report = new ArrayList<>();
    List<Integer> everyPod = new ArrayList<>();
    for (int i = 0; i < PODS; i++) {
      RouterChild.sh("ip", "netns", "del", podNs(i));
      RouterChild.must("ip", "netns", "add", podNs(i));
      everyPod.add(i);
    }
    String conf = conf();
    // One DPDK ethdev per pod, and one for the uplink: the router holds at most 31 pods here.
    int capacity = ConfigValidator.MAX_DEVICES - 1;

    // ADD all 50: the first 31 to reach the agent are attached, the rest are refused cleanly
    long t0 = System.nanoTime();
    List<Run> adds = all("ADD", everyPod, i -> conf);
    long addWall = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    report.add(summary("ADD", adds, addWall));
    Set<String> v4 = new HashSet<>();
    Set<String> v6 = new HashSet<>();
    Map<Integer, JsonNode> results = new TreeMap<>();
    for (int i = 0; i < PODS; i++) {
      Run r = adds.get(i);
      JsonNode res = r.json();
      if (r.exit() != 0) {
        assertEquals(CniError.AGENT_REJECTED, res.path("code").asInt(), "ADD " + i + ": " + r);
        assertTrue(res.path("details").asText().contains("RTE_MAX_ETHPORTS"), r.toString());
        assertFalse(
            RouterChild.shIn(router.ns, "ip", "link", "show", hostIface(i)).ok(),
            "a refused ADD left its host veth end " + hostIface(i));
        assertTrue(
            RouterChild.shIn(podNs(i), "ip", "-o", "link").output().lines().count() == 1,
            "a refused ADD left an interface in " + podNs(i));
        continue;
      }
      results.put(i, res);
      assertSpecShaped(res, i);
      v4.add(res.path("ips").get(0).path("address").asText());
      v6.add(res.path("ips").get(1).path("address").asText());
    }
    assertEquals(capacity, results.size(), "attached pods; router log:\n" + router.logText());
    assertEquals(capacity, v4.size(), "distinct IPv4 addresses: " + v4);
    assertEquals(capacity, v6.size(), "distinct IPv6 addresses: " + v6);
    assertEquals(
        2 * capacity, ipamFiles().size(), "IPAM holds exactly the attached pods' addresses");
    report.add(
        results.size()
            + " pods attached with "
            + v4.size()
            + " distinct IPv4 + "
            + v6.size()
            + " distinct IPv6 addresses; "
            + (PODS - results.size())
            + " refused (RTE_MAX_ETHPORTS), nothing left behind");
    List<Integer> attached = List.copyOf(results.keySet());

    // CHECK, with each pod's ADD result as prevResult
    t0 = System.nanoTime();
    List<Run> checks =
        all(
            "CHECK",
            attached,
            i -> {
              ObjectNode c;
              try {
                c = (ObjectNode) JSON.readTree(conf);
              } catch (IOException e) {
                throw new IllegalStateException(e);
              }
              c.set("prevResult", results.get(i));
              return c.toString();
            });
    report.add(summary("CHECK", checks, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)));
    for (Run check : checks) {
      assertEquals(0, check.exit(), "CHECK: " + check);
      assertEquals("", check.stdout().strip());
    }

    // forwarding: 5 pairs, v4 both ways and v6, and the gateways
    int pings = 0;
    for (int k = 0; k < 5; k++) {
      int a = attached.get(k);
      int b = attached.get(attached.size() - 1 - k);
      String bv4 = address(results.get(b), 0);
      String bv6 = address(results.get(b), 1);
      String av4 = address(results.get(a), 0);
      assertTrue(ping(podNs(a), bv4, false), podNs(a) + " -> " + bv4 + "\n" + router.logText());
      assertTrue(ping(podNs(b), av4, false), podNs(b) + " -> " + av4);
      assertTrue(ping(podNs(a), bv6, true), podNs(a) + " -> " + bv6);
      assertTrue(ping(podNs(a), "169.254.1.1", false), podNs(a) + " -> 169.254.1.1");
      assertTrue(ping(podNs(b), "169.254.1.1", false), podNs(b) + " -> 169.254.1.1");
      // (not fe80::1: Ipv6Node answers echo only for a port's own EUI-64 link-local address,
      // the IPv6 gateway only for neighbour discovery, which the v6 ping above needed)
      pings += 5;
    }
    report.add(
        pings + " pings (5 pod pairs: v4 both ways, v6, the v4 gateway from both): all answered");

    // DEL one pod first: a pod still up can no longer reach it through the router
    int victim = attached.get(attached.size() - 1);
    String gone = address(results.get(victim), 0);
    Run first = cni("DEL", victim, conf);
    assertEquals(0, first.exit(), first.toString());
    assertFalse(ping(podNs(attached.get(0)), gone, false), "still reaches deleted " + gone);

    // DEL all 50 (one a second time, 19 never attached), then 10 of them again: idempotent
    t0 = System.nanoTime();
    List<Run> dels = all("DEL", everyPod, i -> conf);
    report.add(summary("DEL", dels, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)));
    List<Integer> sample = new ArrayList<>();
    for (int i = 0; i < PODS; i += 5) {
      sample.add(i);
    }
    t0 = System.nanoTime();
    List<Run> again = all("DEL", sample, i -> conf);
    report.add(summary("DEL again", again, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)));
    for (Run r : again) {
      assertEquals(0, r.exit(), "second DEL: " + r);
    }
    for (int i = 0; i < PODS; i++) {
      assertEquals(0, dels.get(i).exit(), "DEL " + i + ": " + dels.get(i));
      AgentProtocol.Response check =
          agent(AgentProtocol.Request.podCheck("e2e/web-" + i, containerId(i)));
      assertFalse(check.ok(), "pod " + i + " still known: " + check);
      assertTrue(check.error().contains("unknown pod"), check.error());
      assertFalse(
          RouterChild.shIn(router.ns, "ip", "link", "show", hostIface(i)).ok(),
          "pod " + i + "'s host veth end is still there");
    }
    assertEquals(List.of(), ipamFiles(), "IPAM still holds addresses");
    report.forEach(line -> System.out.println("cni e2e: " + line));
    Files.writeString(Path.of("target", "cni-e2e-report.txt"), String.join("\n", report) + "\n");
  }

  List<String> ipamFiles() throws IOException {
    Path store = dir.resolve("ipam").resolve("flatnet");
    if (!Files.isDirectory(store)) {
      return List.of();
    }
    try (var files = Files.list(store)) {
      return files
          .map(f -> f.getFileName().toString())
          .filter(n -> n.startsWith("10.") || n.startsWith("fd00:"))
          .toList();
    }
  }

  static String address(JsonNode result, int index) {
    String cidr = result.path("ips").get(index).path("address").asText();
    return cidr.substring(0, cidr.indexOf('/'));
  }

  static String hostIface(int pod) {
    return CniMain.hostIfaceName(containerId(pod), "eth0");
  }

  /** The CNI 1.0.0 ADD result shape. */
  void assertSpecShaped(JsonNode res, int pod) {
    String s = res.toString();
    assertEquals("1.0.0", res.path("cniVersion").asText(), s);
    JsonNode ifaces = res.path("interfaces");
    assertTrue(ifaces.isArray() && ifaces.size() == 2, s);
    assertEquals("eth0", ifaces.get(0).path("name").asText(), s);
    assertTrue(
        ifaces.get(0).path("mac").asText().matches("([0-9a-f]{2}:){5}[0-9a-f]{2}"), "mac: " + s);
    assertEquals("/var/run/netns/" + podNs(pod), ifaces.get(0).path("sandbox").asText(), s);
    assertEquals(hostIface(pod), ifaces.get(1).path("name").asText(), s);
    assertFalse(ifaces.get(1).has("sandbox"), "the host end has no sandbox: " + s);
    JsonNode ips = res.path("ips");
    assertEquals(2, ips.size(), s);
    assertTrue(ips.get(0).path("address").asText().matches("10\\.244\\.5\\.\\d+/32"), s);
    assertTrue(ips.get(1).path("address").asText().matches("fd00:244:5::[0-9a-f]+/128"), s);
    assertEquals("169.254.1.1", ips.get(0).path("gateway").asText(), s);
    assertEquals("fe80::1", ips.get(1).path("gateway").asText(), s);
    for (JsonNode ip : ips) {
      assertFalse(ip.has("version"), "1.0.0 has no ips[].version: " + s);
      assertEquals(0, ip.path("interface").asInt(-1), s);
    }
    JsonNode routes = res.path("routes");
    assertEquals(2, routes.size(), s);
    assertEquals("0.0.0.0/0", routes.get(0).path("dst").asText(), s);
    assertEquals("::/0", routes.get(1).path("dst").asText(), s);
    assertTrue(res.path("dns").isObject(), s);
  }
}
