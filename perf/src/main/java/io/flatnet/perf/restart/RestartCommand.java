package io.flatnet.perf.restart;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.flatnet.perf.BenchJson;
import io.flatnet.perf.e2e.E2eCommand;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ./flatnet bench restart}: how long a node's vhost-user pods wait when flatnet restarts.
 *
 * <p>A real node ({@code ./flatnet run --config}, as an operator starts it, so with the launcher's
 * start-up archives) serves two client-mode vhost-user pods. Each pod is a testpmd whose
 * virtio_user port is the socket's server ({@code server=1}, {@code packed_vq=1}, as a QEMU {@code
 * server=on} VM keeps its socket): pod A sends UDP to pod B (txonly), pod B counts what it receives
 * and prints it every second. Then, {@code --restarts} times each:
 *
 * <ul>
 *   <li>{@code node-restart}: the node is stopped (SIGTERM) and {@code ./flatnet run --config}
 *       started again; timed from that start;
 *   <li>{@code node-crash}: the supervisor, the dataplane and the agent are SIGKILLed and the node
 *       started again; timed from that start;
 *   <li>{@code dataplane-crash}: the dataplane alone is SIGKILLed; the supervisor starts a new one
 *       and the agent applies the whole state to it; timed from the kill.
 * </ul>
 *
 * <p>Reported for each: when the new dataplane was ready, when the agent had applied the config,
 * when both pods' ports were {@code running} (the dataplane's vhost-user monitor, every 100 ms),
 * and when pod B next printed a second with packets received (its statistics come once a second: an
 * upper bound). Lines are timed as they arrive from each process.
 */
@Command(
    name = "restart",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Restart a node with two client-mode vhost-user pods (testpmd, server=1) and time how long"
          + " until both pods are running and traffic is back.",
      ""
    })
public final class RestartCommand implements Callable<Integer> {

  @Spec private CommandSpec spec;

  @Option(
      names = "--restarts",
      defaultValue = "5",
      description = "Restarts of each kind. Default: ${DEFAULT-VALUE}.")
  private int restarts;

  @Option(
      names = "--kinds",
      split = ",",
      defaultValue = "node-restart,node-crash,dataplane-crash",
      description = "Which restarts. Default: ${DEFAULT-VALUE}.")
  private List<String> kinds;

  @Option(
      names = "--worker-cpu",
      defaultValue = "-1",
      description = "The node's worker CPU (default: the last CPU).")
  private int workerCpu;

  @Option(
      names = "--pod-cpu",
      defaultValue = "0",
      description = "The CPU both pods' testpmd run on. Default: ${DEFAULT-VALUE}.")
  private int podCpu;

  @Option(
      names = "--json",
      description = "Also write the results to perf/results/restart-<time>.json.")
  private boolean json;

  static final List<String> KINDS = List.of("node-restart", "node-crash", "dataplane-crash");
  private static final Pattern RX_PPS = Pattern.compile("Rx-pps:\\s+(\\d+)");
  private static final Pattern DATAPLANE_PID = Pattern.compile("flatnet run: dataplane pid (\\d+)");
  private static final Pattern AGENT_PID = Pattern.compile("flatnet run: agent pid (\\d+)");
  private static final Pattern STARTED_IN = Pattern.compile("started in (\\d+) ms \\(([^)]*)\\)");
  private static final String POD_RUNNING = "-> running";
  private static final long WAIT_NANOS = TimeUnit.SECONDS.toNanos(60);

  /**
   * A process whose output lines are kept with the time each arrived; its log file has that time
   * (System.nanoTime, in seconds) in front of each line.
   */
  static final class Lines {
    final Process process;
    private final List<String> text = new ArrayList<>();
    private final List<Long> at = new ArrayList<>();

