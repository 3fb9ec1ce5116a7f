package io.flatnet.agent.bgp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.Agent;
import io.flatnet.agent.ApplyResult;
import io.flatnet.agent.TestConfigs;
import io.flatnet.agent.state.InMemoryDataplane;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.RouteSpec.Path;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * End to end with a real FRR: zebra (with {@code dplane_fpm_nl}) and staticd in a scratch network
 * namespace, the agent (on an in-memory dataplane) as zebra's FPM server in that namespace. Static
 * routes are added and deleted through vtysh; the test asserts the routes the agent installs,
 * including an ECMP one, the precedence of a config peer, and that routes survive zebra dying and
 * are resynchronised when it comes back. Needs root and the {@code frr} package (CI installs it):
 * without them it fails, it does not skip.
 */
class ZebraFpmTest {

  static final java.nio.file.Path FRR = java.nio.file.Path.of("/usr/lib/frr");
  static final java.nio.file.Path FPM_MODULE =
      java.nio.file.Path.of("/usr/lib/x86_64-linux-gnu/frr/modules/dplane_fpm_nl.so");

  static final String AGENT_CONFIG =
      """
      node:
        name: node-a
        podCIDRs: [10.244.1.0/24]
        gateways: [169.254.1.1]
      ports:
        - name: up0
          device: "0000:3b:00.0"
          role: uplink
          addresses: [192.168.1.10/24, "fd00:1::10/64"]
        - name: up1
          device: "0000:3b:00.1"
          role: uplink
          addresses: [192.168.2.10/24, "fd00:2::10/64"]
      peers:
        - name: node-b
          nodeIPs: [192.168.1.20]
          podCIDRs: [10.244.2.0/24]
      bgp:
        asn: 65001
        neighbors: [{address: 192.168.1.1, asn: 65000}]
        fpm: {address: 127.0.0.1, port: 2620}
        frr: {manage: false}
      """;

  static final String STATIC_ROUTES =
      """
      ip route 10.10.0.0/16 192.168.1.1
      ip route 10.10.0.0/16 192.168.2.1
      ip route 10.244.2.0/24 192.168.2.1
      ipv6 route fd00:99::/64 fd00:1::1
      ipv6 route fd00:98::/64 fe80::1 up0
      ip route 10.11.0.0/16 blackhole
      """;

  String ns;
  java.nio.file.Path run;
  InMemoryDataplane dp;
  Agent agent;

