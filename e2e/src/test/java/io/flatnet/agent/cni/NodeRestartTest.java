package io.flatnet.agent.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.flatnet.agent.api.AgentClient;
import io.flatnet.agent.api.AgentProtocol;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The two processes of a node ({@code flatnet run --config}) restart apart, with two CNI pods
 * (af_packet ports) and a counted UDP stream between them:
 *
 * <ul>
 *   <li>the agent is killed (SIGKILL) mid-stream: not one datagram is lost, the supervisor starts a
 *       new agent, which finds everything in place and changes nothing, and serves CNI again;
 *   <li>the dataplane is killed: the supervisor starts a new one, the agent applies the whole state
 *       to it, and the pods reach each other again; the time that takes is reported.
 * </ul>
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NodeRestartTest {
  static final String[] PODS = {"fnr-pa", "fnr-pb"};
  static final String PORT_MODE = ",\"attach\":\"port\"";
  static final int RATE = 5_000;
  static final int SECONDS = 8;

  Path dir;
  Path script;
  RouterChild router;
  final List<JsonNode> results = new ArrayList<>();

  @BeforeAll
  void start(@TempDir Path tmp) throws Exception {
    Assumptions.assumeTrue(
        "0".equals(RouterChild.sh("id", "-u").output().strip()), "needs root (netns, veth)");
    dir = tmp;
    script = dir.resolve("udp_stream.py");
    try (InputStream in = getClass().getResourceAsStream("/udp_stream.py")) {
      Files.write(script, in.readAllBytes());
    }
    router = new RouterChild("fnr", dir);
    router.start();
    for (int i = 0; i < PODS.length; i++) {
      RouterChild.sh("ip", "netns", "del", PODS[i]);
      RouterChild.must("ip", "netns", "add", PODS[i]);
      RouterChild.Cni r =
          router.cni("ADD", "rs" + i, PODS[i], "rs/pod-" + i, router.conf(PORT_MODE));
      assertEquals(0, r.exit(), r.toString());
      results.add(JsonMapper.builder().build().readTree(r.stdout()));
    }
    assertTrue(awaitPing(PODS[0], ip(1), 20), "pod 0 reaches pod 1 before the restarts");
  }

  @AfterAll
  void stop() throws Exception {
    if (router != null) {
      Files.writeString(Path.of("target", "node-restart-router.log"), router.logText());
      for (String ns : PODS) {
        RouterChild.sh("ip", "netns", "del", ns);
      }
      router.close();
    }
  }

  String ip(int pod) {
    String cidr = results.get(pod).path("ips").get(0).path("address").asText();
    return cidr.substring(0, cidr.indexOf('/'));
  }

  static boolean awaitPing(String ns, String target, int seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      if (RouterChild.sh(
              List.of("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", target), 5)
          .ok()) {
        return true;
      }
      Thread.sleep(100);
    }
    return false;
  }

  int count(String text, String needle) {
    int n = 0;
    for (int at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
      n++;
    }
    return n;
  }

  void awaitLog(String needle, int times, int seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (count(router.logText(), needle) < times) {
      assertTrue(
          System.nanoTime() < deadline,
          "no " + times + " x '" + needle + "' in " + seconds + " s:\n" + router.logText());
      Thread.sleep(50);
    }
  }

  @Test
  @Order(1)
  void killingTheAgentMidStreamLosesNothingAndChangesNothing() throws Exception {
    long oldAgent = router.pid("agent");
    int readyBefore = count(router.logText(), "flatnet agent: ready");
    Process receiver =
        new ProcessBuilder(
                "ip",
                "netns",
                "exec",
                PODS[1],
                "python3",
                script.toString(),
                "receive",
                "9999",
                "3")
            .redirectErrorStream(true)
            .start();
    String listening = readLine(receiver);
    assertEquals("listening", listening);
    Process sender =
        new ProcessBuilder(
                "ip",
                "netns",
                "exec",
                PODS[0],
                "python3",
                script.toString(),
                "send",
                ip(1),
                "9999",
                Integer.toString(RATE),
                Integer.toString(SECONDS))
            .redirectErrorStream(true)
            .start();
    Thread.sleep(2_000);
    router.kill("agent");
    awaitLog("flatnet agent: ready", readyBefore + 1, 60);
    long newAgent = router.pid("agent");
    assertNotEquals(oldAgent, newAgent, "the supervisor started a new agent");
    assertTrue(sender.waitFor(SECONDS + 30, TimeUnit.SECONDS), "the sender finished");
    int sent = Integer.parseInt(new String(sender.getInputStream().readAllBytes()).strip());
    assertTrue(receiver.waitFor(30, TimeUnit.SECONDS), "the receiver finished");
    String got = new String(receiver.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    System.out.printf(
        "agent restart mid-stream: sent %d at %d/s, %s; agent %d -> %d%n",
        sent, RATE, got.strip(), oldAgent, newAgent);
    Matcher m = Pattern.compile("received (\\d+)").matcher(got);
    assertTrue(m.find(), got);
    assertEquals(RATE * SECONDS, sent);
    assertEquals(sent, Integer.parseInt(m.group(1)), "datagrams lost across the agent restart");

    // The new agent found the node as it was: its first reconcile changed nothing.
    String log = router.logText();
    String afterRestart = log.substring(log.lastIndexOf("flatnet run: agent pid " + newAgent));
    assertTrue(afterRestart.contains(": Unchanged["), afterRestart);
    // And it serves: a third pod comes and goes through it.
    RouterChild.sh("ip", "netns", "del", "fnr-pc");
    RouterChild.must("ip", "netns", "add", "fnr-pc");
    try {
      RouterChild.Cni r = router.cni("ADD", "rs2", "fnr-pc", "rs/pod-2", router.conf(PORT_MODE));
      assertEquals(0, r.exit(), r.toString());
      AgentProtocol.Response pods =
          new AgentClient(router.socket(), Duration.ofSeconds(10))
              .call(AgentProtocol.Request.of(AgentProtocol.SHOW_PODS));
      assertTrue(pods.ok(), String.valueOf(pods.error()));
      assertEquals(3, pods.data().size(), pods.data().toString());
      assertEquals(
          0, router.cni("DEL", "rs2", "fnr-pc", "rs/pod-2", router.conf(PORT_MODE)).exit());
    } finally {
      RouterChild.sh("ip", "netns", "del", "fnr-pc");
    }
  }

  @Test
  @Order(2)
  void aRestartedDataplaneGetsTheWholeStateBack() throws Exception {
    long oldDataplane = router.pid("dataplane");
    long killed = System.nanoTime();
    router.kill("dataplane");
    awaitLog("flatnet agent: the dataplane restarted", 1, 90);
    assertNotEquals(oldDataplane, router.pid("dataplane"));
    assertTrue(awaitPing(PODS[0], ip(1), 60), "pod 0 reaches pod 1 through the new dataplane");
    double seconds = (System.nanoTime() - killed) / 1e9;
    System.out.printf("dataplane restart: pods reach each other %.1f s after the kill%n", seconds);
    AgentProtocol.Response pods =
        new AgentClient(router.socket(), Duration.ofSeconds(10))
            .call(AgentProtocol.Request.of(AgentProtocol.SHOW_PODS));
    assertTrue(pods.ok(), String.valueOf(pods.error()));
    assertEquals(2, pods.data().size(), pods.data().toString());
  }

  static String readLine(Process p) throws IOException {
    StringBuilder b = new StringBuilder();
    InputStream in = p.getInputStream();
    for (int c = in.read(); c >= 0 && c != '\n'; c = in.read()) {
      b.append((char) c);
    }
    return b.toString();
  }
}