    Lines(Process process, Path copy) {
      this.process = process;
      Thread.ofPlatform()
          .daemon()
          .name("restart-bench-reader")
          .start(
              () -> {
                try (BufferedReader r =
                        new BufferedReader(
                            new InputStreamReader(
                                process.getInputStream(), StandardCharsets.UTF_8));
                    var out = Files.newBufferedWriter(copy, StandardCharsets.UTF_8)) {
                  for (String l; (l = r.readLine()) != null; ) {
                    long now = System.nanoTime();
                    synchronized (this) {
                      text.add(l);
                      at.add(now);
                    }
                    out.write(String.format(Locale.ROOT, "%.3f ", now / 1e9));
                    out.write(l);
                    out.newLine();
                    out.flush();
                  }
                } catch (IOException e) {
                  // the process is gone
                }
              });
    }

    /** The arrival time of the {@code n}th line (1-based) after {@code since} matching, or -1. */
    synchronized long nth(long since, int n, java.util.function.Predicate<String> match) {
      int seen = 0;
      for (int i = firstAtOrAfter(since); i < text.size(); i++) {
        if (at.get(i) >= since && match.test(text.get(i)) && ++seen == n) {
          return at.get(i);
        }
      }
      return -1;
    }

    /** The last group 1 of {@code p} in a line after {@code since}, or null. */
    synchronized Matcher last(long since, Pattern p) {
      for (int i = text.size() - 1; i >= firstAtOrAfter(since); i--) {
        Matcher m = p.matcher(text.get(i));
        if (m.find()) {
          return m;
        }
      }
      return null;
    }

    /** Lines arrive in time order: a binary search, so polling stays cheap on a long log. */
    private int firstAtOrAfter(long since) {
      int lo = 0;
      int hi = at.size();
      while (lo < hi) {
        int mid = (lo + hi) >>> 1;
        if (at.get(mid) < since) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      return lo;
    }
  }

  /** One restart's times, in seconds from its start (NaN: not seen). */
  record Result(
      String kind, double dataplaneReady, double applied, double podsRunning, double traffic) {}

