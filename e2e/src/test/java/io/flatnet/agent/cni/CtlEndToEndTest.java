package io.flatnet.agent.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.flatnet.agent.ctl.CtlMain;
import io.flatnet.agent.state.RuntimeRouteStore;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code flatnet ctl} against a real node (flatnet run --config, in its own namespace) with two
 * pods the real CNI plugin added: show ports/pods/routes/neighbors (tables and --json), a runtime
 * route via the uplink's peer that carries real pings, trace of forward/resolve/local/no-route
 * decisions, route del, and ctl counters in a separate JVM.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CtlEndToEndTest {

  static final String[] PODS = {"fnk-pa", "fnk-pb"};

  Path dir;
  RouterChild router;
  final List<JsonNode> results = new ArrayList<>();

  record Ctl(int exit, String out, String err) {
    JsonNode json() throws Exception {
      return JsonMapper.builder().build().readTree(out);
    }
  }

  @BeforeAll
  void start(@TempDir Path tmp) throws Exception {
    Assumptions.assumeTrue(
        "0".equals(RouterChild.sh("id", "-u").output().strip()), "needs root (netns, veth)");
    dir = tmp;
    router = new RouterChild("fnk", dir);
    router.extraArgs.addAll(List.of("--metrics", "127.0.0.1:9464"));
    router.start();
    // Each pod a DPDK port of its own (the shared bridge is CniEndToEndTest's).
    results.addAll(router.addPortPods(PODS, "ctl", "ctl/pod-"));
  }

  @AfterAll
  void stop() throws Exception {
    if (router != null) {
      Files.writeString(Path.of("target", "ctl-e2e-router.log"), router.logText());
      for (String ns : PODS) {
        RouterChild.sh("ip", "netns", "del", ns);
      }
      router.close();
    }
  }

  Ctl ctl(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    var cl = CtlMain.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    List<String> all = new ArrayList<>(List.of(args));
    if (!all.contains("--dir") && !all.get(0).equals("--help")) {
      all.add("--dir");
      all.add(router.runDir.toString());
    }
    int exit = cl.execute(all.toArray(String[]::new));
    System.out.println("$ flatnet ctl " + String.join(" ", args) + "\n" + out + err);
    return new Ctl(exit, out.toString(), err.toString());
  }

  String ip(int pod, int family) {
    String cidr = results.get(pod).path("ips").get(family).path("address").asText();
    return cidr.substring(0, cidr.indexOf('/'));
  }

  String mac(int pod) {
    return results.get(pod).path("interfaces").get(0).path("mac").asText();
  }

  static boolean ping(String ns, String target) {
    return RouterChild.sh(
            List.of(
                "ip", "netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "1", "-w", "4",
                target),
            10)
        .ok();
  }

  @Test
  void showTablesAndJson() throws Exception {
    Ctl ports = ctl("show", "ports");
    assertEquals(0, ports.exit(), ports.toString());
    assertTrue(ports.out().startsWith("ID  NAME"), ports.out());
    assertTrue(
        ports.out().lines().anyMatch(l -> l.matches(".*uplink\\s+uplink\\s+.*10\\.250\\.99\\.1.*")),
        ports.out());
    assertTrue(ports.out().lines().anyMatch(l -> l.contains("ctl/pod-0") && l.contains(" pod ")));

    Ctl pods = ctl("show", "pods", "--json");
    assertEquals(0, pods.exit(), pods.toString());
    assertEquals(2, pods.json().size(), pods.out());
    JsonNode pod0 = pods.json().get(0);
    assertEquals("ctl/pod-0", pod0.path("name").asText());
    assertEquals("af_packet", pod0.path("kind").asText());
    assertEquals("up", pod0.path("state").asText(), pod0.toString());
    assertEquals(mac(0), pod0.path("mac").asText());
    assertEquals(ip(0, 0), pod0.path("ips").get(0).asText());
    Ctl podTable = ctl("show", "pods");
    assertTrue(podTable.out().contains(ip(1, 0) + "," + ip(1, 1)), podTable.out());

    Ctl routes = ctl("show", "routes", "--json");
    assertEquals(0, routes.exit(), routes.toString());
    JsonNode r0 = find(routes.json(), "prefix", ip(0, 0) + "/32");
    assertEquals("forward", r0.path("kind").asText(), r0.toString());
    assertEquals("ctl/pod-0", r0.path("port").asText());
    assertEquals(mac(0), r0.path("mac").asText());
    assertEquals("local", find(routes.json(), "prefix", "169.254.1.1/32").path("kind").asText());
    assertEquals("local", find(routes.json(), "prefix", "10.250.99.1/32").path("kind").asText());
    assertTrue(ctl("show", "routes").out().contains("fd00:244:5::"), "v6 pod routes listed");

    Ctl bad = ctl("show", "bogus");
    assertEquals(2, bad.exit(), bad.toString());
    Ctl noAgent = ctl("show", "ports", "--dir", dir.resolve("nowhere").toString());
    assertEquals(3, noAgent.exit(), noAgent.toString());
    assertTrue(noAgent.err().contains("does not exist"), noAgent.err());
  }

  @Test
  void runtimeRouteCarriesTrafficAndTraceExplainsIt() throws Exception {
    RouterChild.mustIn(router.peerNs, "ip", "addr", "add", "10.77.1.1/32", "dev", "lo");
    String src = ip(0, 0);

    Ctl none = ctl("trace", src, "10.77.1.1");
    assertEquals(0, none.exit(), none.toString());
    assertTrue(none.out().contains("decision: drop"), none.out());
    assertTrue(none.out().contains("no route"), none.out());
    assertFalse(ping(PODS[0], "10.77.1.1"));

    Ctl add = ctl("route", "add", "10.77.0.0/16", "via", RouterChild.PEER_V4, "port", "uplink");
    assertEquals(0, add.exit(), add.toString());
    assertEquals("ok", add.out().strip());
    assertTrue(
        RuntimeRouteStore.load(dir.resolve("state")).stream()
            .anyMatch(r -> r.prefix().equals("10.77.0.0/16")),
        "the agent keeps the runtime route on disk");
    Ctl unresolved = ctl("trace", src, "10.77.1.1", "--json");
    JsonNode t = unresolved.json();
    assertEquals("10.77.0.0/16", t.path("matched").asText(), t.toString());
    assertEquals(RouterChild.PEER_V4, t.path("via").asText(), t.toString());
    assertEquals("uplink", t.path("port").asText(), t.toString());

    assertTrue(ping(PODS[0], "10.77.1.1"), "the runtime route carries pings\n" + router.logText());
    String peerMac =
        JsonMapper.builder()
            .build()
            .readTree(RouterChild.mustIn(router.peerNs, "ip", "-j", "link", "show", "eth0"))
            .get(0)
            .path("address")
            .asText();
    Ctl trace = ctl("trace", src, "10.77.1.1", "--in", "ctl/pod-0");
    assertEquals(0, trace.exit(), trace.toString());
    assertTrue(trace.out().contains("matched:  10.77.0.0/16"), trace.out());
    assertTrue(trace.out().contains("decision: forward"), trace.out());
    assertTrue(trace.out().contains("state:    reachable"), trace.out());
    assertTrue(trace.out().contains("mac:      " + peerMac), trace.out());
    assertTrue(trace.out().contains("port:     uplink"), trace.out());

    Ctl neighbors = ctl("show", "neighbors", "--json");
    JsonNode n = find(neighbors.json(), "via", RouterChild.PEER_V4);
    assertEquals("reachable", n.path("state").asText(), n.toString());
    assertEquals(peerMac, n.path("mac").asText(), n.toString());
    assertTrue(n.path("routes").toString().contains("10.77.0.0/16"), n.toString());
    assertTrue(ctl("show", "neighbors").out().contains(peerMac));

    JsonNode toPod = ctl("trace", ip(1, 0), ip(0, 0), "--json").json();
    assertEquals("forward", toPod.path("decision").asText(), toPod.toString());
    assertEquals("ctl/pod-0", toPod.path("port").asText());
    assertEquals(mac(0), toPod.path("mac").asText());
    JsonNode toPod6 = ctl("trace", ip(1, 1), ip(0, 1), "--json").json();
    assertEquals("forward", toPod6.path("decision").asText(), toPod6.toString());
    assertEquals(ip(0, 1) + "/128", toPod6.path("matched").asText());
    assertEquals(
        "local", ctl("trace", src, "169.254.1.1", "--json").json().path("decision").asText());
    assertEquals(
        "on-link", ctl("trace", ip(0, 1), "fe80::1", "--json").json().path("decision").asText());
    assertEquals( // fe80::/10, as the workers see it, not only fe80::/64
        "on-link", ctl("trace", ip(0, 1), "febf::1", "--json").json().path("decision").asText());
    // The workers' own source rules: another pod's address from pod 0's port, and a martian.
    JsonNode spoofed = ctl("trace", ip(1, 0), "10.77.1.1", "--in", "ctl/pod-0", "--json").json();
    assertEquals("spoofed-source", spoofed.path("drop").asText(), spoofed.toString());
    JsonNode martian = ctl("trace", "127.0.0.1", ip(0, 0), "--json").json();
    assertEquals("martian-source", martian.path("drop").asText(), martian.toString());

    Ctl refused = ctl("route", "add", "10.78.0.0/16", "via", "10.250.99.3", "port", "nope");
    assertEquals(1, refused.exit(), refused.toString());
    assertTrue(refused.err().contains("nope"), refused.err());
    assertEquals(2, ctl("route", "add", "10.78.0.0/16", "via", "10.250.99.3").exit());

    Ctl del = ctl("route", "del", "10.77.0.0/16");
    assertEquals(0, del.exit(), del.toString());
    assertFalse(ctl("show", "routes").out().contains("10.77.0.0/16"));
    assertFalse(ping(PODS[0], "10.77.1.1"), "the route is gone");
    assertEquals(0, ctl("route", "del", "10.77.0.0/16").exit(), "del is idempotent");
    assertEquals(List.of(), RuntimeRouteStore.load(dir.resolve("state")), "and not on disk");
  }

  @Test
  void countersInASeparateJvm() throws Exception {
    assertTrue(ping(PODS[0], ip(1, 0)));
    String java = ProcessHandle.current().info().command().orElse("java");
    Process p =
        new ProcessBuilder(
                java,
                "--add-exports",
                "java.base/jdk.internal.misc=ALL-UNNAMED",
                "-cp",
                System.getProperty("java.class.path"),
                "io.flatnet.agent.ctl.CtlMain",
                "counters",
                "--dir",
                router.runDir.toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("rx"), out);
    // Each worker's longest stall, from its loop timing in the shared counters.
    assertTrue(
        out.lines()
            .anyMatch(
                l ->
                    l.matches(
                        "worker 0 longest stall: [0-9,.]+ us at .*; .* loops took >=1024 us")),
        out);
  }

  @Test
  void counterRatesAsATimeSeries() throws Exception {
    // Pings every 50 ms for 4 s while ctl prints two 1-second blocks of rates.
    Process pinger =
        new ProcessBuilder(
                "ip", "netns", "exec", PODS[0], "ping", "-c", "80", "-i", "0.05", "-W", "1",
                ip(1, 0))
            .redirectErrorStream(true)
            .start();
    try {
      String java = ProcessHandle.current().info().command().orElse("java");
      Process p =
          new ProcessBuilder(
                  java,
                  "--add-exports",
                  "java.base/jdk.internal.misc=ALL-UNNAMED",
                  "-cp",
                  System.getProperty("java.class.path"),
                  "io.flatnet.agent.ctl.CtlMain",
                  "counters",
                  "--rate",
                  "--samples",
                  "2",
                  "--dir",
                  router.runDir.toString())
              .redirectErrorStream(true)
              .start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
      assertEquals(0, p.exitValue(), out);
      assertEquals(2, out.lines().filter(l -> l.matches("\\S+ rates over [0-9.]+ s")).count(), out);
      // The pods' ports move at about 20 packets a second each way.
      assertTrue(
          out.lines()
              .anyMatch(
                  l ->
                      l.matches("\\s+port \\S+ rx-packets\\s+[0-9,]+\\.\\d/s")
                          && !l.endsWith(" 0.0/s")),
          out);
    } finally {
      pinger.destroy();
      pinger.waitFor(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void prometheusMetricsOfTheLiveRouter() throws Exception {
    assertTrue(ping(PODS[1], ip(0, 0)));
    RouterChild.Result scrape =
        RouterChild.shIn(router.ns, "curl", "-sS", "http://127.0.0.1:9464/metrics");
    assertEquals(0, scrape.exit(), scrape.output());
    String body = scrape.output();
    assertTrue(body.contains("# TYPE flatnet_port_rx_packets_total counter"), body);
    assertTrue(
        body.lines()
            .anyMatch(
                l ->
                    l.startsWith("flatnet_port_rx_packets_total{port=\"ctl/pod-1\"} ")
                        && Long.parseLong(l.substring(l.lastIndexOf(' ') + 1)) >= 3),
        body);
    assertTrue(body.contains("flatnet_drops_total{reason="), body);
    assertTrue(body.contains("flatnet_worker_rx_packets_total{worker=\"0\"}"), body);
  }

  static JsonNode find(JsonNode rows, String key, String value) {
    for (JsonNode row : rows) {
      if (value.equals(row.path(key).asText())) {
        return row;
      }
    }
    throw new AssertionError("no row with " + key + "=" + value + " in " + rows.toPrettyString());
  }
}
