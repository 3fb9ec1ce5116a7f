package io.flatnet.agent.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.flatnet.agent.TestConfigs;
import io.flatnet.agent.config.ConfigLoader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link NodeFrr}, flatnet run's FRR child, with real FRR in a network namespace of its own: it
 * starts zebra and bgpd, links the run directory's {@code frr} to FRR's, restarts bgpd when the
 * file's bgp section changes (SIGHUP or not), and stops FRR when the section goes. Needs root and
 * Debian's frr; fails without them.
 */
class NodeFrrTest {
  private final String ns = "fnfrr-" + ProcessHandle.current().pid() % 100000;

  @TempDir Path tmp;

  private NodeFrr frr;
  private final ByteArrayOutputStream log = new ByteArrayOutputStream();

  private String yaml(String extra) {
    return """
        node:
          name: node-a
          podCIDRs: [10.244.1.0/24]
          gateways: [169.254.1.1]
        ports:
          - name: uplink0
            device: "0000:3b:00.0"
            role: uplink
            addresses: [192.0.2.10/24]
          - name: host0
            device: net_tap0,iface=fl-host
            role: host
            kernel: {namespace: %s}
        """
            .formatted(ns)
        + extra;
  }

  private static final String BGP =
      """
      bgp:
        asn: 65001
        neighbors:
          - {address: 192.0.2.1, asn: 65100}
      """;

  private static void sh(String... argv) throws IOException, InterruptedException {
    new ProcessBuilder(argv).redirectErrorStream(true).start().waitFor(30, TimeUnit.SECONDS);
  }

  @BeforeEach
  void setUp() throws Exception {
    assertTrue(Files.isExecutable(Path.of("/usr/lib/frr/zebra")), "install Debian's frr");
    sh("ip", "netns", "del", ns);
    sh("ip", "netns", "add", ns);
  }

  @AfterEach
  void tearDown() throws Exception {
    if (frr != null) {
      frr.close();
    }
    sh("ip", "netns", "del", ns);
  }

  private long pid(String daemon) {
    try {
      long pid =
          Long.parseLong(Files.readString(tmp.resolve("state/frr/" + daemon + ".pid")).strip());
      return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false) ? pid : -1;
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
  }

  private void tickUntil(LongSupplier value, long notEqual, String what) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      frr.tick();
      long v = value.getAsLong();
      if (v != notEqual && v != -1) {
        return;
      }
      TimeUnit.MILLISECONDS.sleep(100);
    }
    fail(what + "\n" + log.toString(StandardCharsets.UTF_8));
  }

  @Test
  void stopsAnFrrLeftRunningByAKilledSupervisor() throws Exception {
    Path file = tmp.resolve("node.yaml");
    Files.writeString(file, yaml(BGP));
    Path run = Files.createDirectories(tmp.resolve("run"));
    PrintStream out = new PrintStream(log, true, StandardCharsets.UTF_8);
    NodeFrr first = new NodeFrr(file, run, tmp.resolve("state"), out, TestConfigs.VALIDATOR);
    frr = first;
    first.start(ConfigLoader.load(file));
    tickUntil(() -> pid("bgpd"), -1, "bgpd started");
    long zebra = pid("zebra");
    long bgpd = pid("bgpd");
    assertNotEquals(-1, zebra);
    assertNotEquals(-1, bgpd);
    // the supervisor is gone without closing (SIGKILL): a new one starts on the same directory
    frr = new NodeFrr(file, run, tmp.resolve("state"), out, TestConfigs.VALIDATOR);
    try {
      frr.start(ConfigLoader.load(file));
      tickUntil(() -> pid("bgpd"), bgpd, "a new bgpd");
      assertFalse(ProcessHandle.of(zebra).map(ProcessHandle::isAlive).orElse(false));
      assertFalse(ProcessHandle.of(bgpd).map(ProcessHandle::isAlive).orElse(false));
      assertNotEquals(-1, pid("zebra"));
      String text = log.toString(StandardCharsets.UTF_8);
      assertTrue(text.contains("stopping a zebra left running (pid " + zebra + ")"), text);
    } finally {
      first.close();
    }
  }

  @Test
  void followsTheConfigFile() throws Exception {
    Path file = tmp.resolve("node.yaml");
    Files.writeString(file, yaml(BGP));
    Path run = Files.createDirectories(tmp.resolve("run"));
    frr =
        new NodeFrr(
            file,
            run,
            tmp.resolve("state"),
            new PrintStream(log, true, StandardCharsets.UTF_8),
            TestConfigs.VALIDATOR);
    frr.start(ConfigLoader.load(file));
    tickUntil(() -> pid("bgpd"), -1, "bgpd started");
    long zebra = pid("zebra");
    long bgpd = pid("bgpd");
    assertNotEquals(-1, zebra);
    assertEquals(
        tmp.resolve("state/frr").toAbsolutePath(), Files.readSymbolicLink(run.resolve("frr")));
    assertTrue(
        ProcessHandle.of(zebra)
            .orElseThrow()
            .info()
            .arguments()
            .map(a -> String.join(" ", a))
            .orElse("")
            .contains("-M dplane_fpm_nl"));

    // an unchanged file, or one with errors, leaves FRR alone
    frr.requestReload();
    frr.tick();
    Files.writeString(file, yaml(BGP.replace("asn: 65001", "asn: 0")));
    frr.requestReload();
    frr.tick();
    assertEquals(bgpd, pid("bgpd"));
    assertTrue(log.toString(StandardCharsets.UTF_8).contains("FRR left as it is"), log.toString());

    // a changed bgp section (timers: bgpd restarts) is followed without a SIGHUP: the file is
    // watched
    Files.writeString(
        file, yaml(BGP.replace("asn: 65100}", "asn: 65200}\n  keepalive: 5\n  hold: 15")));
    tickUntil(() -> pid("bgpd"), bgpd, "bgpd restarted on the new config");
    assertEquals(zebra, pid("zebra"));
    assertTrue(
        Files.readString(tmp.resolve("state/frr/bgpd.conf"))
            .contains("neighbor 192.0.2.1 remote-as 65200"));

    // the section removed: FRR stopped
    Files.writeString(file, yaml(""));
    frr.requestReload();
    frr.tick();
    assertEquals(-1, pid("zebra"));
    assertEquals(-1, pid("bgpd"));
    assertFalse(ProcessHandle.of(zebra).map(ProcessHandle::isAlive).orElse(false));
    String out = log.toString(StandardCharsets.UTF_8);
    assertTrue(out.contains("flatnet run: zebra pid " + zebra), out);
    assertTrue(out.contains("bgp: no bgp section: stopping FRR"), out);
  }
}