  private Path root;
  private Path dir;
  private Lines node;
  private Lines podB;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    for (String k : kinds) {
      if (!KINDS.contains(k)) {
        spec.commandLine().getErr().println("--kinds: " + k + " is not one of " + KINDS);
        return 2;
      }
    }
    int cpus = Runtime.getRuntime().availableProcessors();
    int worker = workerCpu >= 0 ? workerCpu : cpus - 1;
    root = E2eCommand.findRoot();
    dir = Files.createTempDirectory("flatnet-restart-");
    Path config = dir.resolve("node.yaml");
    Files.writeString(config, nodeConfig(dir, worker));
    out.printf(
        "node: %s (worker CPU %d), pods: testpmd on CPU %d; logs in %s%n",
        config, worker, podCpu, dir);
    Lines podA = startPod("pa", dir.resolve("a.sock"), "02:00:00:00:01:0a", true);
    podB = startPod("pb", dir.resolve("b.sock"), "02:00:00:00:01:0b", false);
    List<Result> results = new ArrayList<>();
    try {
      long t0 = System.nanoTime();
      startNode();
      Result first = await("first start", t0);
      out.printf(
          "first start (no start-up archive if none was left by an earlier clean stop):"
              + " pods running %.2f s%n",
          first.podsRunning());
      for (String kind : kinds) {
        for (int i = 0; i < restarts; i++) {
          Result r = restart(kind);
          results.add(r);
          out.printf(
              "%-16s dataplane ready %5.2f s, applied %5.2f s, pods running %5.2f s,"
                  + " traffic by %5.2f s%n",
              r.kind(), r.dataplaneReady(), r.applied(), r.podsRunning(), r.traffic());
        }
      }
    } finally {
      stopNode();
      podA.process.destroy();
      podB.process.destroy();
      podA.process.waitFor(10, TimeUnit.SECONDS);
      podB.process.waitFor(10, TimeUnit.SECONDS);
    }
    ObjectNode report = BenchJson.object();
    report.put("bench", "restart");
    report.put("what", "two client-mode vhost-user pods (testpmd virtio_user server=1)");
    report.put("cpus", cpus);
    report.put("worker_cpu", worker);
    report.put("pod_cpu", podCpu);
    ObjectNode summary = report.putObject("median_s");
    out.println();
    out.println("median over " + restarts + " (s): ready / applied / pods running / traffic by");
    for (String kind : kinds) {
      List<Result> of = results.stream().filter(r -> r.kind().equals(kind)).toList();
      ObjectNode k = summary.putObject(kind);
      k.put("dataplane_ready", median(of, Result::dataplaneReady));
      k.put("applied", median(of, Result::applied));
      k.put("pods_running", median(of, Result::podsRunning));
      k.put("traffic", median(of, Result::traffic));
      out.printf(
          "  %-16s %5.2f / %5.2f / %5.2f / %5.2f  (pods running %.2f..%.2f)%n",
          kind,
          median(of, Result::dataplaneReady),
          median(of, Result::applied),
          median(of, Result::podsRunning),
          median(of, Result::traffic),
          of.stream().mapToDouble(Result::podsRunning).min().orElse(Double.NaN),
          of.stream().mapToDouble(Result::podsRunning).max().orElse(Double.NaN));
    }
    ArrayNode all = report.putArray("restarts");
    for (Result r : results) {
      ObjectNode o = all.addObject();
      o.put("kind", r.kind());
      o.put("dataplane_ready_s", r.dataplaneReady());
      o.put("applied_s", r.applied());
      o.put("pods_running_s", r.podsRunning());
      o.put("traffic_s", r.traffic());
    }
    if (json) {
      Path file =
          root.resolve("perf/results")
              .resolve(
                  "restart-"
                      + LocalDateTime.now()
                          .format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT))
                      + ".json");
      Files.createDirectories(file.getParent());
      Files.writeString(file, BenchJson.pretty(report) + "\n");
      out.println("results: " + file);
    }
    boolean allBack =
        results.stream()
            .allMatch(r -> !Double.isNaN(r.podsRunning()) && !Double.isNaN(r.traffic()));
    return allBack ? 0 : 1;
  }

  static String nodeConfig(Path dir, int worker) {
    return "node:\n"
        + "  name: restart-bench\n"
        + "  podCIDRs: [10.244.1.0/24]\n"
        + "  serviceCIDRs: [10.96.0.0/12]\n"
        + "  gateways: [169.254.1.1]\n"
        + "ports:\n"
        + "  - name: uplink0\n"
        + "    device: net_tap0,iface=fnrestart0\n"
        + "    role: uplink\n"
        + "    addresses: [192.0.2.10/24]\n"
        + "pods:\n"
        + "  - name: default/pa\n"
        + "    kind: vhost-user\n"
        + "    socket: "
        + dir.resolve("a.sock")
        + "\n"
        + "    mode: client\n"
        + "    ips: [10.244.1.10]\n"
        + "    mac: \"02:00:00:00:01:0a\"\n"
        + "  - name: default/pb\n"
        + "    kind: vhost-user\n"
        + "    socket: "
        + dir.resolve("b.sock")
        + "\n"
        + "    mode: client\n"
        + "    ips: [10.244.1.11]\n"
        + "    mac: \"02:00:00:00:01:0b\"\n"
        + "workers:\n"
        + "  cpus: ["
        + worker
        + "]\n";
  }

  /**
   * A pod: testpmd with one virtio_user port, the socket's server. The sender addresses pod B
   * through the router's MAC on its port (net_vhost's: 56:48:4f:53:54:0N for DPDK port N; pod A's
   * port is 1, after the uplink).
   */
  private Lines startPod(String name, Path socket, String mac, boolean sender) throws IOException {
    List<String> c =
        new ArrayList<>(
            List.of(
                "dpdk-testpmd",
                "--in-memory",
                "--no-pci",
                "--single-file-segments",
                "--no-telemetry",
                "--file-prefix=restart-" + name + "-" + ProcessHandle.current().pid(),
                "--lcores=0@" + podCpu + ",1@" + podCpu,
                "--vdev",
                "virtio_user0,path=" + socket + ",server=1,queues=1,packed_vq=1,mac=" + mac,
                "--",
                "--nb-cores=1",
                "--stats-period",
                "1"));
    if (sender) {
      c.addAll(
          List.of(
              "--forward-mode=txonly",
              "--tx-ip=10.244.1.10,10.244.1.11",
              "--eth-peer=0,56:48:4f:53:54:01"));
    } else {
      c.add("--forward-mode=rxonly");
    }
    Process p =
        new ProcessBuilder(c)
            .redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.PIPE)
            .start();
    return new Lines(p, dir.resolve("pod-" + name + ".log"));
  }

  private void startNode() throws IOException {
    Path run = dir.resolve("run");
    Files.createDirectories(run);
    // A session of its own: with the kernel's autogroups, the node then shares the pods' CPU as
    // a service's cgroup shares it with the pods' cgroups, not one task against each pod poller.
    // (setsid execs in place: this child is no process group leader, so its pid is the node's.)
    List<String> c =
        List.of(
            "setsid",
            root.resolve("flatnet").toString(),
            "run",
            "--config",
            dir.resolve("node.yaml").toString(),
            "--dir",
            run.toString(),
            "--state-dir",
            dir.resolve("state").toString(),
            "--ipam-dir",
            dir.resolve("ipam").toString());
    Process p = new ProcessBuilder(c).redirectErrorStream(true).start();
    node = new Lines(p, dir.resolve("node-" + System.nanoTime() + ".log"));
  }

  /** The pids of the node's current dataplane and agent (from the supervisor's lines). */
  private long[] childPids() {
    Matcher d = node.last(0, DATAPLANE_PID);
    Matcher a = node.last(0, AGENT_PID);
    return new long[] {
      d == null ? -1 : Long.parseLong(d.group(1)), a == null ? -1 : Long.parseLong(a.group(1))
    };
  }

  private void stopNode() throws InterruptedException {
    if (node == null) {
      return;
    }
    long[] children = childPids();
    node.process.destroy();
    node.process.waitFor(40, TimeUnit.SECONDS);
    for (long pid : children) {
      awaitGone(pid);
    }
  }

  private static void kill(long pid) {
    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
  }

  private static void awaitGone(long pid) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT_NANOS;
    while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)
        && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
  }

  private Result restart(String kind) throws Exception {
    long t0;
    switch (kind) {
      case "node-restart" -> {
        stopNode();
        t0 = System.nanoTime();
        startNode();
      }
      case "node-crash" -> {
        long[] children = childPids();
        kill(node.process.pid());
        for (long pid : children) {
          kill(pid);
        }
        node.process.waitFor(10, TimeUnit.SECONDS);
        for (long pid : children) {
          awaitGone(pid);
        }
        t0 = System.nanoTime();
        startNode();
      }
      default -> {
        long dataplane = childPids()[0];
        t0 = System.nanoTime();
        kill(dataplane);
      }
    }
    return await(kind, t0);
  }

  /** Waits for both pods running and pod B's traffic after {@code t0}; seconds from it. */
  private Result await(String kind, long t0) throws InterruptedException {
    long deadline = t0 + WAIT_NANOS;
    long running = -1;
    long traffic = -1;
    while (System.nanoTime() < deadline && (running < 0 || traffic < 0)) {
      Thread.sleep(20);
      running = node.nth(t0, 2, l -> l.contains(POD_RUNNING));
      if (running >= 0) {
        traffic =
            podB.nth(
                running,
                1,
                l -> {
                  Matcher m = RX_PPS.matcher(l);
                  return m.find() && Long.parseLong(m.group(1)) > 0;
                });
      }
    }
    long ready = node.nth(t0, 1, l -> STARTED_IN.matcher(l).find());
    long applied = node.nth(t0, 1, l -> l.contains(": Applied["));
    // Let the next restart start from a running, forwarding node.
    Thread.sleep(1000);
    return new Result(
        kind, seconds(t0, ready), seconds(t0, applied), seconds(t0, running), seconds(t0, traffic));
  }

  private static double seconds(long t0, long t) {
    return t < 0 ? Double.NaN : (t - t0) / 1e9;
  }

  private static double median(List<Result> of, java.util.function.ToDoubleFunction<Result> field) {
    double[] v = of.stream().mapToDouble(field).filter(d -> !Double.isNaN(d)).sorted().toArray();
    if (v.length == 0) {
      return Double.NaN;
    }
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }
}