  @BeforeEach
  void setUp() throws Exception {
    for (java.nio.file.Path p : List.of(FRR.resolve("zebra"), FRR.resolve("staticd"), FPM_MODULE)) {
      assertTrue(
          Files.isExecutable(p) || Files.isRegularFile(p),
          p + " is missing: this test needs FRR (apt-get install frr; ./flatnet installs it)");
    }
    assertEquals("root", System.getProperty("user.name"), "this test needs root (netns, FRR)");
    ns = "fnfpm-" + ProcessHandle.current().pid();
    run = Files.createTempDirectory("flatnet-zebra-");
    sh("chmod", "755", run.toString());
    sh("ip", "netns", "add", ns);
    sh("ip", "-n", ns, "link", "set", "lo", "up");
    for (int i = 0; i < 2; i++) {
      String up = "up" + i;
      sh("ip", "-n", ns, "link", "add", up, "type", "veth", "peer", "name", up + "p");
      sh("ip", "-n", ns, "link", "set", up, "up");
      sh("ip", "-n", ns, "link", "set", up + "p", "up");
      sh("ip", "-n", ns, "addr", "add", "192.168." + (i + 1) + ".10/24", "dev", up);
      sh("ip", "-n", ns, "addr", "add", "fd00:" + (i + 1) + "::10/64", "dev", up, "nodad");
    }
    java.nio.file.Path config = run.resolve("node.yaml");
    Files.writeString(config, AGENT_CONFIG);
    dp = new InMemoryDataplane();
    agent =
        new Agent(
            Agent.Options.defaults(config)
                .withStateDir(run.resolve("agent"))
                .withVhostSocketDir(run.resolve("vhost"))
                .withValidator(TestConfigs.VALIDATOR)
                .withDebounce(Duration.ofMillis(150)),
            dp);
    // In the namespace: the FPM server's socket is made there, where zebra connects.
    ApplyResult first = Netns.call(ns, agent::start);
    assertTrue(first.ok(), first.toString());
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      if (agent != null) {
        agent.close();
      }
    } finally {
      stopFrr(false);
      killLeftoversIn(ns);
      shQuietly("ip", "netns", "del", ns);
      if (run != null) {
        shQuietly("rm", "-rf", run.toString());
      }
    }
  }

  @Test
  void zebrasRoutesBecomeFlatnetRoutes() throws Exception {
    startFrr(STATIC_ROUTES);
    RouteSpec ecmp =
        RouteSpec.multipath(
            "10.10.0.0/16",
            List.of(new Path("192.168.1.1", "up0", 1), new Path("192.168.2.1", "up1", 1)),
            RouteSpec.ORIGIN_BGP);
    await("zebra's ECMP route", () -> ecmp.equals(route("10.10.0.0/16")));
    await("zebra's IPv6 route", () -> route("fd00:99::/64") != null);
    assertEquals(
        new RouteSpec("fd00:99::/64", "fd00:1::1", "up0", RouteSpec.ORIGIN_BGP),
        route("fd00:99::/64"));
    // node-b's pod CIDR comes from the config's peers: that route wins
    assertEquals(
        new RouteSpec("10.244.2.0/24", "192.168.1.20", "up0", RouteSpec.ORIGIN_PEER),
        route("10.244.2.0/24"));
    assertNull(route("fd00:98::/64")); // link-local gateway
    assertNull(route("10.11.0.0/16")); // blackhole
    assertNull(route("192.168.1.0/24")); // connected

    vtysh("ip route 10.13.0.0/16 192.168.2.1", "no ipv6 route fd00:99::/64 fd00:1::1");
    await("the added route", () -> route("10.13.0.0/16") != null);
    await("the deleted route to go", () -> route("fd00:99::/64") == null);
    assertEquals(
        new RouteSpec("10.13.0.0/16", "192.168.2.1", "up1", RouteSpec.ORIGIN_BGP),
        route("10.13.0.0/16"));
    vtysh("no ip route 10.10.0.0/16 192.168.2.1");
    await(
        "the ECMP route down to one path",
        () ->
            new RouteSpec("10.10.0.0/16", "192.168.1.1", "up0", RouteSpec.ORIGIN_BGP)
                .equals(route("10.10.0.0/16")));
  }

  @Test
  void routesSurviveZebraDyingAndAreResynchronisedWhenItComesBack() throws Exception {
    startFrr(STATIC_ROUTES + "ip route 10.13.0.0/16 192.168.2.1\n");
    await("zebra's routes", () -> route("10.13.0.0/16") != null && route("10.10.0.0/16") != null);
    await("zebra connected", agent::zebraConnected);
    long generation = agent.generation();

    stopFrr(true); // a crash: no goodbye
    await("the agent to see zebra gone", () -> !agent.zebraConnected());
    Thread.sleep(500);
    assertEquals(generation, agent.generation());
    assertTrue(route("10.13.0.0/16") != null && route("10.10.0.0/16") != null);

    // zebra comes back without 10.13: it goes once zebra has re-sent its table
    startFrr(STATIC_ROUTES);
    await("zebra back", agent::zebraConnected);
    await("10.13.0.0/16 to go after the resync", () -> route("10.13.0.0/16") == null);
    assertTrue(route("10.10.0.0/16").isMultipath());
    assertFalse(route("fd00:99::/64") == null);
  }

  // ---------------------------------------------------------------- FRR

  void startFrr(String staticRoutes) throws Exception {
    Files.writeString(
        run.resolve("zebra.conf"),
        """
        hostname %s
        log file %s/zebra.log debugging
        debug zebra fpm
        fpm address 127.0.0.1 port 2620
        no fpm use-next-hop-groups
        """
            .formatted(ns, run));
    Files.writeString(run.resolve("staticd.conf"), "hostname " + ns + "\n" + staticRoutes);
    sh("chown", "-R", "frr:frr", run.toString());
    sh(daemon("zebra", "-M", "dplane_fpm_nl"));
    sh(daemon("staticd"));
  }

  /** A daemon with its own pathspace, sockets, pid file and config, no TCP vty. */
  String[] daemon(String name, String... extra) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "ip",
                "netns",
                "exec",
                ns,
                FRR.resolve(name).toString(),
                "-d",
                "-u",
                "frr",
                "-g",
                "frr",
                "-N",
                ns,
                "-P",
                "0",
                "-z",
                run.resolve("zserv.api").toString(),
                "--vty_socket",
                run.toString(),
                "-i",
                run.resolve(name + ".pid").toString(),
                "-f",
                run.resolve(name + ".conf").toString()));
    cmd.addAll(List.of(extra));
    return cmd.toArray(String[]::new);
  }

  /** Stops the daemons this test started (by their pid files): SIGKILL if {@code crash}. */
  void stopFrr(boolean crash) throws Exception {
    if (run == null) {
      return;
    }
    for (String name : List.of("zebra", "staticd")) {
      java.nio.file.Path pidFile = run.resolve(name + ".pid");
      if (!Files.exists(pidFile)) {
        continue;
      }
      long pid = Long.parseLong(Files.readString(pidFile).trim());
      ProcessHandle.of(pid)
          .ifPresent(
              p -> {
                if (crash) {
                  p.destroyForcibly();
                } else {
                  p.destroy();
                }
                p.onExit().orTimeout(5, TimeUnit.SECONDS).exceptionally(e -> p).join();
              });
      Files.deleteIfExists(pidFile);
    }
  }

  /** Any process still in this test's namespace was started by it: end each, by pid. */
  static void killLeftoversIn(String ns) {
    try {
      Process p = new ProcessBuilder("ip", "netns", "pids", ns).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor(10, TimeUnit.SECONDS);
      for (String pid : out.trim().split("\\s+")) {
        if (!pid.isEmpty()) {
          ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
        }
      }
    } catch (Exception e) {
      System.err.println("cleanup of " + ns + ": " + e.getMessage());
    }
  }

  void vtysh(String... config) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of("ip", "netns", "exec", ns, "vtysh", "--vty_socket", run.toString()));
    cmd.addAll(List.of("-c", "configure terminal"));
    for (String line : config) {
      cmd.addAll(List.of("-c", line));
    }
    sh(cmd.toArray(String[]::new));
  }

  // ---------------------------------------------------------------- helpers

  RouteSpec route(String prefix) {
    return dp.installed().routes().get(prefix);
  }

  void await(String what, BooleanSupplier condition) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "timed out waiting for "
                + what
                + "; installed: "
                + dp.installed().routes().values()
                + "\nzebra.log:\n"
                + zebraLog());
      }
      Thread.sleep(50);
    }
  }

  String zebraLog() {
    try {
      List<String> lines = Files.readAllLines(run.resolve("zebra.log"));
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "(no zebra.log: " + e.getMessage() + ")";
    }
  }

  static void sh(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", cmd) + ": timed out");
    }
    if (p.exitValue() != 0) {
      throw new AssertionError(String.join(" ", cmd) + ": exit " + p.exitValue() + ": " + out);
    }
  }

  static void shQuietly(String... cmd) {
    try {
      sh(cmd);
    } catch (Exception | AssertionError e) {
      System.err.println("cleanup: " + e.getMessage());
    }
  }
}
