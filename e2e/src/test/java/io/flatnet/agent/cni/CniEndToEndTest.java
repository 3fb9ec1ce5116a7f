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
 * call) ADDs 50 network-namespace pods, {@value #CONCURRENCY} at a time, to a router child process
 * (flatnet run --config: dataplane and agent, in their own namespace, which plays the node's host
 * namespace: the plugin runs there too). The pods share the router's one port on the pod bridge, so
 * there are more of them than DPDK ports (RTE_MAX_ETHPORTS 32). Every result is checked against the
 * CNI 1.0.0 result shape and gets distinct addresses; CHECK passes for all (and fails for a pod
 * whose default route is gone); pods, including ones beyond the 32nd, ping each other (through the
 * router: TTL 63), their gateways and the uplink's peer; DEL removes them all, DEL again succeeds,
 * and nothing is left: no pod veth, no bridge port, no router route, no IPAM file, no agent record.
 * Needs root, hugepages, ip/bridge/ping/ethtool.
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
      router.close(); // deletes the router's namespace: the bridge and every host veth end in it
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
    int slowest = 0;
    for (int i = 1; i < runs.size(); i++) {
      if (runs.get(i).millis() > runs.get(slowest).millis()) {
        slowest = i;
      }
    }
    return String.format(
        Locale.ROOT,
        "%s x%d: wall %d ms (%d ms per call at %d concurrent), per call mean %d ms, median %d"
            + " ms, max %d ms (#%d)",
        what,
        runs.size(),
        wallMillis,
        wallMillis / Math.max(1, runs.size()),
        CONCURRENCY,
        sum / Math.max(1, runs.size()),
        runs.isEmpty()
            ? 0
            : runs.stream().mapToLong(Run::millis).sorted().toArray()[runs.size() / 2],
        runs.isEmpty() ? 0 : runs.get(slowest).millis(),
        slowest);
  }

  AgentProtocol.Response agent(AgentProtocol.Request request) throws IOException {
    return new AgentClient(router.socket(), Duration.ofSeconds(10)).call(request);
  }

  static RouterChild.Result ping(String ns, String target, boolean v6) {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns, "ping"));
    if (v6) {
      cmd.add("-6");
    }
    cmd.addAll(List.of("-c", "3", "-i", "0.2", "-W", "1", "-w", "4", target));
    return RouterChild.sh(cmd, 10); // ok: at least one reply
  }

  static long millisSince(long t0) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
  }

  String withPrev(JsonNode result) {
    try {
      ObjectNode c = (ObjectNode) JSON.readTree(conf());
      c.set("prevResult", result);
      return c.toString();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The interfaces on the pod bridge in the router's namespace, by name, from ip -j -d. */
  Map<String, JsonNode> bridgePorts() throws IOException {
    String out =
        RouterChild.mustIn(
            router.ns, "ip", "-j", "-d", "link", "show", "master", PodSegment.BRIDGE);
    Map<String, JsonNode> ports = new TreeMap<>();
    for (JsonNode link : JSON.readTree(out)) {
      ports.put(link.path("ifname").asText(), link);
    }
    return ports;
  }

  @Test
  void fiftyNetnsPodsAsKubeletWould() throws Exception {
    long start = System.nanoTime();
    List<String> report =
        new ArrayList<>() {
          private static final long serialVersionUID = 1L;

          @Override
          public boolean add(String line) {
            System.out.println("cni e2e: " + line);
            return super.add(line);
          }
        };
    List<Integer> everyPod = new ArrayList<>();
    for (int i = 0; i < PODS; i++) {
      RouterChild.sh("ip", "netns", "del", podNs(i));
      RouterChild.must("ip", "netns", "add", podNs(i));
      everyPod.add(i);
    }
    String conf = conf();

    // ADD all 50, ten at a time: every one is attached
    long t0 = System.nanoTime();
    List<Run> adds = all("ADD", everyPod, i -> conf);
    report.add(summary("ADD", adds, millisSince(t0)));
    Set<String> v4 = new HashSet<>();
    Set<String> v6 = new HashSet<>();
    Map<Integer, JsonNode> results = new TreeMap<>();
    for (int i = 0; i < PODS; i++) {
      Run r = adds.get(i);
      assertEquals(0, r.exit(), "ADD " + i + ": " + r + "\nrouter log:\n" + router.logText());
      JsonNode res = r.json();
      results.put(i, res);
      assertSpecShaped(res, i);
      v4.add(res.path("ips").get(0).path("address").asText());
      v6.add(res.path("ips").get(1).path("address").asText());
    }
    assertEquals(PODS, v4.size(), "distinct IPv4 addresses: " + v4);
    assertEquals(PODS, v6.size(), "distinct IPv6 addresses: " + v6);
    assertEquals(2 * PODS, ipamFiles().size(), "IPAM holds exactly the pods' addresses");

    // the kernel side: 50 isolated pod ports and the router's (not isolated) on one bridge
    Map<String, JsonNode> onBridge = bridgePorts();
    assertEquals(PODS + 1, onBridge.size(), onBridge.keySet().toString());
    for (int i = 0; i < PODS; i++) {
      JsonNode port = onBridge.get(hostIface(i));
      assertTrue(port != null, hostIface(i) + " is not on " + PodSegment.BRIDGE);
      assertTrue(
          port.path("linkinfo").path("info_slave_data").path("isolated").asBoolean(),
          hostIface(i) + " is not isolated");
    }
    assertFalse(
        onBridge
            .get(PodSegment.BRIDGE_END)
            .path("linkinfo")
            .path("info_slave_data")
            .path("isolated")
            .asBoolean(),
        "the router's end must not be isolated");
    // the router side: one DPDK port for all of them
    AgentProtocol.Response ports = agent(AgentProtocol.Request.of(AgentProtocol.SHOW_PORTS));
    assertEquals(2, ports.data().size(), "uplink and pods0 only: " + ports.data());
    AgentProtocol.Response pods = agent(AgentProtocol.Request.of(AgentProtocol.SHOW_PODS));
    assertEquals(PODS, pods.data().size());
    for (JsonNode pod : pods.data()) {
      assertEquals("bridge", pod.path("kind").asText(), pod.toString());
      assertEquals("pods0", pod.path("portName").asText(), pod.toString());
      assertEquals("up", pod.path("state").asText(), pod.toString());
    }
    report.add(
        PODS
            + " pods attached with "
            + v4.size()
            + " distinct IPv4 + "
            + v6.size()
            + " distinct IPv6 addresses, all on bridge "
            + PodSegment.BRIDGE
            + " (isolated) behind one router port");

    // CHECK, with each pod's ADD result as prevResult
    t0 = System.nanoTime();
    List<Run> checks = all("CHECK", everyPod, i -> withPrev(results.get(i)));
    report.add(summary("CHECK", checks, millisSince(t0)));
    for (Run check : checks) {
      assertEquals(0, check.exit(), "CHECK: " + check);
      assertEquals("", check.stdout().strip());
    }
    // CHECK notices a pod whose default route is gone
    int broken = 41;
    RouterChild.mustIn(podNs(broken), "ip", "-4", "route", "del", "default");
    Run bad = cni("CHECK", broken, withPrev(results.get(broken)));
    assertEquals(1, bad.exit(), bad.toString());
    assertEquals(CniError.CHECK_FAILED, bad.json().path("code").asInt(), bad.toString());
    assertTrue(bad.json().path("details").asText().contains("no default route"), bad.toString());
    RouterChild.mustIn(
        podNs(broken), "ip", "-4", "route", "add", "default", "via", "169.254.1.1", "dev", "eth0");

    // forwarding: pairs across the whole range, most beyond the 32nd pod
    int[][] pairs = {{0, 49}, {33, 1}, {40, 47}, {12, 36}, {31, 32}, {45, 20}};
    int pings = 0;
    for (int[] pair : pairs) {
      int a = pair[0];
      int b = pair[1];
      String bv4 = address(results.get(b), 0);
      String bv6 = address(results.get(b), 1);
      String av4 = address(results.get(a), 0);
      RouterChild.Result p = ping(podNs(a), bv4, false);
      assertTrue(p.ok(), podNs(a) + " -> " + bv4 + ": " + p.output() + "\n" + router.logText());
      assertTrue(p.output().contains("ttl=63"), "one router hop between pods: " + p.output());
      assertTrue(ping(podNs(b), av4, false).ok(), podNs(b) + " -> " + av4);
      assertTrue(ping(podNs(a), bv6, true).ok(), podNs(a) + " -> " + bv6);
      assertTrue(ping(podNs(b), "169.254.1.1", false).ok(), podNs(b) + " -> 169.254.1.1");
      pings += 4;
    }
    // north-south: a host route to the uplink's peer (a runtime route, as ctl route add makes)
    AgentProtocol.Response route =
        agent(AgentProtocol.Request.routeAdd(RouterChild.PEER_V4 + "/32", null, "uplink"));
    assertTrue(route.ok(), route.error());
    for (int pod : List.of(38, 48)) {
      assertTrue(ping(podNs(pod), "fe80::1%eth0", true).ok(), podNs(pod) + " -> fe80::1");
      assertTrue(
          ping(podNs(pod), RouterChild.PEER_V4, false).ok(),
          podNs(pod) + " -> the uplink's peer " + RouterChild.PEER_V4);
      pings += 2;
    }
    assertTrue(agent(AgentProtocol.Request.routeDel(RouterChild.PEER_V4 + "/32")).ok());
    report.add(
        pings
            + " pings ("
            + pairs.length
            + " pod pairs: v4 both ways with TTL 63, v6, the v4 gateway; fe80::1 and the uplink's"
            + " peer from 2 pods): all answered");

    // DEL one pod first: a pod still up can no longer reach it through the router
    int victim = 49;
    String gone = address(results.get(victim), 0);
    Run first = cni("DEL", victim, conf);
    assertEquals(0, first.exit(), first.toString());
    assertFalse(ping(podNs(0), gone, false).ok(), "still reaches deleted " + gone);

    // DEL all 50 (one a second time), then all 50 again: idempotent
    t0 = System.nanoTime();
    List<Run> dels = all("DEL", everyPod, i -> conf);
    report.add(summary("DEL", dels, millisSince(t0)));
    t0 = System.nanoTime();
    List<Run> again = all("DEL", everyPod, i -> conf);
    report.add(summary("DEL again", again, millisSince(t0)));
    for (int i = 0; i < PODS; i++) {
      assertEquals(0, dels.get(i).exit(), "DEL " + i + ": " + dels.get(i));
      assertEquals(0, again.get(i).exit(), "second DEL " + i + ": " + again.get(i));
      AgentProtocol.Response check =
          agent(AgentProtocol.Request.podCheck("e2e/web-" + i, containerId(i)));
      assertFalse(check.ok(), "pod " + i + " still known: " + check);
      assertTrue(check.error().contains("unknown pod"), check.error());
      assertEquals(
          1,
          RouterChild.shIn(podNs(i), "ip", "-o", "link").output().lines().count(),
          podNs(i) + " still has more than lo");
    }
    // nothing left: no pod veth in the node namespace, only the router's end on the bridge, no
    // pod route in the router, no IPAM file, no agent record
    String links = RouterChild.mustIn(router.ns, "ip", "-o", "link");
    assertFalse(links.matches("(?s).*\\bfn[0-9a-f]{12}\\b.*"), "pod veth ends left:\n" + links);
    assertEquals(Set.of(PodSegment.BRIDGE_END), bridgePorts().keySet());
    AgentProtocol.Response routes = agent(AgentProtocol.Request.of(AgentProtocol.SHOW_ROUTES));
    for (JsonNode r : routes.data()) {
      String prefix = r.path("prefix").asText();
      assertFalse(
          prefix.startsWith("10.244.5.") || prefix.startsWith("fd00:244:5:"),
          "a pod route is left: " + r);
    }
    assertEquals(0, agent(AgentProtocol.Request.of(AgentProtocol.SHOW_PODS)).data().size());
    assertEquals(List.of(), ipamFiles(), "IPAM still holds addresses");
    try (var files = Files.list(dir.resolve("state").resolve("pods"))) {
      assertEquals(List.of(), files.toList(), "agent pod records left");
    }
    report.add(
        "after DEL: no pod veth, only "
            + PodSegment.BRIDGE_END
            + " on the bridge, no pod route, IPAM and agent records empty");
    report.add("whole test: " + millisSince(start) + " ms");
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
