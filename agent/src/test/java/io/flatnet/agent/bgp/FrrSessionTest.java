package io.flatnet.agent.bgp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.flatnet.agent.TestConfigs;
import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.NodeConfig;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real FRR: two network namespaces joined by a veth. In A, flatnet's {@link FrrProcesses} on the
 * config {@link FrrConfigWriter} writes for a node config; in B, a plain zebra and bgpd with a
 * config of their own, standing in for a top-of-rack switch. The sessions (one IPv4, one IPv6) must
 * reach Established, B's kernel must get A's pod CIDRs, and A's zebra B's prefixes, the IPv6 one
 * through B's global address. Then A's bgpd is killed (FrrProcesses starts it again) and A's config
 * changes (a new prefix reaches B). Needs root and Debian's frr: without them it fails, it does not
 * skip (CI installs frr, see ./flatnet's TEST_PKGS).
 */
class FrrSessionTest {
  private static final Path BIN = Path.of("/usr/lib/frr");
  private static final Path VTYSH = Path.of("/usr/bin/vtysh");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration SESSION_UP = Duration.ofSeconds(60);

  private final String tag = Long.toString(ProcessHandle.current().pid() % 100000);
  private final String nsA = "fnbgp-a-" + tag;
  private final String nsB = "fnbgp-b-" + tag;
  private final String vethA = "fnbga" + tag;
  private final String vethB = "fnbgb" + tag;

  @TempDir Path tmp;

  private FrrProcesses frr;
  private final List<Process> tor = new ArrayList<>();

  static String nodeYaml(String namespace, String advertise) {
    return """
        node:
          name: node-a
          podCIDRs: [10.244.1.0/24, "fd00:244:1::/64"]
          gateways: [169.254.1.1, "fe80::1"]
        ports:
          - name: uplink0
            device: "0000:3b:00.0"
            role: uplink
            addresses: [10.99.0.1/24, "fd99::1/64"]
          - name: host0
            device: net_tap0,iface=fl-host
            role: host
            kernel: {namespace: %s}
        bgp:
          asn: 65001
          %s
          neighbors:
            - address: 10.99.0.2
              asn: 65100
              description: tor
            - address: "fd99::2"
              asn: 65100
          keepalive: 1
          hold: 3
        """
        .formatted(namespace, advertise);
  }

  static final String TOR_ZEBRA = "hostname tor\n!\n";

  static final String TOR_BGPD =
      """
      hostname tor
      !
      router bgp 65100
       bgp router-id 10.99.0.2
       no bgp ebgp-requires-policy
       no bgp default ipv4-unicast
       no bgp network import-check
       timers bgp 1 3
       neighbor 10.99.0.1 remote-as 65001
       neighbor 10.99.0.1 timers connect 1
       neighbor fd99::1 remote-as 65001
       neighbor fd99::1 timers connect 1
       !
       address-family ipv4 unicast
        network 10.200.0.0/24
        neighbor 10.99.0.1 activate
       exit-address-family
       !
       address-family ipv6 unicast
        network fd00:200::/64
        neighbor fd99::1 activate
       exit-address-family
      exit
      !
      """;

  static Cmd run(String... argv) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
    }
    return new Cmd(p.exitValue(), out);
  }

  record Cmd(int code, String out) {}

  static void must(String... argv) throws IOException, InterruptedException {
    Cmd c = run(argv);
    assertEquals(0, c.code(), String.join(" ", argv) + ": " + c.out());
  }

  @BeforeEach
  void setUp() throws Exception {
    assertEquals("0", run("id", "-u").out().strip(), "needs root (network namespaces, FRR)");
    for (Path p : List.of(BIN.resolve("zebra"), BIN.resolve("bgpd"), VTYSH)) {
      assertTrue(Files.isExecutable(p), p + " missing: install Debian's frr (apt-get install frr)");
    }
    run("ip", "netns", "del", nsA);
    run("ip", "netns", "del", nsB);
    must("ip", "netns", "add", nsA);
    must("ip", "netns", "add", nsB);
    must("ip", "link", "add", vethA, "netns", nsA, "type", "veth", "peer", vethB, "netns", nsB);
    // A's kernel is set up as flatnet's KernelSide sets up a node's: its addresses as /32 and
    // /128, everything through a default route on the interface (there the TAP, here the veth),
    // so the neighbour is not on a connected subnet and resolves only through the default.
    // B, the ToR, has the subnet.
    for (String[] side :
        new String[][] {
          {nsA, vethA, "10.99.0.1/32", "fd99::1/128"}, {nsB, vethB, "10.99.0.2/24", "fd99::2/64"}
        }) {
      must("ip", "-n", side[0], "link", "set", "lo", "up");
      must("ip", "-n", side[0], "addr", "add", side[2], "dev", side[1]);
      must("ip", "-n", side[0], "addr", "add", side[3], "dev", side[1], "nodad");
      must("ip", "-n", side[0], "link", "set", side[1], "up");
    }
    must("ip", "-n", nsA, "route", "add", "default", "dev", vethA);
    must("ip", "-n", nsA, "-6", "route", "add", "default", "dev", vethA);
  }

  @AfterEach
  void tearDown() throws Exception {
    if (frr != null) {
      frr.close();
    }
    for (Process p : tor) {
      p.destroy();
      if (!p.waitFor(5, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    }
    run("ip", "netns", "del", nsA);
    run("ip", "netns", "del", nsB);
  }

  /** B: zebra, then bgpd, on hand-written config, as a ToR would run them. */
  private void startTor() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("tor"));
    Files.writeString(dir.resolve("zebra.conf"), TOR_ZEBRA);
    Files.writeString(dir.resolve("bgpd.conf"), TOR_BGPD);
    for (String daemon : List.of("zebra", "bgpd")) {
      List<String> argv =
          new ArrayList<>(
              List.of(
                  "ip",
                  "netns",
                  "exec",
                  nsB,
                  BIN.resolve(daemon).toString(),
                  "-f",
                  dir.resolve(daemon + ".conf").toString(),
                  "-i",
                  dir.resolve(daemon + ".pid").toString(),
                  "-z",
                  dir.resolve("zserv.api").toString(),
                  "--vty_socket",
                  dir.toString(),
                  "-P",
                  "0",
                  "-u",
                  "root",
                  "-g",
                  FrrProcesses.frrGroup(),
                  "--log",
                  "stdout"));
      tor.add(
          new ProcessBuilder(argv)
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve(daemon + ".log").toFile())
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
              .start());
      if (daemon.equals("zebra")) {
        await(() -> Files.exists(dir.resolve("zserv.api")), Duration.ofSeconds(10), "B's zebra");
      }
    }
  }

  private static void await(BooleanSupplier condition, Duration timeout, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (condition.getAsBoolean()) {
        return;
      }
      TimeUnit.MILLISECONDS.sleep(200);
    }
    fail("timed out after " + timeout + ": " + what);
  }

  private String vtysh(String command) {
    try {
      return run(VTYSH.toString(), "--vty_socket", frr.layout().runDir().toString(), "-c", command)
          .out();
    } catch (IOException | InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The session states A's bgpd reports, e.g. {10.99.0.2=Established, fd99::2=Active}. */
  private String states() {
    try {
      JsonNode s = JSON.readTree(vtysh("show bgp summary json"));
      return "10.99.0.2="
          + s.path("ipv4Unicast").path("peers").path("10.99.0.2").path("state").asText("?")
          + ", fd99::2="
          + s.path("ipv6Unicast").path("peers").path("fd99::2").path("state").asText("?");
    } catch (IOException e) {
      return "no answer: " + e.getMessage();
    }
  }

  private void awaitEstablished(String when) throws InterruptedException {
    long deadline = System.nanoTime() + SESSION_UP.toNanos();
    String last = "";
    while (System.nanoTime() < deadline) {
      last = states();
      if (last.equals("10.99.0.2=Established, fd99::2=Established")) {
        return;
      }
      check();
      TimeUnit.MILLISECONDS.sleep(200);
    }
    fail(when + ": sessions not Established in " + SESSION_UP + ": " + last + "\n" + logs());
  }

  private void check() {
    try {
      frr.check();
    } catch (IOException | InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  private String logs() {
    StringBuilder b = new StringBuilder();
    for (Path dir : List.of(frr.layout().runDir(), tmp.resolve("tor"))) {
      for (String d : List.of("zebra", "bgpd")) {
        try {
          b.append("--- ").append(dir.resolve(d + ".log")).append('\n');
          b.append(Files.readString(dir.resolve(d + ".log")));
        } catch (IOException e) {
          b.append(e).append('\n');
        }
      }
    }
    return b.toString();
  }

  private static String route(String ns, String family, String prefix) {
    try {
      return run("ip", "-n", ns, family, "route", "show", prefix).out().strip();
    } catch (IOException | InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  /** zebra's "show ip route PREFIX": selected from BGP, installed through {@code nextHop} only. */
  private static boolean viaBgp(String shown, String nextHop) {
    // "  *   10.99.0.2, via fnbga1 onlink, weight 1": resolved through the kernel's default route
    return shown.contains("Known via \"bgp\"")
        && java.util.regex.Pattern.compile(
                "\\*\\s+" + java.util.regex.Pattern.quote(nextHop) + ", via")
            .matcher(shown)
            .find()
        && !shown.contains("fe80:");
  }

  @Test
  void sessionsCarryRoutesBothWays() throws Exception {
    NodeConfig node = ConfigLoader.parse(nodeYaml(nsA, ""), "node-a.yaml");
    assertEquals(List.of(), TestConfigs.VALIDATOR.validate(node));
    FrrProcesses.Layout layout = FrrProcesses.Layout.of(node, tmp.resolve("state"));
    assertEquals(tmp.resolve("state").resolve("frr"), layout.runDir());
    assertEquals(List.of("ip", "netns", "exec", nsA), layout.prefix());
    startTor();
    frr =
        new FrrProcesses(layout, FrrConfigWriter.write(node), l -> System.out.println("frr: " + l));
    frr.start();
    awaitEstablished("first start");

    // B's kernel: A's pod CIDRs, v4 and v6, from BGP
    await(
        () -> route(nsB, "-4", "10.244.1.0/24").contains("via 10.99.0.1"),
        Duration.ofSeconds(20),
        "B's kernel route to 10.244.1.0/24");
    await(
        () -> route(nsB, "-6", "fd00:244:1::/64").contains("proto bgp"),
        Duration.ofSeconds(20),
        "B's kernel route to fd00:244:1::/64");
    // A's zebra: B's prefixes, the IPv6 one via B's global address (route-map prefer-global)
    await(
        () -> viaBgp(vtysh("show ip route 10.200.0.0/24"), "10.99.0.2"),
        Duration.ofSeconds(20),
        "A's zebra route to 10.200.0.0/24");
    await(
        () -> viaBgp(vtysh("show ipv6 route fd00:200::/64"), "fd99::2"),
        Duration.ofSeconds(20),
        "A's zebra route to fd00:200::/64 via fd99::2: " + vtysh("show ipv6 route"));
    // and zebra installed them in A's kernel (as it would on a node, through the TAP)
    assertTrue(route(nsA, "-4", "10.200.0.0/24").contains("via 10.99.0.2"), route(nsA, "-4", ""));
    assertTrue(route(nsA, "-6", "fd00:200::/64").contains("via fd99::2"), route(nsA, "-6", ""));

    // FRR took every line of the config flatnet wrote
    for (String d : List.of("zebra", "bgpd")) {
      String log = Files.readString(layout.runDir().resolve(d + ".log"));
      // "No such command on config line 7: ...", "Command incomplete on config line ..."
      assertFalse(log.contains("on config line"), d + ".log:\n" + log);
    }

    // bgpd dies: started again, sessions come back
    long bgpd = frr.pid("bgpd");
    ProcessHandle.of(bgpd).orElseThrow().destroyForcibly();
    await(
        () -> {
          check();
          return frr.pid("bgpd") > 0 && frr.pid("bgpd") != bgpd;
        },
        Duration.ofSeconds(20),
        "bgpd started again");
    assertEquals(1, frr.restarts("bgpd"));
    awaitEstablished("after bgpd was killed");

    // a new prefix: applied in place by frr-reload.py if FRR's python tools are there (bgpd and
    // its sessions stay), else by a bgpd restart; either way B learns it
    long zebra = frr.pid("zebra");
    long bgpdBefore = frr.pid("bgpd");
    NodeConfig changed =
        ConfigLoader.parse(
            nodeYaml(nsA, "advertise: [10.244.1.0/24, 10.250.0.0/24, \"fd00:244:1::/64\"]"),
            "node-a.yaml");
    assertEquals(List.of(), TestConfigs.VALIDATOR.validate(changed));
    String done = frr.reconfigure(changed);
    if (Files.isExecutable(BIN.resolve("frr-reload.py"))) {
      assertEquals("bgpd reloaded (frr-reload.py: only the difference)", done);
      assertEquals(bgpdBefore, frr.pid("bgpd"));
      assertEquals("10.99.0.2=Established, fd99::2=Established", states());
    } else {
      assertTrue(done.startsWith("bgpd restarted (no "), done);
    }
    assertEquals("unchanged", frr.reconfigure(changed));
    assertEquals(zebra, frr.pid("zebra"));
    awaitEstablished("after the config changed");
    await(
        () -> route(nsB, "-4", "10.250.0.0/24").contains("via 10.99.0.1"),
        Duration.ofSeconds(20),
        "B's kernel route to the new prefix 10.250.0.0/24");
    assertTrue(
        Files.readString(layout.runDir().resolve("bgpd.conf")).contains("network 10.250.0.0/24"));

    // new timers apply only to new sessions: bgpd restarts
    NodeConfig slower =
        ConfigLoader.parse(
            nodeYaml(nsA, "advertise: [10.244.1.0/24, 10.250.0.0/24, \"fd00:244:1::/64\"]")
                .replace("keepalive: 1\n  hold: 3", "keepalive: 2\n  hold: 6"),
            "node-a.yaml");
    assertEquals("bgpd restarted (new timers)", frr.reconfigure(slower));
    assertNotEquals(bgpdBefore, frr.pid("bgpd"));
    assertEquals(zebra, frr.pid("zebra"));
    awaitEstablished("after the timers changed");

    // stopped: both gone, B's routes from A withdrawn
    long zebraPid = frr.pid("zebra");
    long bgpdPid = frr.pid("bgpd");
    frr.close();
    assertFalse(ProcessHandle.of(zebraPid).map(ProcessHandle::isAlive).orElse(false));
    assertFalse(ProcessHandle.of(bgpdPid).map(ProcessHandle::isAlive).orElse(false));
    await(
        () -> route(nsB, "-4", "10.244.1.0/24").isEmpty(),
        Duration.ofSeconds(20),
        "B's route to A's pods withdrawn");
  }
}
