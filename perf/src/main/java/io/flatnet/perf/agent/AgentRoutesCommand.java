package io.flatnet.perf.agent;

import io.flatnet.agent.process.NodeProcesses;
import io.flatnet.agent.state.Plan;
import io.flatnet.agent.state.Planner;
import io.flatnet.control.DataplaneClient;
import io.flatnet.control.PortSpec;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.State;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ./flatnet bench agent-routes}: how fast the agent's route changes reach a real dataplane
 * process. Starts {@code flatnet dataplane} (its own JVM, its own settings) on a fresh run
 * directory with one uplink port ({@code net_null}, receiving nothing), connects as the agent does
 * ({@link DataplaneClient}) and, for each offered rate, turns a stream of route changes (adds, and
 * removes of what was added: the state stays at most {@code --routes} routes) into the agent's
 * plans: {@link Planner#plan} from the state committed last to the desired one, applied with {@link
 * Plan#applyTo}, as the agent's reconcile does. Changes due while a plan is applied wait for the
 * next one (the agent's reconciles are serialised too). Reports the achieved rate and the publish
 * latency: from the moment a change was due to the dataplane's answer that it is in the FIB and
 * committed. At the end, checks that the dataplane holds exactly the desired routes.
 *
 * <p>{@code --mode single} applies each change as its own add or remove call and a commit (two
 * round trips per change: what a one-route plan cost before route batches).
 */
@Command(
    name = "agent-routes",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Route changes from an agent-side client to a real dataplane process over the command"
          + " channel: achieved rate and publish latency at each offered rate.",
      ""
    })
public final class AgentRoutesCommand implements Callable<Integer> {

  @Spec private CommandSpec spec;

  @Option(
      names = "--rates",
      split = ",",
      defaultValue = "1000,10000,max",
      description = "Offered rates in changes/s, or max. Default: ${DEFAULT-VALUE}.")
  private List<String> rates;

  @Option(
      names = "--seconds",
      defaultValue = "5",
      description = "Seconds per rate. Default: ${DEFAULT-VALUE}.")
  private int seconds;

  @Option(
      names = "--warmup",
      defaultValue = "3",
      description =
          "Seconds at the highest rate first, not reported (the JIT of both processes)."
              + " Default: ${DEFAULT-VALUE}.")
  private int warmup;

  @Option(
      names = "--routes",
      defaultValue = "5000",
      description =
          "Distinct prefixes the changes cycle over (added, then removed). Default:"
              + " ${DEFAULT-VALUE}.")
  private int routes;

  @Option(
      names = "--ipv6-every",
      defaultValue = "10",
      description = "Every Nth prefix is IPv6 (/48); 0: none. Default: ${DEFAULT-VALUE}.")
  private int ipv6Every;

  @Option(
      names = "--max-batch",
      defaultValue = "2000",
      description =
          "Most changes in one plan (at max, every plan has this many). Default: ${DEFAULT-VALUE}.")
  private int maxBatch;

  @Option(
      names = "--mode",
      defaultValue = "batch",
      description =
          "batch (the agent's plans, route batches), single (one call and a commit per change)"
              + " or agent (each change a `ctl route add|del` request to an in-process agent:"
              + " checked against the node config, reconciled, kept in routes.json; IPv4 only)."
              + " Default: ${DEFAULT-VALUE}.")
  private String mode;

  @Option(
      names = "--clients",
      defaultValue = "1",
      description =
          "With --mode agent: clients sending requests at once (each its own share of the"
              + " prefixes and of the rate). Default: ${DEFAULT-VALUE}.")
  private int clients;

  @Option(
      names = "--idle",
      defaultValue = "backoff",
      description = "The dataplane's worker idle strategy. Default: ${DEFAULT-VALUE}.")
  private String idle;

  @Option(
      names = "--busy-worker",
      description =
          "The uplink receives net_null's endless packets (dropped: not for the router), so the"
              + " worker never idles.")
  private boolean busyWorker;

  @Option(
      names = "--dir",
      description = "Run directory for the dataplane (default: a new one under /tmp).")
  private Path dir;

  private static final String UPLINK = "up";
  private static final String VIA4 = "10.3.0.1";
  private static final String VIA6 = "fd00:3::1";

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    if (!List.of("batch", "single", "agent").contains(mode)) {
      spec.commandLine().getErr().println("--mode is batch, single or agent, not " + mode);
      return 2;
    }
    Path run = dir != null ? dir : Files.createTempDirectory("flatnet-agent-routes-");
    Files.createDirectories(run);
    File log = run.resolve("dataplane.log").toFile();
    List<String> args = List.of("--dir", run.toString(), "--idle", idle);
    List<String> command =
        NodeProcesses.dataplaneCommand(List.of(), NodeProcesses.Classpaths.find(), args);
    out.printf("load average %s (before)%n", loadAverage());
    out.printf(
        "dataplane: %s, worker %s%n  log %s%n",
        String.join(" ", args), busyWorker ? "busy (net_null receiving)" : "idle", log);
    Process dataplane =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.to(log))
            .start();
    try (DataplaneClient client =
        DataplaneClient.connect(run, Duration.ofSeconds(60), Duration.ofSeconds(30))) {
      out.printf("dataplane pid %d ready%n", client.dataplanePid());
      State base =
          State.of(
              0,
              List.of(
                  new PortSpec(
                      UPLINK,
                      "net_null0,no-rx=1",
                      "uplink",
                      List.of("10.3.0.2/24", "fd00:3::2/64"),
                      1500)),
              List.of(),
              List.of());
      Runner runner = new Runner(client, base);
      if (mode.equals("agent")) {
        runner.agent = agent(run, client);
        ipv6Every = 0;
      } else {
        runner.commit(base);
      }
      if (warmup > 0) {
        out.println(
            "warm-up: "
                + (mode.equals("agent") && clients > 1
                    ? runner.runClients(Double.POSITIVE_INFINITY, warmup)
                    : runner.run(Double.POSITIVE_INFINITY, warmup)));
      }
      for (String rate : rates) {
        double offered = rate.equals("max") ? Double.POSITIVE_INFINITY : Double.parseDouble(rate);
        out.println(
            mode.equals("agent") && clients > 1
                ? runner.runClients(offered, seconds)
                : runner.run(offered, seconds));
        out.flush();
      }
      State held = client.installed();
      boolean same =
          mode.equals("agent")
              ? held.routes().keySet().containsAll(runner.desired.keySet())
                  && held.routes().size() == runner.desired.size() + AGENT_CONFIG_ROUTES
              : held.routes().equals(runner.committed.routes());
      if (runner.agent != null) {
        runner.agent.close();
      }
      out.printf(
          "check: the dataplane holds %d routes, %s the agent's desired state (generation %d)%n",
          held.routes().size(), same ? "exactly" : "NOT", held.generation());
      out.printf("load average %s (after)%n", loadAverage());
      return same ? 0 : 1;
    } finally {
      dataplane.destroy();
      if (!dataplane.waitFor(10, TimeUnit.SECONDS)) {
        dataplane.destroyForcibly();
      }
    }
  }

  /** Routes the agent's node config makes besides the runtime ones: the uplink neighbour's. */
  private static final int AGENT_CONFIG_ROUTES = 1;

  /** An agent (in this JVM) on a node config with the one uplink, driving the dataplane. */
  private static io.flatnet.agent.Agent agent(Path run, DataplaneClient client) throws IOException {
    Path config = run.resolve("node.yaml");
    Files.writeString(
        config,
        """
        node:
          name: bench
          podCIDRs: [10.244.1.0/24]
          gateways: [169.254.1.1]
        ports:
          - name: up
            device: "net_null0,no-rx=1"
            role: uplink
            addresses: [10.3.0.2/24]
        routes:
          - prefix: 0.0.0.0/0
            via: 10.3.0.1
            port: up
        """);
    io.flatnet.agent.Agent agent =
        new io.flatnet.agent.Agent(
            io.flatnet.agent.Agent.Options.defaults(config)
                .withStateDir(run.resolve("agent-state"))
                .withVhostSocketDir(run.resolve("vhost"))
                .withValidator(
                    new io.flatnet.agent.config.ConfigValidator(java.util.Set.of(0, 1, 2, 3))),
            client);
    Object first = agent.start();
    System.out.println("agent: " + first);
    return agent;
  }

  static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg"), StandardCharsets.US_ASCII).strip();
    } catch (IOException e) {
      return "unknown";
    }
  }

  /** Route {@code i} of the cycle: a /24 out of 10.128.0.0/9 (32,768), or (every Nth) a /48. */
  private RouteSpec route(int i) {
    if (ipv6Every > 0 && i % ipv6Every == 0) {
      return new RouteSpec(
          "fd00:"
              + Integer.toHexString(0x100 + (i >> 16))
              + ":"
              + Integer.toHexString(i & 0xFFFF)
              + "::/48",
          VIA6,
          UPLINK,
          RouteSpec.ORIGIN_BGP);
    }
    String prefix = "10." + (128 + (i >> 8 & 127)) + "." + (i & 255) + ".0/24";
    return new RouteSpec(prefix, VIA4, UPLINK, RouteSpec.ORIGIN_BGP);
  }

  /** Applies changes as the agent does and measures them. */
  private final class Runner {
    private final DataplaneClient client;
    private final State base;
    private final java.util.SortedMap<String, RouteSpec> desired =
        java.util.Collections.synchronizedSortedMap(new TreeMap<>());
    io.flatnet.agent.Agent agent;
    private State committed;
    private long generation;
    private long next; // the next change of the cycle

    Runner(DataplaneClient client, State base) {
      this.client = client;
      this.base = base;
      this.committed = State.EMPTY;
    }

    void commit(State want) {
      Plan plan = Planner.plan(committed, want, ++generation);
      plan.applyTo(client);
      committed = want.withGeneration(generation);
    }

    /** Toggles change {@code k}'s prefix in the desired routes; returns the route it changes. */
    private RouteSpec toggle(long k) {
      RouteSpec r = route((int) (k % routes));
      if (desired.remove(r.prefix()) == null) {
        desired.put(r.prefix(), r);
        return r;
      }
      return null; // removed
    }

    String run(double offered, int runSeconds) {
      Histogram latency = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
      Histogram calls = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
      long changes = 0;
      long plans = 0;
      long start = System.nanoTime();
      long end = start + TimeUnit.SECONDS.toNanos(runSeconds);
      long first = next;
      boolean max = Double.isInfinite(offered);
      double nanosPerChange = max ? 0 : 1e9 / offered;
      long now;
      while ((now = System.nanoTime()) < end) {
        long due = max ? next + maxBatch : first + (long) ((now - start) / nanosPerChange);
        if (due <= next) {
          long at = start + (long) ((next - first + 1) * nanosPerChange);
          LockSupport.parkNanos(Math.max(1_000, Math.min(at - now, 1_000_000)));
          continue;
        }
        long n = Math.min(due - next, maxBatch);
        long t0 = System.nanoTime();
        if (agent != null) {
          for (long k = next; k < next + n; k++) {
            RouteSpec r = route((int) (k % routes));
            RouteSpec added = toggle(k);
            io.flatnet.agent.api.AgentProtocol.Response response =
                agent.handle(
                    added != null
                        ? io.flatnet.agent.api.AgentProtocol.Request.routeAdd(
                            r.prefix(), r.via(), r.port())
                        : io.flatnet.agent.api.AgentProtocol.Request.routeDel(r.prefix()));
            if (!response.ok()) {
              throw new IllegalStateException("agent: " + response.error());
            }
            long t = System.nanoTime();
            latency.recordValue(
                Math.max(0, t - (max ? t0 : dueAt(start, first, k, nanosPerChange))));
            plans++;
          }
        } else if (mode.equals("single")) {
          for (long k = next; k < next + n; k++) {
            RouteSpec r = route((int) (k % routes));
            RouteSpec added = toggle(k);
            if (added != null) {
              client.addRoute(added);
            } else {
              client.removeRoute(r);
            }
            client.commit(++generation);
            long t = System.nanoTime();
            latency.recordValue(
                Math.max(0, t - (max ? t0 : dueAt(start, first, k, nanosPerChange))));
            plans++;
          }
          committed = stateOf(generation);
        } else {
          for (long k = next; k < next + n; k++) {
            toggle(k);
          }
          State want = stateOf(0);
          Plan plan = Planner.plan(committed, want, ++generation);
          plan.applyTo(client);
          committed = want.withGeneration(generation);
          long t1 = System.nanoTime();
          for (long k = next; k < next + n; k++) {
            latency.recordValue(
                Math.max(0, t1 - (max ? t0 : dueAt(start, first, k, nanosPerChange))));
          }
          plans++;
        }
        calls.recordValue(System.nanoTime() - t0);
        next += n;
        changes += n;
      }
      double elapsed = (System.nanoTime() - start) / 1e9;
      return String.format(
          Locale.ROOT,
          "offered %s changes/s (%s): achieved %.0f changes/s (%d in %.1f s, %d %s, %.1f changes"
              + " each); publish latency p50 %.2f ms, p99 %.2f ms, max %.2f ms; apply call p50 %.2f"
              + " ms, p99 %.2f ms",
          max ? "max" : String.format(Locale.ROOT, "%.0f", offered),
          mode,
          changes / elapsed,
          changes,
          elapsed,
          plans,
          mode.equals("single") ? "calls+commits" : mode.equals("agent") ? "requests" : "plans",
          plans == 0 ? 0.0 : (double) changes / plans,
          latency.getValueAtPercentile(50) / 1e6,
          latency.getValueAtPercentile(99) / 1e6,
          latency.getMaxValue() / 1e6,
          calls.getValueAtPercentile(50) / 1e6,
          calls.getValueAtPercentile(99) / 1e6);
    }

    /**
     * {@code --mode agent --clients N}: N threads send the agent's route requests at once, client
     * {@code c} the changes {@code c, c+N, c+2N, ...} (its own prefixes when N divides --routes),
     * each at its due time.
     */
    String runClients(double offered, int runSeconds) throws InterruptedException {
      Histogram latency = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
      java.util.concurrent.atomic.AtomicLong changes = new java.util.concurrent.atomic.AtomicLong();
      List<String> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
      boolean max = Double.isInfinite(offered);
      double nanosPerChange = max ? 0 : 1e9 / offered;
      long first = next;
      long start = System.nanoTime();
      long end = start + TimeUnit.SECONDS.toNanos(runSeconds);
      List<Thread> threads = new java.util.ArrayList<>();
      long[] last = new long[clients];
      for (int c = 0; c < clients; c++) {
        int client = c;
        threads.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      long k = first + client;
                      while (errors.isEmpty()) {
                        long due = max ? System.nanoTime() : dueAt(start, first, k, nanosPerChange);
                        long now = System.nanoTime();
                        if (due >= end || now >= end) {
                          break;
                        }
                        if (due > now) {
                          LockSupport.parkNanos(due - now);
                        }
                        RouteSpec r = route((int) (k % routes));
                        RouteSpec added = toggle(k);
                        io.flatnet.agent.api.AgentProtocol.Response response =
                            agent.handle(
                                added != null
                                    ? io.flatnet.agent.api.AgentProtocol.Request.routeAdd(
                                        r.prefix(), r.via(), r.port())
                                    : io.flatnet.agent.api.AgentProtocol.Request.routeDel(
                                        r.prefix()));
                        if (!response.ok()) {
                          errors.add(response.error());
                        }
                        long t = System.nanoTime();
                        synchronized (latency) {
                          latency.recordValue(Math.max(0, t - due));
                        }
                        changes.incrementAndGet();
                        k += clients;
                      }
                      last[client] = k;
                    }));
      }
      for (Thread t : threads) {
        t.join();
      }
      if (!errors.isEmpty()) {
        throw new IllegalStateException("agent: " + errors.get(0));
      }
      next = java.util.Arrays.stream(last).max().orElse(next);
      // Clients stopped at different points of the cycle: later runs start past all of them.
      next += clients;
      double elapsed = (System.nanoTime() - start) / 1e9;
      return String.format(
          Locale.ROOT,
          "offered %s changes/s (agent, %d clients): achieved %.0f changes/s (%d in %.1f s);"
              + " request latency p50 %.2f ms, p99 %.2f ms, max %.2f ms",
          max ? "max" : String.format(Locale.ROOT, "%.0f", offered),
          clients,
          changes.get() / elapsed,
          changes.get(),
          elapsed,
          latency.getValueAtPercentile(50) / 1e6,
          latency.getValueAtPercentile(99) / 1e6,
          latency.getMaxValue() / 1e6);
    }

    private static long dueAt(long start, long first, long k, double nanosPerChange) {
      return start + (long) ((k - first) * nanosPerChange);
    }

    private State stateOf(long g) {
      return new State(g, base.ports(), base.pods(), desired, new TreeMap<>(Map.of()));
    }
  }
}
