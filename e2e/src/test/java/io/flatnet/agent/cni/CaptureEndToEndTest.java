package io.flatnet.agent.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.ctl.CtlMain;
import io.flatnet.control.CaptureFile;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ctl capture} and {@code ctl trace --live} against a real node (flatnet run --config, in
 * its own namespace) with two netns pods the real CNI plugin added: a pod's ping captured to pcapng
 * and read back with tshark (echo request inbound, reply outbound, on the pod's interface), a
 * no-route drop captured with its reason as the comment, and the live path of a ping.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CaptureEndToEndTest {
  static final String[] PODS = {"fnq-pa", "fnq-pb"};

  Path dir;
  RouterChild router;
  final List<com.fasterxml.jackson.databind.JsonNode> results = new ArrayList<>();

  record Ctl(int exit, String out, String err) {}

  @BeforeAll
  void start(@TempDir Path tmp) throws Exception {
    Assumptions.assumeTrue(
        "0".equals(RouterChild.sh("id", "-u").output().strip()), "needs root (netns, veth)");
    assertTrue( // fails, never skips: ./flatnet installs tshark for the tests
        Files.isExecutable(Path.of("/usr/bin/tshark")), "needs tshark (apt-get install tshark)");
    dir = tmp;
    router = new RouterChild("fnq", dir);
    router.start();
    results.addAll(router.addPortPods(PODS, "cap", "cap/pod-"));
  }

  @AfterAll
  void stop() throws Exception {
    if (router != null) {
      Files.writeString(Path.of("target", "capture-e2e-router.log"), router.logText());
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
    all.add("--dir");
    all.add(router.runDir.toString());
    int exit = cl.execute(all.toArray(String[]::new));
    System.out.println("$ flatnet ctl " + String.join(" ", args) + "\n" + out + err);
    return new Ctl(exit, out.toString(), err.toString());
  }

  String ip(int pod) {
    String cidr = results.get(pod).path("ips").get(0).path("address").asText();
    return cidr.substring(0, cidr.indexOf('/'));
  }

  static void ping(String ns, String target) {
    RouterChild.sh(
        List.of(
            "ip", "netns", "exec", ns, "ping", "-c", "3", "-i", "0.3", "-W", "1", "-w", "4",
            target),
        10);
  }

  /** Runs ctl in the background, waits for its session to start, runs {@code traffic}. */
  Ctl during(Runnable traffic, String... args) throws Exception {
    long before;
    try (CaptureFile.Mapped file =
        CaptureFile.open(router.runDir.resolve(CaptureFile.FILE).toFile())) {
      before = file.ended();
      CompletableFuture<Ctl> run = new CompletableFuture<>();
      Thread.ofPlatform().daemon().start(() -> run.complete(ctl(args)));
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (file.session() == 0 && !run.isDone() && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertTrue(file.session() != 0 || run.isDone(), "the capture started");
      traffic.run();
      Ctl result;
      try {
        result = run.get(30, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        StringBuilder dump = new StringBuilder("ctl did not end; session " + file.session());
        dump.append(", ended ").append(file.ended()).append(", lost ").append(file.ringFullTotal());
        for (int w = 0; w < file.workers(); w++) {
          dump.append(", ring ").append(w).append(" produced ");
          dump.append(file.ring(w).producerPosition()).append(" consumed ");
          dump.append(file.ring(w).consumerPosition());
        }
        dump.append("\nshow ports: ").append(ctl("show", "ports").out());
        dump.append("\nshow pods: ").append(ctl("show", "pods").out());
        dump.append("\nrouter log: ").append(router.logText());
        Thread.getAllStackTraces()
            .forEach(
                (t, stack) -> {
                  dump.append('\n').append(t.getName());
                  for (StackTraceElement f : stack) {
                    dump.append("\n  at ").append(f);
                  }
                });
        throw new AssertionError(dump.toString(), e);
      }
      assertTrue(file.ended() > before, "the session ended");
      return result;
    }
  }

  static List<String[]> tshark(Path file, String... fields) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("tshark", "-r", file.toString(), "-T", "fields"));
    for (String f : fields) {
      cmd.add("-e");
      cmd.add(f);
    }
    RouterChild.Result r = RouterChild.sh(cmd, 30);
    assertTrue(r.ok(), r.output());
    List<String[]> rows = new ArrayList<>();
    r.output()
        .lines()
        .filter(l -> !l.startsWith("Running as user"))
        .forEach(l -> rows.add(l.split("\t", -1)));
    return rows;
  }

  @Test
  void aPodsPingIsCapturedBothWaysAndOpensInTshark() throws Exception {
    Path file = dir.resolve("ping.pcapng");
    Ctl c =
        during(
            () -> ping(PODS[0], ip(1)),
            "capture",
            "--pod",
            "cap/pod-0",
            "--filter",
            "icmp",
            "--count",
            "4",
            "-w",
            file.toString());
    assertEquals(0, c.exit(), c.toString());
    assertTrue(c.err().contains("capture: 4 packets written"), c.err());
    List<String[]> rows =
        tshark(
            file,
            "frame.interface_name",
            "frame.packet_flags_direction",
            "icmp.type",
            "ip.src",
            "ip.dst");
    assertEquals(4, rows.size(), rows.stream().map(r -> String.join(" ", r)).toList().toString());
    boolean request = false;
    boolean reply = false;
    for (String[] row : rows) {
      assertEquals("cap/pod-0", row[0], String.join(" ", row));
      int direction = Integer.decode(row[1]);
      if (row[2].equals("8")) {
        assertEquals(ip(0), row[3]);
        assertEquals(1, direction, "the request arrives from the pod: inbound");
        request = true;
      } else if (row[2].equals("0")) {
        assertEquals(ip(0), row[4]);
        assertEquals(2, direction, "the reply leaves to the pod: outbound");
        reply = true;
      }
    }
    assertTrue(request && reply, "echo request and reply");
  }

  @Test
  void aNoRouteDropIsCapturedWithItsReason() throws Exception {
    Path file = dir.resolve("drops.pcapng");
    Ctl c =
        during(
            () -> ping(PODS[0], "10.78.1.1"),
            "capture",
            "--pod",
            "cap/pod-0",
            "--drops",
            "--direction",
            "rx",
            "--filter",
            "host 10.78.1.1",
            "--count",
            "2",
            "-w",
            file.toString());
    assertEquals(0, c.exit(), c.toString());
    List<String[]> rows = tshark(file, "frame.comment", "ip.dst", "frame.packet_flags_direction");
    assertEquals(2, rows.size(), "the request as received, and as dropped");
    assertTrue(
        rows.stream().anyMatch(r -> r[0].equals("drop: no-route") && r[1].equals("10.78.1.1")),
        "the drop carries its reason");
  }

  @Test
  void liveTraceShowsAPingsPath() throws Exception {
    Ctl c =
        during(
            () -> ping(PODS[0], ip(1)),
            "trace",
            "--live",
            "--filter",
            "icmp and dst host " + ip(1),
            "--count",
            "1",
            "--timeout",
            "15");
    assertEquals(0, c.exit(), c.toString());
    String out = c.out();
    assertTrue(out.contains("1 packets traced"), out);
    assertTrue(out.contains("rx         port cap/pod-0"), out);
    assertTrue(out.contains("lookup     next hop"), out);
    assertTrue(out.contains("(forward) via port cap/pod-1"), out);
    assertTrue(out.contains("rewrite"), out);
    assertTrue(out.contains("tx         port cap/pod-1"), out);
  }

  /** A ctl JVM of its own, as an operator runs it. */
  ProcessBuilder ctlJvm(String... args) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                ProcessHandle.current().info().command().orElse("java"),
                "--add-exports",
                "java.base/jdk.internal.misc=ALL-UNNAMED",
                "-cp",
                System.getProperty("java.class.path"),
                "io.flatnet.agent.ctl.CtlMain"));
    cmd.addAll(List.of(args));
    cmd.addAll(List.of("--dir", router.runDir.toString()));
    return new ProcessBuilder(cmd);
  }

  long waitForSession(CaptureFile.Mapped file, Process p) throws InterruptedException {
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (file.session() == 0 && p.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertTrue(file.session() != 0, "the capture started");
    return file.session();
  }

  @Test
  void writesToAPipeThatTsharkReads() throws Exception {
    Path fields = dir.resolve("pipe.txt");
    try (CaptureFile.Mapped file =
        CaptureFile.open(router.runDir.resolve(CaptureFile.FILE).toFile())) {
      Process ctl =
          ctlJvm("capture", "--pod", "cap/pod-1", "--filter", "icmp", "--count", "2", "-w", "-")
              .redirectError(dir.resolve("pipe-err.txt").toFile())
              .start();
      Process tshark =
          new ProcessBuilder(
                  "tshark",
                  "-r",
                  "-",
                  "-T",
                  "fields",
                  "-e",
                  "frame.interface_name",
                  "-e",
                  "icmp.type")
              .redirectOutput(fields.toFile())
              .redirectError(ProcessBuilder.Redirect.DISCARD)
              .start();
      Thread pipe =
          Thread.ofPlatform()
              .start(
                  () -> {
                    try (var in = ctl.getInputStream();
                        var out = tshark.getOutputStream()) {
                      in.transferTo(out);
                    } catch (java.io.IOException e) {
                      // the test's assertions say what went wrong
                    }
                  });
      waitForSession(file, ctl);
      ping(PODS[0], ip(1));
      assertTrue(ctl.waitFor(30, TimeUnit.SECONDS), "ctl ended at its count");
      pipe.join(10_000);
      assertTrue(tshark.waitFor(30, TimeUnit.SECONDS));
      String err = Files.readString(dir.resolve("pipe-err.txt"));
      assertEquals(0, ctl.exitValue(), err);
      assertTrue(err.contains("capture: 2 packets written to stdout"), err);
    }
    List<String> rows =
        Files.readAllLines(fields).stream().filter(l -> !l.startsWith("Running as")).toList();
    assertEquals(List.of("cap/pod-1\t8", "cap/pod-1\t0"), rows, "request out to pod-1, reply in");
  }

  @Test
  void ctrlCEndsTheCaptureAndLeavesAValidFile() throws Exception {
    Path out = dir.resolve("interrupted.pcapng");
    try (CaptureFile.Mapped file =
        CaptureFile.open(router.runDir.resolve(CaptureFile.FILE).toFile())) {
      Process ctl =
          ctlJvm("capture", "--pod", "cap/pod-0", "--filter", "icmp", "-w", out.toString())
              .redirectErrorStream(true)
              .start();
      long session = waitForSession(file, ctl);
      Ctl second = ctl("capture", "-w", dir.resolve("second.pcapng").toString());
      assertEquals(1, second.exit(), second.toString());
      assertTrue(second.err().contains("a capture runs already (session " + session), second.err());
      Ctl badFilter = ctl("trace", "--live", "--filter", "tcp and");
      assertEquals(1, badFilter.exit(), badFilter.toString());
      assertTrue(badFilter.err().contains("filter 'tcp and'"), badFilter.err());
      ping(PODS[0], ip(1));
      RouterChild.sh("kill", "-INT", Long.toString(ctl.pid()));
      assertTrue(ctl.waitFor(20, TimeUnit.SECONDS), "ctl ended on SIGINT");
      String text =
          new String(ctl.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      assertTrue(text.contains("capture: 6 packets written"), text);
      assertEquals(session, file.ended(), "ctl stopped its session in the dataplane");
      assertEquals(0, file.session(), "no capture runs");
    }
    List<String[]> rows = tshark(out, "icmp.type");
    assertEquals(6, rows.size(), "3 requests and 3 replies");
  }
}
