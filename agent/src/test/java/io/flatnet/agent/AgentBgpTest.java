package io.flatnet.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.state.InMemoryDataplane;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.RouteSpec.Path;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent as zebra's FPM server, fed the bytes a real zebra sent (src/test/resources/fpm) over a
 * plain socket: routes of origin bgp in one debounced generation, precedence of the other sources,
 * bad data, and the bgp section coming and going on reload. The real zebra is in {@code
 * bgp.ZebraFpmTest}.
 */
class AgentBgpTest {

  @TempDir java.nio.file.Path dir;
  java.nio.file.Path config;
  InMemoryDataplane dp;
  int port;

  /** The recording's first 11 frames: zebra's table on connect. */
  static final int FIRST_TABLE_BYTES = 744;

  static String yaml(int port, boolean bgp) {
    return """
        node:
          name: node-a
          podCIDRs: [10.244.1.0/24]
          serviceCIDRs: [10.96.0.0/12]
          gateways: [169.254.1.1]
        ports:
          - name: up0
            device: "0000:3b:00.0"
            role: uplink
            addresses: [192.168.1.10/24, "fd00:1::10/64"]
          - name: up1
            device: "0000:3b:00.1"
            role: uplink
            addresses: [192.168.2.10/24]
        peers:
          - name: node-b
            nodeIPs: [192.168.1.20]
            podCIDRs: [10.9.0.0/16]
        """
        + (bgp
            ? """
            bgp:
              asn: 65001
              neighbors: [{address: 192.168.1.1, asn: 65000}]
              fpm: {address: 127.0.0.1, port: %d}
              frr: {manage: false}
            """
                .formatted(port)
            : "");
  }

  @BeforeEach
  void setUp() throws Exception {
    config = dir.resolve("node.yaml");
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Files.writeString(config, yaml(port, true));
    dp = new InMemoryDataplane();
  }

  Agent agent() throws Exception {
    return new Agent(
        Agent.Options.defaults(config)
            .withStateDir(dir.resolve("state"))
            .withVhostSocketDir(dir.resolve("vhost"))
            .withValidator(TestConfigs.VALIDATOR)
            .withDebounce(Duration.ofMillis(100)),
        dp);
  }

  static byte[] recording(String name) throws Exception {
    try (InputStream in = AgentBgpTest.class.getResourceAsStream("/fpm/" + name)) {
      return in.readAllBytes();
    }
  }

  Socket zebra() throws Exception {
    Socket s = new Socket();
    s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    return s;
  }

  /** Whether the other end closed (or reset: it had not read all we sent). */
  static boolean closedByPeer(Socket s) throws Exception {
    s.setSoTimeout(5000);
    try {
      return s.getInputStream().read() == -1;
    } catch (java.net.SocketException e) {
      return true;
    }
  }

  RouteSpec route(String prefix) {
    return dp.installed().routes().get(prefix);
  }

