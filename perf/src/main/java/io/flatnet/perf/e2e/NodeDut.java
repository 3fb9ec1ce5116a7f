package io.flatnet.perf.e2e;

import io.flatnet.agent.api.AgentClient;
import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.process.NodeProcesses;
import io.flatnet.dpdk.Lcore;
import io.flatnet.perf.gen.GenTrial;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A node run from its config as a user runs it ({@code flatnet run --config}: the supervisor, the
 * dataplane process and the agent process), as the DUT of the {@link DutSystem#node()} systems. The
 * bench writes the config (two uplinks on the DUT's vhost-user sockets, the route set via a next
 * hop on each, resolved by ARP: flatnet's generator answers), watches the supervisor's lines for
 * the agent's pid and readiness, and drives the agent: {@link #startLoad} keeps it busy through its
 * socket and its metrics endpoint as the agent-churn trial asks, {@link #killAgent} kills
 * it.
 */
final class NodeDut {
  /** The next hop of each port's routes: the generator's end of the link (it answers ARP). */
  static final String[] NEXT_HOPS = {"192.0.2.2", "198.51.100.2"};

  private static final String[] PORT_ADDRESSES = {"192.0.2.1/24", "198.51.100.1/24"};
  private static final String POD_CIDR = "10.244.0.0/24";
  private static final String CHURN_POD_IP = "10.244.0.200";
  private static final String CHURN_POD_INTERFACE = "fnbchurn0";

  /** Route changes a second the busy agent is asked for (the 1,000). */
  static final int ROUTE_CHANGES_PER_SECOND = 1000;

  /** Concurrent route clients: the agent applies what they queue together (a group commit). */
  private static final int ROUTE_CLIENTS = 8;

  private static final Pattern AGENT_PID = Pattern.compile("flatnet run: agent pid (\\d+)");
  private static final Pattern DATAPLANE_PID = Pattern.compile("flatnet run: dataplane pid (\\d+)");
  private static final String AGENT_READY = "flatnet agent: ready";

  private final Path runDir;
  private final int metricsPort;
  private final AtomicLong agentPid = new AtomicLong(-1);
  private final AtomicLong dataplanePid = new AtomicLong(-1);
  private long supervisorPid = -1;
  private Map<String, Long> cpuAtReady = Map.of();
  private long agentPidAtReady = -1;
  private final AtomicInteger agentsReady = new AtomicInteger();
  private final AtomicInteger unchangedRestarts = new AtomicInteger();
  private final List<Double> restartSeconds = new ArrayList<>();
  private final List<Long> readyTimes = new ArrayList<>(); // System.nanoTime() of each ready line
  private AgentLoad load;
  private double restartRate = Double.NaN;
  private GenTrial restartTrial;

  NodeDut(Path runDir, int metricsPort) {
    this.runDir = runDir;
    this.metricsPort = metricsPort;
  }

  /**
   * flatnet's generator's arguments for a node: on each port, resolve the node's address there (the
   * generator's own address is the port's next hop).
   */
  static List<String> generatorArgs() {
    List<String> args = new ArrayList<>();
    for (int p = 0; p < 2; p++) {
      String own = PORT_ADDRESSES[p].substring(0, PORT_ADDRESSES[p].indexOf('/'));
      args.add("--resolve-gateway");
      args.add(p + "=" + NEXT_HOPS[p] + "," + own);
    }
    return args;
  }

  /** The node config: two uplinks on the sockets, each route via its port's next hop. */
  static String config(Path sock0, Path sock1, RouteSet routes, int workerCpu) {
    Path[] socks = {sock0, sock1};
    StringBuilder y = new StringBuilder();
    y.append("node:\n  name: bench\n  podCIDRs: [")
        .append(POD_CIDR)
        .append("]\n  gateways: [169.254.1.1]\nports:\n");
    for (int p = 0; p < 2; p++) {
      y.append("  - name: p")
          .append(p)
          .append("\n    device: net_vhost")
          .append(p)
          .append(",iface=")
          .append(socks[p])
          .append(",queues=1\n    role: uplink\n    addresses: [")
          .append(PORT_ADDRESSES[p])
          .append("]\n");
    }
    y.append("routes:\n");
    for (RouteSet.Route r : routes.routes()) {
      y.append("  - prefix: ")
          .append(r.prefix())
          .append("\n    via: ")
          .append(NEXT_HOPS[r.port()])
          .append("\n    port: p")
          .append(r.port())
          .append('\n');
    }
    y.append("workers:\n  cpus: [").append(workerCpu).append("]\n");
    return y.toString();
  }

  /**
   * The supervisor's command line. With {@code agentCpu} -1, every process of the node on {@code
   * cpu} (taskset; its children inherit it), as every DUT's threads are, so none takes the
   * generator's CPU. Otherwise the node as on a node with a CPU to spare: the supervisor on both
   * CPUs, the dataplane's worker alone on {@code cpu} (its other threads confined to {@code
   * agentCpu}), and the agent on {@code agentCpu}.
   */
  List<String> command(
      String dataplaneCp, String agentCp, Path config, Path stateDir, int cpu, int agentCpu)
      throws IOException {
    boolean apart = agentCpu >= 0 && agentCpu != cpu;
    List<String> prefix =
        List.of(
            "env",
            "FLATNET_DATAPLANE_CP=" + dataplaneCp,
            "FLATNET_AGENT_CP=" + agentCp,
            "taskset",
            "-c",
            apart ? cpu + "," + agentCpu : Integer.toString(cpu));
    List<String> args =
        new ArrayList<>(
            List.of(
                "--config",
                config.toString(),
                "--dir",
                runDir.toString(),
                "--state-dir",
                stateDir.resolve("state").toString(),
                "--ipam-dir",
                stateDir.resolve("ipam").toString(),
                "--metrics",
                "127.0.0.1:" + metricsPort,
                "--agent-cpus",
                Integer.toString(apart ? agentCpu : cpu)));
    if (!apart) {
      args.add("--share-cpus");
    }
    return NodeProcesses.supervisorCommand(
        prefix, new NodeProcesses.Classpaths(dataplaneCp, agentCp), args);
  }

  /** Wraps the DUT's line sink: notes each agent's pid and readiness. */
  Consumer<String> watching(Consumer<String> sink) {
    return line -> {
      Matcher m = AGENT_PID.matcher(line);
      if (m.find()) {
        agentPid.set(Long.parseLong(m.group(1)));
      }
      Matcher d = DATAPLANE_PID.matcher(line);
      if (d.find()) {
        dataplanePid.set(Long.parseLong(d.group(1)));
      }
      if (line.contains(AGENT_READY)) {
        synchronized (readyTimes) {
          readyTimes.add(System.nanoTime());
        }
        agentsReady.incrementAndGet();
      }
      if (line.contains("flatnet agent: ") && line.contains(": Unchanged[")) {
        unchangedRestarts.incrementAndGet();
      }
      sink.accept(line);
    };
  }

  /** Waits until {@code count} agents have said they are ready; false after the timeout. */
  boolean awaitAgentsReady(int count, long timeoutMillis) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    while (agentsReady.get() < count) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(10);
    }
    return true;
  }

  /**
   * Notes the node's processes' CPU time now (when the node is ready, before the trials): {@link
   * #figures} gives what each used from here on.
   */
  void markReady(long supervisor) {
    supervisorPid = supervisor;
    agentPidAtReady = agentPid.get();
    cpuAtReady = cpuMillis();
  }

  /**
   * CPU time (user + system, ms) of the node's processes: the dataplane (its worker spins, so about
   * wall time; its other threads on top), the agent now running, and the supervisor.
   */
  private Map<String, Long> cpuMillis() {
    Map<String, Long> out = new LinkedHashMap<>();
    out.put("dataplane", cpuMillis(dataplanePid.get()));
    out.put("agent", cpuMillis(agentPid.get()));
    out.put("supervisor", cpuMillis(supervisorPid));
    return out;
  }

  /** utime + stime of a process from /proc/PID/stat, in ms; -1 if it is gone. */
  static long cpuMillis(long pid) {
    if (pid <= 0) {
      return -1;
    }
    try {
      String stat = java.nio.file.Files.readString(Path.of("/proc/" + pid + "/stat"));
      // Fields after the command (which may hold spaces) in parentheses: utime is the 14th.
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
      return ticks * 10; // USER_HZ is 100 on Linux
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  int agentsReady() {
    return agentsReady.get();
  }

  /**
   * Kills the agent (SIGKILL) and returns at once; {@link #awaitRestart} waits for its successor.
   */
  void killAgent() {
    long pid = agentPid.get();
    if (pid > 0) {
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
  }

  /**
   * Waits for the agent after {@code readyBefore} to be ready, and records how long that took from
   * {@code killedAt} (System.nanoTime()); false after the timeout.
   */
  boolean awaitRestart(int readyBefore, long killedAt, long timeoutMillis)
      throws InterruptedException {
    boolean ok = awaitAgentsReady(readyBefore + 1, timeoutMillis);
    if (ok) {
      long readyAt;
      synchronized (readyTimes) {
        readyAt = readyTimes.get(readyBefore);
      }
      synchronized (restartSeconds) {
        restartSeconds.add((readyAt - killedAt) / 1e9);
      }
    }
    return ok;
  }

  /**
   * Starts keeping the agent busy (see {@link AgentLoad}), its client threads on {@code cpu} (the
   * node's: on a node the kubelet and the scrapers run on its CPUs, never on the generator's).
   */
  void startLoad(int cpu) {
    load =
        new AgentLoad(new AgentClient(runDir.resolve("agent.sock"), Duration.ofSeconds(10)), cpu);
    load.start();
  }

  /** Stops the load, if one runs. */
  void stopLoad() throws InterruptedException {
    if (load != null) {
      load.stop();
    }
  }

  /** The restart trial's rate (Mpps) and result. */
  void restartTrial(double rateMpps, GenTrial t) {
    restartRate = rateMpps;
    restartTrial = t;
  }

  /** The node's figures of the session: what the busy agent did, the agent restarts. */
  Map<String, Double> figures() {
    Map<String, Double> out = new LinkedHashMap<>();
    Map<String, Long> now = cpuMillis();
    for (Map.Entry<String, Long> e : now.entrySet()) {
      long before = cpuAtReady.getOrDefault(e.getKey(), -1L);
      // A restarted agent is a new process: its CPU counts from its own start.
      boolean same = !e.getKey().equals("agent") || agentPid.get() == agentPidAtReady;
      if (e.getValue() >= 0) {
        out.put(
            e.getKey() + "_cpu_ms_since_ready",
            (double) (e.getValue() - (before >= 0 && same ? before : 0)));
      }
    }
    if (load != null) {
      out.putAll(load.figures());
    }
    if (restartTrial != null) {
      out.put("restart_trial_mpps", restartRate);
      out.put("restart_trial_offered", (double) restartTrial.offeredTotal());
      out.put(
          "restart_trial_lost",
          (double) (restartTrial.offeredTotal() - restartTrial.returnedTotal()));
      out.put("restart_trial_loss_fraction", restartTrial.lossFraction());
      if (restartTrial.latency() != null) {
        out.put("restart_trial_p99_us", restartTrial.latency().getValueAtPercentile(99) / 1e3);
      }
    }
    synchronized (restartSeconds) {
      if (!restartSeconds.isEmpty()) {
        out.put("agent_restarts", (double) restartSeconds.size());
        out.put(
            "agent_restart_seconds",
            restartSeconds.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN));
        // Each new agent's first reconcile: Unchanged means it found everything in place.
        out.put("agent_restarts_unchanged", (double) unchangedRestarts.get());
      }
    }
    return out;
  }

  /**
   * A busy agent, as the agent-churn trial: route add/del through the agent's socket from
   * {@link #ROUTE_CLIENTS} clients at up to {@link #ROUTE_CHANGES_PER_SECOND} changes a second
   * altogether (/32s of 10.77.0.0/16, none covering the traffic), a pod (a TAP port) added and
   * deleted every 100 ms, a {@code show routes} and a {@code /metrics} scrape every second. Every
   * answer is checked; a failed one is counted.
   */
  final class AgentLoad {
    private final AgentClient agent;
    private final AtomicBoolean stop = new AtomicBoolean();
    private final AtomicLong routeChanges = new AtomicLong();
    private final AtomicLong podChanges = new AtomicLong();
    private final AtomicLong looks = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong firstError = new AtomicLong(-1);
    private final List<Thread> threads = new ArrayList<>();
    private volatile String firstErrorText = "";
    private long started;
    private long stopped;

    private final int cpu;

    AgentLoad(AgentClient agent, int cpu) {
      this.agent = agent;
      this.cpu = cpu;
    }

    void start() {
      started = System.nanoTime();
      for (int c = 0; c < ROUTE_CLIENTS; c++) {
        int client = c;
        threads.add(start("bench-routes-" + c, () -> routes(client)));
      }
      threads.add(start("bench-pods", this::pods));
      threads.add(start("bench-looks", this::looks)); // its HTTP client's threads inherit the CPU
    }

    private Thread start(String name, Runnable body) {
      return Thread.ofPlatform()
          .name(name)
          .start(
              () -> {
                Lcore.pinCurrentThread(cpu);
                body.run();
              });
    }

    void stop() throws InterruptedException {
      stop.set(true);
      for (Thread t : threads) {
        t.join(30_000);
      }
      stopped = System.nanoTime();
    }

    private void routes(int client) {
      // Each client's share of the rate: one add and one del per period.
      long period = 2L * ROUTE_CLIENTS * 1_000_000_000L / ROUTE_CHANGES_PER_SECOND;
      long next = System.nanoTime();
      for (int i = 0; !stop.get(); i++) {
        String prefix = "10.77." + client + "." + (i % 250) + "/32";
        check(
            "route add " + prefix,
            ask(AgentProtocol.Request.routeAdd(prefix, NEXT_HOPS[0], "p0")),
            routeChanges);
        check("route del " + prefix, ask(AgentProtocol.Request.routeDel(prefix)), routeChanges);
        next += period;
        LockSupport.parkNanos(next - System.nanoTime());
      }
    }

    private void pods() {
      for (int i = 0; !stop.get(); i++) {
        String id = "churn" + i;
        check(
            "pod add " + id,
            ask(
                new AgentProtocol.Request(
                    AgentProtocol.POD_ADD,
                    "bench/churn",
                    id,
                    "tap",
                    List.of(CHURN_POD_IP),
                    null,
                    null,
                    null,
                    CHURN_POD_INTERFACE)),
            podChanges);
        check("pod del " + id, ask(AgentProtocol.Request.podDel("bench/churn", id)), podChanges);
        pause(100);
      }
    }

    private void looks() {
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
      HttpRequest scrape =
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"))
              .timeout(Duration.ofSeconds(10))
              .build();
      while (!stop.get()) {
        check("show routes", ask(AgentProtocol.Request.of(AgentProtocol.SHOW_ROUTES)), looks);
        try {
          HttpResponse<String> r = http.send(scrape, HttpResponse.BodyHandlers.ofString());
          if (r.statusCode() != 200 || !r.body().contains("flatnet_")) {
            error("metrics scrape: HTTP " + r.statusCode());
          }
        } catch (IOException e) {
          error("metrics scrape: " + e);
        } catch (InterruptedException e) {
          return;
        }
        pause(1000);
      }
    }

    private AgentProtocol.Response ask(AgentProtocol.Request request) {
      try {
        return agent.call(request);
      } catch (IOException e) {
        return AgentProtocol.Response.failure(request.op() + ": " + e);
      }
    }

    private void check(String what, AgentProtocol.Response r, AtomicLong done) {
      if (r.ok()) {
        done.incrementAndGet();
      } else {
        error(what + ": " + r.error());
      }
    }

    private void error(String text) {
      errors.incrementAndGet();
      if (firstError.compareAndSet(-1, System.nanoTime())) {
        firstErrorText = text;
      }
    }

    private void pause(long millis) {
      try {
        Thread.sleep(millis);
      } catch (InterruptedException e) {
        stop.set(true);
      }
    }

    Map<String, Double> figures() {
      double seconds = ((stopped > 0 ? stopped : System.nanoTime()) - started) / 1e9;
      Map<String, Double> out = new LinkedHashMap<>();
      out.put("agent_load_seconds", seconds);
      out.put("agent_route_changes_per_s", routeChanges.get() / seconds);
      out.put("agent_pod_changes_per_s", podChanges.get() / seconds);
      out.put("agent_looks", (double) looks.get());
      out.put("agent_errors", (double) errors.get());
      return out;
    }

    String firstError() {
      return firstErrorText;
    }
  }

  /** The first failed agent request of the load, or "" (for the progress line). */
  String firstLoadError() {
    return load == null ? "" : load.firstError();
  }
}
