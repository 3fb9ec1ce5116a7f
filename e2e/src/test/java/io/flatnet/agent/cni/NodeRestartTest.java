package io.flatnet.agent.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
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
 *   <li>the agent is kept busy (route add/del as fast as it takes them, up to 1,000 a second: about
 *       90 here, each is persisted; a pod added and deleted every 100 ms; {@code show routes} and a
 *       {@code /metrics} scrape every second): not one datagram is lost;
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
    router.extraArgs.addAll(List.of("--metrics", "127.0.0.1:9465"));
    router.start();
    results.addAll(router.addPortPods(PODS, "rs", "rs/pod-"));
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

  /** Starts the counted stream from pod 0 to pod 1; returns {receiver, sender}. */
  Process[] stream() throws IOException {
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
    assertEquals("listening", readLine(receiver));
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
    return new Process[] {receiver, sender};
  }

  /**
   * Waits for the stream to end and asserts every datagram arrived; returns the receiver's line.
   */
  String assertNoLoss(Process[] stream, String what) throws Exception {
    Process receiver = stream[0];
    Process sender = stream[1];
    assertTrue(sender.waitFor(SECONDS + 30, TimeUnit.SECONDS), "the sender finished");
    int sent = Integer.parseInt(new String(sender.getInputStream().readAllBytes()).strip());
    assertTrue(receiver.waitFor(30, TimeUnit.SECONDS), "the receiver finished");
    String got = new String(receiver.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    Matcher m = Pattern.compile("received (\\d+)").matcher(got);
    assertTrue(m.find(), got);
    assertEquals(RATE * SECONDS, sent);
    assertEquals(sent, Integer.parseInt(m.group(1)), "datagrams lost " + what);
    return "sent " + sent + " at " + RATE + "/s, " + got.strip();
  }

  @Test
  @Order(0)
  void aBusyAgentLosesNothing() throws Exception {
    AgentClient agent = new AgentClient(router.socket(), Duration.ofSeconds(10));
    java.util.concurrent.atomic.AtomicBoolean stop =
        new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.atomic.AtomicLong routes = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.atomic.AtomicLong pods = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.atomic.AtomicLong looks = new java.util.concurrent.atomic.AtomicLong();
    List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());
    Thread routeChurn =
        Thread.ofPlatform()
            .start(
                () -> {
                  long next = System.nanoTime();
                  for (int i = 0; !stop.get(); i++) {
                    String prefix = "10.77." + (i / 250 % 250) + "." + (i % 250) + "/32";
                    AgentProtocol.Response add =
                        ask(
                            agent,
                            AgentProtocol.Request.routeAdd(prefix, RouterChild.PEER_V4, "uplink"));
                    AgentProtocol.Response del = ask(agent, AgentProtocol.Request.routeDel(prefix));
                    if (!add.ok() || !del.ok()) {
                      errors.add("route " + prefix + ": " + add.error() + " / " + del.error());
                    }
                    routes.addAndGet(2);
                    next += 2_000_000; // 1,000 changes a second at most
                    java.util.concurrent.locks.LockSupport.parkNanos(next - System.nanoTime());
                  }
                });
    Thread podChurn =
        Thread.ofPlatform()
            .start(
                () -> {
                  for (int i = 0; !stop.get(); i++) {
                    AgentProtocol.Response add =
                        ask(
                            agent,
                            new AgentProtocol.Request(
                                AgentProtocol.POD_ADD,
                                "rs/churn",
                                "churn" + i,
                                "tap",
                                List.of("10.244.5.200"),
                                null,
                                null,
                                null,
                                "fnrchurn0"));
                    AgentProtocol.Response del =
                        ask(agent, AgentProtocol.Request.podDel("rs/churn", "churn" + i));
                    if (!add.ok() || !del.ok()) {
                      errors.add("pod churn " + i + ": " + add.error() + " / " + del.error());
                    }
                    pods.incrementAndGet();
                    try {
                      Thread.sleep(100);
                    } catch (InterruptedException e) {
                      return;
                    }
                  }
                });
    Thread lookers =
        Thread.ofPlatform()
            .start(
                () -> {
                  while (!stop.get()) {
                    AgentProtocol.Response show =
                        ask(agent, AgentProtocol.Request.of(AgentProtocol.SHOW_ROUTES));
                    RouterChild.Result scrape =
                        RouterChild.shIn(router.ns, "curl", "-sS", "http://127.0.0.1:9465/metrics");
                    if (!show.ok() || !scrape.ok() || !scrape.output().contains("flatnet_")) {
                      errors.add("show/scrape: " + show.error() + " / " + scrape.output());
                    }
                    looks.incrementAndGet();
                    try {
                      Thread.sleep(1000);
                    } catch (InterruptedException e) {
                      return;
                    }
                  }
                });
    String result;
    long begun = System.nanoTime();
    try {
      Thread.sleep(500);
      result = assertNoLoss(stream(), "while the agent was busy");
    } finally {
      stop.set(true);
      routeChurn.join(30_000);
      podChurn.join(30_000);
      lookers.join(30_000);
    }
    double seconds = (System.nanoTime() - begun) / 1e9;
    System.out.printf(
        "busy agent: %s; meanwhile %.0f route changes/s, %.1f pod add+del/s, %d show+scrape%n",
        result, routes.get() / seconds, pods.get() / seconds, looks.get());
    assertEquals(List.of(), errors);
    // The agent keeps each runtime route on disk (RuntimeRouteStore) before it answers.
    assertTrue(routes.get() / seconds > 20, "the route churn ran: " + routes.get());
    assertTrue(pods.get() > 10, "the pod churn ran: " + pods.get());
  }

  @Test
  @Order(1)
  void killingTheAgentMidStreamLosesNothingAndChangesNothing() throws Exception {
    long oldAgent = router.pid("agent");
    int readyBefore = count(router.logText(), "flatnet agent: ready");
    Process[] stream = stream();
    Thread.sleep(2_000);
    router.kill("agent");
    awaitLog("flatnet agent: ready", readyBefore + 1, 60);
    long newAgent = router.pid("agent");
    assertNotEquals(oldAgent, newAgent, "the supervisor started a new agent");
    String result = assertNoLoss(stream, "across the agent restart");
    System.out.printf("agent restart mid-stream: %s; agent %d -> %d%n", result, oldAgent, newAgent);

    // The new agent found the node as it was: its first reconcile changed nothing.
    String log = router.logText();
    String afterRestart = log.substring(log.lastIndexOf("flatnet run: agent pid " + newAgent));
    assertTrue(afterRestart.contains(": Unchanged["), afterRestart);
    // And it serves: a third pod comes and goes through it.
    RouterChild.sh("ip", "netns", "del", "fnr-pc");
    RouterChild.must("ip", "netns", "add", "fnr-pc");
    try {
      RouterChild.Cni r =
          router.cni("ADD", "rs2", "fnr-pc", "rs/pod-2", router.conf(RouterChild.PORT_MODE));
      assertEquals(0, r.exit(), r.toString());
      AgentProtocol.Response pods =
          new AgentClient(router.socket(), Duration.ofSeconds(10))
              .call(AgentProtocol.Request.of(AgentProtocol.SHOW_PODS));
      assertTrue(pods.ok(), String.valueOf(pods.error()));
      assertEquals(3, pods.data().size(), pods.data().toString());
      assertEquals(
          0,
          router
              .cni("DEL", "rs2", "fnr-pc", "rs/pod-2", router.conf(RouterChild.PORT_MODE))
              .exit());
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

  /** A call whose I/O failure is an answer too (counted as an error by the churn). */
  static AgentProtocol.Response ask(AgentClient agent, AgentProtocol.Request request) {
    try {
      return agent.call(request);
    } catch (IOException e) {
      return AgentProtocol.Response.failure(request.op() + ": " + e);
    }
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