  static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(20);
    }
  }

  static final RouteSpec ECMP =
      RouteSpec.multipath(
          "10.10.0.0/16",
          List.of(new Path("192.168.1.1", "up0", 1), new Path("192.168.2.1", "up1", 1)),
          RouteSpec.ORIGIN_BGP);

  @Test
  void zebrasTableIsOneGenerationAndOtherSourcesWin() throws Exception {
    try (Agent a = agent()) {
      assertTrue(a.start().ok());
      assertEquals(1, a.generation());
      assertNotNull(a.fpmAddress());
      byte[] bytes = recording("nhg-off-connection1.fpm");
      try (Socket s = zebra()) {
        s.getOutputStream().write(Arrays.copyOf(bytes, FIRST_TABLE_BYTES));
        await("zebra's table", () -> route("10.10.0.0/16") != null);
        assertEquals(2, a.generation()); // one generation for the whole burst
        assertEquals(ECMP, route("10.10.0.0/16"));
        assertEquals(
            new RouteSpec("fd00:99::/64", "fd00:1::1", "up0", RouteSpec.ORIGIN_BGP),
            route("fd00:99::/64"));
        // 10.9.0.0/16 is node-b's pod CIDR in the config: the peer route wins
        assertEquals(
            new RouteSpec("10.9.0.0/16", "192.168.1.20", "up0", RouteSpec.ORIGIN_PEER),
            route("10.9.0.0/16"));
        assertTrue(a.bgpRoutes().stream().anyMatch(r -> r.prefix().equals("10.9.0.0/16")));
        assertNull(route("10.11.0.0/16")); // blackhole
        assertNull(route("fd00:98::/64")); // link-local gateway
        assertNull(route("192.168.1.0/24")); // connected

        // The changes: 10.13 added, fd00:99 deleted, 10.10 down to one path.
        s.getOutputStream().write(Arrays.copyOfRange(bytes, FIRST_TABLE_BYTES, bytes.length));
        await("zebra's changes", () -> route("10.13.0.0/16") != null);
        assertNull(route("fd00:99::/64"));
        assertEquals(
            new RouteSpec("10.10.0.0/16", "192.168.1.1", "up0", RouteSpec.ORIGIN_BGP),
            route("10.10.0.0/16"));
        assertEquals(RouteSpec.ORIGIN_PEER, route("10.9.0.0/16").origin());
      }
    }
  }

  @Test
  void badDataClosesTheConnectionAndKeepsTheRoutes() throws Exception {
    try (Agent a = agent()) {
      assertTrue(a.start().ok());
      byte[] bytes = recording("nhg-off-connection1.fpm");
      try (Socket s = zebra()) {
        OutputStream out = s.getOutputStream();
        out.write(Arrays.copyOf(bytes, FIRST_TABLE_BYTES));
        await("zebra's table", () -> route("10.10.0.0/16") != null);
        long generation = a.generation();
        out.write(new byte[] {7, 1, 0, 8, 0, 0, 0, 0}); // FPM version 7
        out.flush();
        assertTrue(closedByPeer(s)); // the agent closed it
        await("the agent to notice", () -> !a.zebraConnected());
        Thread.sleep(300);
        assertEquals(generation, a.generation());
        assertEquals(ECMP, route("10.10.0.0/16"));
      }
      // zebra reconnects and re-sends: nothing to change
      try (Socket s = zebra()) {
        s.getOutputStream().write(Arrays.copyOf(bytes, FIRST_TABLE_BYTES));
        await("the new connection", a::zebraConnected);
        Thread.sleep(500);
        assertEquals(ECMP, route("10.10.0.0/16"));
      }
    }
  }

  @Test
  void removingTheBgpSectionStopsTheServerAndItsRoutes() throws Exception {
    try (Agent a = agent()) {
      assertTrue(a.start().ok());
      try (Socket s = zebra()) {
        s.getOutputStream()
            .write(Arrays.copyOf(recording("nhg-off-connection1.fpm"), FIRST_TABLE_BYTES));
        await("zebra's table", () -> route("10.10.0.0/16") != null);
      }
      Files.writeString(config, yaml(port, false));
      assertTrue(a.reload().ok());
      assertNull(route("10.10.0.0/16"));
      assertNull(a.fpmAddress());
      assertTrue(a.bgpRoutes().isEmpty());
      // and back: listening again, no routes until zebra sends them
      Files.writeString(config, yaml(port, true));
      assertTrue(a.reload().ok());
      assertNotNull(a.fpmAddress());
      assertNull(route("10.10.0.0/16"));
      try (Socket s = zebra()) {
        s.getOutputStream()
            .write(Arrays.copyOf(recording("nhg-off-connection1.fpm"), FIRST_TABLE_BYTES));
        await("zebra's table again", () -> route("10.10.0.0/16") != null);
      }
    }
  }

  @Test
  void aRestartedAgentKeepsTheBgpRoutesUntilZebraResendsItsTable() throws Exception {
    byte[] bytes = recording("nhg-off-connection1.fpm");
    try (Agent a = agent()) {
      assertTrue(a.start().ok());
      try (Socket s = zebra()) {
        s.getOutputStream().write(Arrays.copyOf(bytes, FIRST_TABLE_BYTES));
        await("zebra's table", () -> route("fd00:99::/64") != null);
      }
    }
    long generation = dp.installed().generation();
    try (Agent a = agent()) {
      assertTrue(a.start().ok());
      assertEquals(generation, a.generation(), "nothing to apply: zebra's routes are kept");
      Thread.sleep(300);
      assertEquals(ECMP, route("10.10.0.0/16"));
      // zebra connects and re-sends a table of 10.9 and 10.10 only: fd00:99 goes after the resync
      try (Socket s = zebra()) {
        s.getOutputStream().write(Arrays.copyOf(bytes, 148));
        await("the resync", () -> route("fd00:99::/64") == null);
        assertEquals(ECMP, route("10.10.0.0/16"));
      }
    }
  }

  @Test
  void withoutBgpTheAgentDoesNotListen() throws Exception {
    Files.writeString(config, yaml(port, false));
    try (Agent a = agent()) {
      assertTrue(a.start().ok());
      assertNull(a.fpmAddress());
      assertFalse(a.zebraConnected());
    }
  }
}
