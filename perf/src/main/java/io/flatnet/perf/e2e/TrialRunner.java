package io.flatnet.perf.e2e;

import io.flatnet.perf.gen.GenTrial;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs one trial: starts the DUT (which creates the two vhost-user server sockets), waits for the
 * sockets, starts the generator (testpmd flowgen over virtio_user, the sockets' clients), reads its
 * per-second statistics until the warm-up and measured seconds have passed, then stops the
 * generator and the DUT (SIGTERM; both print their final counters) and removes the sockets.
 */
public final class TrialRunner {
  private static final long SOCKET_WAIT_MILLIS = 60_000;

  private final Processes processes;
  private final Commands commands;
  private final Path scratch;
  private final Path logDir;
  private final PrintStream progress;
  private int trialNumber;

  /** The classpaths of the node's two processes (the {@link DutSystem#node()} systems). */
  private String nodeDataplaneCp = "";

  private String nodeAgentCp = "";

  /** The node agent's CPU, or -1: the DUT's. */
  private int nodeAgentCpu = -1;

  /** perf record on the DUT's CPU in offered-load trials ({@code --profile}). */
  private boolean profile;

  /** The node DUT running now, or null. */
  private NodeDut node;

  /** The agent's metrics port of the node DUTs. */
  private static final int NODE_METRICS_PORT = 9479;

  /** The agent-restart trial of {@code flatnet-agentrestart}: its name, load and length. */
  private static final String RESTART_TRIAL = "agentrestart";

  private static final double RESTART_LOAD = 0.5;
  private static final long RESTART_TRIAL_MILLIS = 8_000;

  /** How long a killed agent's successor may take to be ready before the trial fails. */
  private static final long AGENT_RESTART_WAIT_MILLIS = 60_000;

  public TrialRunner(
      Processes processes, Commands commands, Path scratch, Path logDir, PrintStream progress) {
    this.processes = processes;
    this.commands = commands;
    this.scratch = scratch;
    this.logDir = logDir;
    this.progress = progress;
  }

  /**
   * With {@code perf record} on the DUT's CPU over each offered-load trial's measured seconds
   * (testpmd flowgen as the generator): where the DUT's time goes, by shared object.
   */
  public TrialRunner withProfile(boolean on) {
    this.profile = on;
    return this;
  }

  /**
   * The classpaths the node systems run with (snapshots, as flatnet's), and their agent's CPU (-1:
   * the DUT's).
   */
  public TrialRunner withNode(String dataplane, String agent, int agentCpu) {
    this.nodeDataplaneCp = dataplane;
    this.nodeAgentCp = agent;
    this.nodeAgentCpu = agentCpu;
    return this;
  }

  /**
   * Runs a trial, after half a second of measuring how busy the CPUs are without it; a failure is
   * returned as a result with an error, not thrown.
   */
  public TrialResult run(
      int round, DutSystem system, int frameBytes, RouteSet routes, int warmup, int measure)
      throws InterruptedException {
    double[] busy = CpuLoad.sample(Runtime.getRuntime().availableProcessors(), 500);
    return runTrial(round, system, frameBytes, routes, warmup, measure).withBusyBefore(busy);
  }

  private TrialResult runTrial(
      int round, DutSystem system, int frameBytes, RouteSet routes, int warmup, int measure)
      throws InterruptedException {
    if (system.node() && (commands.pktgen() != null || commands.generatorCommand() != null)) {
      return TrialResult.failed(
          round,
          system,
          frameBytes,
          system.label() + " needs flatnet's own generator (it answers the node's ARP)",
          false);
    }
    if (system.node()) {
      return runGenOffered(round, system, frameBytes, routes, warmup, measure);
    }
    if (commands.pktgen() != null && round > 0) {
      return runPktgen(round, system, frameBytes, routes, warmup, measure);
    }
    if (commands.generatorCommand() != null && round > 0) {
      return runExternal(round, system, frameBytes, routes, warmup, measure);
    }
    if (FrameSize.imix(frameBytes)) {
      return runGenOffered(round, system, frameBytes, routes, warmup, measure);
    }
    int n = ++trialNumber;
    String label =
        String.format(
            "%02d-%s-%sB-%s",
            n, round == 0 ? "check" : "r" + round, FrameSize.label(frameBytes), system.label());
    Path dir = scratch.resolve("t" + n);
    Processes.Child dut = null;
    Processes.Child gen = null;
    TestpmdStats genStats = new TestpmdStats(2);
    TestpmdStats dutStats = new TestpmdStats(2);
    AtomicReference<FlatnetSummary> flatnet = new AtomicReference<>();
    DutProfile sampling = null;
    try {
      Files.createDirectories(dir);
      Path sock0 = dir.resolve("p0.sock");
      Path sock1 = dir.resolve("p1.sock");
      Path v4 = dir.resolve("rules_v4.cfg");
      Path v6 = dir.resolve("rules_v6.cfg");
      Files.writeString(v4, routes.l3fwdIpv4Rules(), StandardCharsets.UTF_8);
      Files.writeString(v6, RouteSet.l3fwdIpv6Rules(), StandardCharsets.UTF_8);
      List<String> dutCmd = commands.dut(system, sock0, sock1, routes, v4, v6, dir.resolve("run"));
      dut =
          processes.start(
              system.label(),
              dutCmd,
              logDir.resolve(label + "-dut.log"),
              line -> {
                if (system.flatnet()) {
                  FlatnetSummary.parse(line).ifPresent(flatnet::set);
                } else if (system == DutSystem.TESTPMD_IO) {
                  dutStats.accept(line);
                }
              });
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SOCKET_WAIT_MILLIS);
      while (!(Files.exists(sock0) && Files.exists(sock1))) {
        if (!dut.isAlive()) {
          return failed(round, system, frameBytes, dut, "exited before creating its sockets");
        }
        if (System.nanoTime() > deadline) {
          return failed(round, system, frameBytes, dut, "no vhost-user sockets after 60 s");
        }
        Thread.sleep(20);
      }
      BlockingQueue<TestpmdStats.Block> blocks = new LinkedBlockingQueue<>();
      gen =
          processes.start(
              "generator",
              commands.generator(sock0, sock1, frameBytes),
              logDir.resolve(label + "-gen.log"),
              line -> genStats.accept(line).ifPresent(blocks::add));
      int wanted = warmup + measure + 1;
      int seen = 0;
      long genDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(wanted + 30L);
      while (seen < wanted) {
        if (blocks.poll(250, TimeUnit.MILLISECONDS) != null) {
          seen++;
          if (profile && seen == warmup + 1 && measure > 1) { // the measured seconds begin
            sampling = DutProfile.start(dir, commands.dutCpu(), measure - 1);
          }
          continue;
        }
        if (!gen.isAlive()) {
          gen.awaitOutput(2000);
          return failed(round, system, frameBytes, gen, "exited");
        }
        if (!dut.isAlive()) {
          return failed(round, system, frameBytes, dut, "exited during the trial");
        }
        if (System.nanoTime() > genDeadline) {
          return failed(
              round, system, frameBytes, gen, "only " + seen + " of " + wanted + " stats seconds");
        }
      }
      Map<String, Double> dutProfile = sampling == null ? Map.of() : sampling.finish(dut.pid());
      sampling = null;
      processes.stop(gen, 10_000);
      Processes.Child stoppedGen = gen;
      gen = null;
      boolean dutClean = processes.stop(dut, 20_000);
      Processes.Child stoppedDut = dut;
      dut = null;
      var window = TestpmdStats.window(genStats.blocks(), warmup, measure).orElse(null);
      if (window == null) {
        return failed(round, system, frameBytes, stoppedGen, "too few statistics blocks");
      }
      return measured(
          round,
          system,
          frameBytes,
          window,
          genStats.forwardTotals(),
          dutStats,
          flatnet.get(),
          dutClean,
          stoppedDut,
          null,
          dutProfile);
    } catch (IOException | IllegalStateException e) {
      return TrialResult.failed(round, system, frameBytes, e.getMessage(), false);
    } finally {
      if (sampling != null) { // the trial ended early: stop sampling with it
        sampling.cancel();
      }
      if (gen != null) {
        processes.stop(gen, 5_000);
      }
      if (dut != null) {
        processes.stop(dut, 10_000);
      }
      Processes.deleteTree(dir);
    }
  }

  /**
   * A measured trial's result with the DUT's side added: its TX per port, and flatnet's summary (a
   * flatnet DUT that printed none is the trial's error, and the tail of its log is shown), and its
   * profile ({@code --profile}; empty otherwise).
   */
  private TrialResult measured(
      int round,
      DutSystem system,
      int frameBytes,
      TestpmdStats.Window window,
      Map<Integer, TestpmdStats.ForwardTotals> generatorForward,
      TestpmdStats dutStats,
      FlatnetSummary flatnet,
      boolean dutClean,
      Processes.Child stoppedDut,
      PktgenStats.Result pktgen,
      Map<String, Double> dutProfile) {
    String error = null;
    if (system.flatnet() && flatnet == null) {
      error = "flatnet printed no JSON summary" + (dutClean ? "" : " (killed)");
      progress.print(stoppedDut.tail(10));
    }
    return new TrialResult(
        round,
        system,
        frameBytes,
        window,
        generatorForward,
        dutTxByPort(system, dutStats.forwardTotals(), flatnet),
        flatnet,
        error,
        new double[0],
        false,
        pktgen,
        dutProfile);
  }

  private static long[] dutTxByPort(
      DutSystem system, Map<Integer, TestpmdStats.ForwardTotals> testpmd, FlatnetSummary flatnet) {
    if (system == DutSystem.TESTPMD_IO && testpmd.size() == 2) {
      return new long[] {testpmd.get(0).txPackets(), testpmd.get(1).txPackets()};
    }
    if (system.flatnet() && flatnet != null && flatnet.txByPort().size() == 2) {
      return flatnet.txByPort().values().stream().mapToLong(Long::longValue).toArray();
    }
    return new long[0];
  }

  private TrialResult failed(
      int round, DutSystem system, int frameBytes, Processes.Child culprit, String why) {
    String msg = culprit.name() + " " + why + " (log " + culprit.log() + ")";
    progress.println("flatnet bench e2e: " + system.label() + " trial failed: " + msg);
    progress.print(culprit.tail(12));
    return TrialResult.failed(round, system, frameBytes, msg, false);
  }

  /** How a search session runs. */
  public record SearchConfig(
      long searchTrialMillis,
      int steps,
      double lowFraction,
      double resolution,
      double lossTolerance,
      double[] latencyLoads,
      long latencyTrialMillis,
      long probesPerSecond) {}

  /**
   * A search session: a fresh DUT driven by flatnet's own generator through a warm-up at full
   * speed, the zero-loss search between {@code upperMpps * lowFraction} and {@code upperMpps} (the
   * offered-load rate of this round; if that is unknown, the warm-up's returned rate), and latency
   * trials at the configured fractions of the zero-loss rate found.
   */
  public SearchResult runSearch(
      int round,
      DutSystem system,
      int frameBytes,
      RouteSet routes,
      int warmup,
      double upperMpps,
      SearchConfig config)
      throws InterruptedException {
    double[] busy = CpuLoad.sample(Runtime.getRuntime().availableProcessors(), 500);
    return searchSession(round, system, frameBytes, routes, warmup, upperMpps, config)
        .withBusyBefore(busy);
  }

  private SearchResult searchSession(
      int round,
      DutSystem system,
      int frameBytes,
      RouteSet routes,
      int warmup,
      double upperMpps,
      SearchConfig config)
      throws InterruptedException {
    int n = ++trialNumber;
    String label =
        String.format(
            "%02d-r%d-%sB-%s-search", n, round, FrameSize.label(frameBytes), system.label());
    Path dir = scratch.resolve("t" + n);
    Processes.Child dut = null;
    Processes.Child gen = null;
    List<SearchResult.SearchStep> steps = new ArrayList<>();
    List<SearchResult.LatencyPoint> latency = new ArrayList<>();
    GenTrial warm = null;
    double upper = upperMpps;
    double lower = Double.NaN;
    AtomicReference<FlatnetSummary> summary = new AtomicReference<>();
    try {
      Files.createDirectories(dir);
      Path sock0 = dir.resolve("p0.sock");
      Path sock1 = dir.resolve("p1.sock");
      dut =
          startDut(
              system,
              label,
              dir,
              routes,
              null,
              line -> FlatnetSummary.parse(line).ifPresent(summary::set));
      BlockingQueue<GenTrial> results = new LinkedBlockingQueue<>();
      BlockingQueue<String> events = new LinkedBlockingQueue<>();
      gen =
          processes.start(
              "flatnet-gen",
              generatorCommand(system, sock0, sock1, frameBytes, routes),
              logDir.resolve(label + "-gen.log"),
              line -> {
                if (line.startsWith("{\"gen_ready\"") || line.startsWith("{\"gen_error\"")) {
                  events.add(line);
                } else {
                  GenTrial.parse(line).ifPresent(results::add);
                }
              },
              true);
      String ready = events.poll(60, TimeUnit.SECONDS);
      if (ready == null || !ready.startsWith("{\"gen_ready\"")) {
        throw new TrialFailure(gen, ready == null ? "not ready after 60 s" : ready);
      }
      // Probes in the warm-up too: latency at overload, and proof that stamping works.
      warm = trial(gen, dut, results, "warmup", 0, warmup * 1000L, config.probesPerSecond());
      if (!(upper > 0)) {
        upper = warm.returnedMpps();
      }
      if (!(upper > 0)) {
        throw new TrialFailure(gen, "no packets came back in the warm-up");
      }
      lower = upper * config.lowFraction();
      ZeroLossSearch search = new ZeroLossSearch(upper, lower, config.steps(), config.resolution());
      for (double rate = search.next(); !Double.isNaN(rate); rate = search.next()) {
        GenTrial t =
            trial(
                gen,
                dut,
                results,
                "search" + (steps.size() + 1),
                Math.round(rate * 1e6),
                config.searchTrialMillis(),
                0);
        boolean pass =
            !t.generatorLimited()
                && ZeroLossSearch.passes(t.lossFraction(), config.lossTolerance());
        search.record(rate, pass);
        steps.add(new SearchResult.SearchStep(rate, t, pass));
        progress.printf(
            java.util.Locale.ROOT,
            "  search %-8s %6.2f Mpps offered %6.2f, returned %6.2f, loss %.5f%% %s%s%n",
            system.label(),
            rate,
            t.offeredMpps(),
            t.returnedMpps(),
            t.lossFraction() * 100,
            pass ? "pass" : "FAIL",
            t.generatorLimited() ? " (generator below the rate)" : "");
      }
      double zeroLoss = search.result();
      if (zeroLoss > 0) {
        for (double load : config.latencyLoads()) {
          double rate = zeroLoss * load;
          GenTrial t =
              trial(
                  gen,
                  dut,
                  results,
                  "latency" + Math.round(load * 100),
                  Math.round(rate * 1e6),
                  config.latencyTrialMillis(),
                  config.probesPerSecond());
          latency.add(new SearchResult.LatencyPoint(load, rate, t));
        }
        if (system == DutSystem.FLATNET_AGENTRESTART && node != null) {
          // The agent restart: at half the zero-loss rate, the agent killed 2 s in.
          double rate = zeroLoss * RESTART_LOAD;
          GenTrial t =
              trial(
                  gen,
                  dut,
                  results,
                  RESTART_TRIAL,
                  Math.round(rate * 1e6),
                  RESTART_TRIAL_MILLIS,
                  config.probesPerSecond());
          node.restartTrial(rate, t);
          progress.printf(
              java.util.Locale.ROOT,
              "  agent restart at %.2f Mpps (%.0f%% of zero-loss): loss %.5f%%, p99 %.1f us%n",
              rate,
              RESTART_LOAD * 100,
              t.lossFraction() * 100,
              t.latency() == null ? Double.NaN : t.latency().getValueAtPercentile(99) / 1e3);
        }
      }
      gen.send("quit");
      processes.stop(gen, 5_000);
      gen = null;
      Map<String, Double> nodeFigures = stopNode();
      processes.stop(dut, 10_000); // flatnet prints its summary as it stops
      dut = null;
      return new SearchResult(
          round,
          system,
          frameBytes,
          upper,
          lower,
          warm,
          steps,
          zeroLoss,
          latency,
          null,
          new double[0],
          summary.get(),
          nodeFigures);
    } catch (TrialFailure | IOException | IllegalStateException | IllegalArgumentException e) {
      String msg = String.valueOf(e.getMessage());
      if (e instanceof TrialFailure f) {
        msg = f.culprit.name() + " " + f.getMessage() + " (log " + f.culprit.log() + ")";
        progress.println("flatnet bench e2e: " + system.label() + " search failed: " + msg);
        progress.print(f.culprit.tail(12));
      }
      return new SearchResult(
          round,
          system,
          frameBytes,
          upper,
          lower,
          warm,
          steps,
          Double.NaN,
          latency,
          msg,
          new double[0],
          summary.get(),
          stopNode());
    } finally {
      if (gen != null) {
        processes.stop(gen, 5_000);
      }
      stopNode();
      if (dut != null) {
        processes.stop(dut, 10_000);
      }
      Processes.deleteTree(dir);
    }
  }

  /**
   * An offered-load trial driven by flatnet's own generator ({@link io.flatnet.perf.gen.GenMain})
   * sending as fast as its queues take packets: the IMIX, which testpmd flowgen cannot send (its
   * {@code --txpkts} is one length per packet; {@code set txsplit rand} varies the segment count
   * only in txonly and csum modes, uniformly, so never 7:4:1). A fresh DUT, the generator, an
   * unpaced warm-up trial of {@code warmup} s, then an unpaced trial of {@code measure} s: its
   * returned rate is the trial's, its loss (accepted by the TX rings minus returned, after a 200 ms
   * drain) the loss.
   */
  private TrialResult runGenOffered(
      int round, DutSystem system, int frameBytes, RouteSet routes, int warmup, int measure)
      throws InterruptedException {
    int n = ++trialNumber;
    String label =
        String.format(
            "%02d-%s-%s-%s-gen",
            n, round == 0 ? "check" : "r" + round, FrameSize.label(frameBytes), system.label());
    Path dir = scratch.resolve("t" + n);
    Processes.Child dut = null;
    Processes.Child gen = null;
    TestpmdStats dutStats = new TestpmdStats(2);
    AtomicReference<FlatnetSummary> flatnet = new AtomicReference<>();
    try {
      Files.createDirectories(dir);
      dut =
          startDut(
              system,
              label,
              dir,
              routes,
              null,
              line -> {
                if (system.flatnet()) {
                  FlatnetSummary.parse(line).ifPresent(flatnet::set);
                } else if (system == DutSystem.TESTPMD_IO) {
                  dutStats.accept(line);
                }
              });
      BlockingQueue<GenTrial> results = new LinkedBlockingQueue<>();
      BlockingQueue<String> events = new LinkedBlockingQueue<>();
      gen =
          processes.start(
              "flatnet-gen",
              generatorCommand(
                  system, dir.resolve("p0.sock"), dir.resolve("p1.sock"), frameBytes, routes),
              logDir.resolve(label + "-gen.log"),
              line -> {
                if (line.startsWith("{\"gen_ready\"") || line.startsWith("{\"gen_error\"")) {
                  events.add(line);
                } else {
                  GenTrial.parse(line).ifPresent(results::add);
                }
              },
              true);
      String ready = events.poll(60, TimeUnit.SECONDS);
      if (ready == null || !ready.startsWith("{\"gen_ready\"")) {
        throw new TrialFailure(gen, ready == null ? "not ready after 60 s" : ready);
      }
      GenTrial warm = trial(gen, dut, results, "warmup", 0, Math.max(1, warmup) * 1000L, 0);
      GenTrial t = trial(gen, dut, results, "offered", 0, measure * 1000L, 0);
      gen.send("quit");
      processes.stop(gen, 5_000);
      gen = null;
      stopNode();
      boolean dutClean = processes.stop(dut, 20_000);
      Processes.Child stoppedDut = dut;
      dut = null;
      TestpmdStats.Window window =
          new TestpmdStats.Window(
              t.returnedMpps(),
              t.returned().clone(),
              t.accepted().clone(),
              new double[] {warm.returnedMpps(), t.returnedMpps()},
              measure);
      return measured(
          round,
          system,
          frameBytes,
          window,
          Map.of(),
          dutStats,
          flatnet.get(),
          dutClean,
          stoppedDut,
          null,
          Map.of());
    } catch (TrialFailure f) {
      return failed(round, system, frameBytes, f.culprit, f.getMessage());
    } catch (IOException | IllegalStateException | IllegalArgumentException e) {
      return TrialResult.failed(round, system, frameBytes, e.getMessage(), false);
    } finally {
      if (gen != null) {
        processes.stop(gen, 5_000);
      }
      stopNode();
      if (dut != null) {
        processes.stop(dut, 10_000);
      }
      Processes.deleteTree(dir);
    }
  }

  /** A failed step of a trial, naming the process at fault. */
  private static final class TrialFailure extends Exception {
    private static final long serialVersionUID = 1L;
    private final transient Processes.Child culprit;

    TrialFailure(Processes.Child culprit, String message) {
      super(message);
      this.culprit = culprit;
    }
  }

  /** Asks the generator for one trial and waits for its result. */
  private GenTrial trial(
      Processes.Child gen,
      Processes.Child dut,
      BlockingQueue<GenTrial> results,
      String name,
      long ratePps,
      long millis,
      long probesPerSecond)
      throws IOException, InterruptedException, TrialFailure {
    NodeDut restarting = node != null && name.equals(RESTART_TRIAL) ? node : null;
    int readyBefore = restarting == null ? 0 : restarting.agentsReady();
    gen.send("trial " + name + " " + ratePps + " " + millis + " " + probesPerSecond);
    long killAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis / 4);
    long killedAt = 0;
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis + 30_000);
    while (true) {
      GenTrial t = results.poll(restarting == null ? 250 : 5, TimeUnit.MILLISECONDS);
      if (restarting != null && killedAt == 0 && System.nanoTime() >= killAt) {
        killedAt = System.nanoTime();
        restarting.killAgent(); // a quarter of the way into the measured trial
      }
      if (t != null) {
        if (killedAt != 0
            && !restarting.awaitRestart(readyBefore, killedAt, AGENT_RESTART_WAIT_MILLIS)) {
          throw new TrialFailure(dut, "no new agent ready 60 s after the kill in trial " + name);
        }
        return t;
      }
      if (!gen.isAlive()) {
        gen.awaitOutput(2000);
        throw new TrialFailure(gen, "exited during trial " + name);
      }
      if (!dut.isAlive()) {
        throw new TrialFailure(dut, "exited during trial " + name);
      }
      if (System.nanoTime() > deadline) {
        throw new TrialFailure(gen, "no result for trial " + name);
      }
    }
  }

  /** Starts the DUT and waits for its two vhost-user sockets. */
  private Processes.Child startDut(
      DutSystem system,
      String label,
      Path dir,
      RouteSet routes,
      String telemetryPrefix,
      java.util.function.Consumer<String> sink)
      throws IOException, InterruptedException, TrialFailure {
    Path sock0 = dir.resolve("p0.sock");
    Path sock1 = dir.resolve("p1.sock");
    Path v4 = dir.resolve("rules_v4.cfg");
    Path v6 = dir.resolve("rules_v6.cfg");
    Files.writeString(v4, routes.l3fwdIpv4Rules(), StandardCharsets.UTF_8);
    Files.writeString(v6, RouteSet.l3fwdIpv6Rules(), StandardCharsets.UTF_8);
    List<String> command;
    if (system.node()) {
      node = new NodeDut(dir.resolve("run"), NODE_METRICS_PORT);
      Path config = dir.resolve("node.yaml");
      Files.writeString(
          config, NodeDut.config(sock0, sock1, routes, commands.dutCpu()), StandardCharsets.UTF_8);
      command =
          node.command(nodeDataplaneCp, nodeAgentCp, config, dir, commands.dutCpu(), nodeAgentCpu);
      sink = node.watching(sink);
    } else {
      command =
          commands.dut(system, sock0, sock1, routes, v4, v6, dir.resolve("run"), telemetryPrefix);
    }
    Processes.Child dut =
        processes.start(system.label(), command, logDir.resolve(label + "-dut.log"), sink);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SOCKET_WAIT_MILLIS);
    while (!(Files.exists(sock0) && Files.exists(sock1))) {
      if (!dut.isAlive()) {
        processes.stop(dut, 1000);
        throw new TrialFailure(dut, "exited before creating its sockets");
      }
      if (System.nanoTime() > deadline) {
        processes.stop(dut, 5000);
        throw new TrialFailure(dut, "no vhost-user sockets after 60 s");
      }
      Thread.sleep(20);
    }
    if (node != null) {
      if (!node.awaitAgentsReady(1, SOCKET_WAIT_MILLIS)) {
        processes.stop(dut, 5000);
        throw new TrialFailure(dut, "its agent was not ready after 60 s");
      }
      node.markReady(dut.pid());
      if (system == DutSystem.FLATNET_AGENTCHURN) {
        node.startLoad(nodeAgentCpu < 0 ? commands.dutCpu() : nodeAgentCpu);
      }
    }
    return dut;
  }

  /**
   * flatnet's generator for {@code system}: checking the routes of a routing DUT, and resolving a
   * node's gateways by ARP (a node's uplinks take only frames for their own MAC).
   */
  private List<String> generatorCommand(
      DutSystem system, Path sock0, Path sock1, int frameBytes, RouteSet routes) {
    List<String> c =
        new ArrayList<>(
            commands.javaGenerator(sock0, sock1, frameBytes, system.routes() ? routes : null));
    if (system.node()) {
      c.addAll(NodeDut.generatorArgs());
    }
    return c;
  }

  /** Stops the node DUT's load, if one runs; returns the node's figures (empty for others). */
  private Map<String, Double> stopNode() throws InterruptedException {
    NodeDut n = node;
    if (n == null) {
      return Map.of();
    }
    node = null;
    n.stopLoad();
    Map<String, Double> figures = n.figures();
    if (!figures.isEmpty()) {
      progress.println("  node: " + figures + " " + n.firstLoadError());
    }
    return figures;
  }

  /** Microseconds between pktgen's latency probes on each port: 10,000 probes a second each. */
  static final int PKTGEN_LATENCY_MICROS = 100;

  /** How long pktgen may take to start (EAL, mbuf pools, ports) before its script's seconds. */
  private static final long PKTGEN_START_SECONDS = 60;

  /**
   * An offered-load trial driven by Pktgen-DPDK ({@code --generator pktgen}): the DUT, then pktgen
   * in a pseudo-terminal running the Lua script {@link PktgenScript} writes into the trial's
   * directory (a copy goes to the logs). Rate, loss and latency are pktgen's own counters, read
   * from what the script prints ({@link PktgenStats}); pktgen quits when its script is done.
   */
  private TrialResult runPktgen(
      int round, DutSystem system, int frameBytes, RouteSet routes, int warmup, int measure)
      throws InterruptedException {
    int n = ++trialNumber;
    String label = String.format("%02d-r%d-%dB-%s-pktgen", n, round, frameBytes, system.label());
    Path dir = scratch.resolve("t" + n);
    Processes.Child dut = null;
    Processes.Child gen = null;
    PktgenStats stats = new PktgenStats();
    TestpmdStats dutStats = new TestpmdStats(2);
    AtomicReference<FlatnetSummary> flatnet = new AtomicReference<>();
    try {
      Files.createDirectories(dir);
      String script =
          PktgenScript.lua(
              frameBytes,
              routes,
              warmup,
              measure,
              PKTGEN_LATENCY_MICROS,
              commands.pktgen().ratePercent());
      Path lua = dir.resolve("pktgen.lua");
      Files.writeString(lua, script, StandardCharsets.UTF_8);
      Files.createDirectories(logDir);
      Files.writeString(logDir.resolve(label + ".lua"), script, StandardCharsets.UTF_8);
      dut =
          startDut(
              system,
              label,
              dir,
              routes,
              null,
              line -> {
                if (system.flatnet()) {
                  FlatnetSummary.parse(line).ifPresent(flatnet::set);
                } else if (system == DutSystem.TESTPMD_IO) {
                  dutStats.accept(line);
                }
              });
      gen =
          processes.start(
              "pktgen",
              commands.pktgenGenerator(dir.resolve("p0.sock"), dir.resolve("p1.sock"), lua),
              logDir.resolve(label + "-gen.log"),
              stats::accept);
      long deadline =
          System.nanoTime()
              + TimeUnit.SECONDS.toNanos(PKTGEN_START_SECONDS + warmup + measure + 10L);
      while (!stats.done()) {
        if (!gen.isAlive()) {
          gen.awaitOutput(2000);
          if (stats.done()) {
            break;
          }
          throw new TrialFailure(gen, "exited before its script was done");
        }
        if (!dut.isAlive()) {
          throw new TrialFailure(dut, "exited during the trial");
        }
        if (System.nanoTime() > deadline) {
          throw new TrialFailure(
              gen, "script not done in time (" + stats.secondsSeen() + " seconds printed)");
        }
        Thread.sleep(100);
      }
      processes.stop(gen, 10_000);
      gen = null;
      boolean dutClean = processes.stop(dut, 20_000);
      Processes.Child stoppedDut = dut;
      dut = null;
      PktgenStats.Result result = stats.result().orElse(null);
      if (result == null) {
        return TrialResult.failed(
            round,
            system,
            frameBytes,
            "pktgen printed no totals (log " + label + "-gen.log)",
            false);
      }
      return measured(
          round,
          system,
          frameBytes,
          result.window(),
          Map.of(),
          dutStats,
          flatnet.get(),
          dutClean,
          stoppedDut,
          result,
          Map.of());
    } catch (TrialFailure f) {
      return failed(round, system, frameBytes, f.culprit, f.getMessage());
    } catch (IOException | IllegalStateException | IllegalArgumentException e) {
      return TrialResult.failed(round, system, frameBytes, e.getMessage(), false);
    } finally {
      if (gen != null) {
        processes.stop(gen, 5_000);
      }
      if (dut != null) {
        processes.stop(dut, 10_000);
      }
      Processes.deleteTree(dir);
    }
  }

  private static final Pattern FLATNET_SECOND =
      Pattern.compile("^\\s*\\d+s\\s+rx\\s+[\\d.]+ Mpps\\s+tx\\s+([\\d.]+) Mpps");

  /**
   * An offered-load trial driven by the external generator ({@code --generator-command}): the rate
   * is the DUT's own transmit rate over the measured seconds, read from its counters (testpmd io:
   * its --stats-period blocks; flatnet: its per-second lines; l3fwd: DPDK telemetry, {@code
   * /ethdev/stats}, read as the window opens and closes). Loss and the port-0 share are unknown
   * (the generator's counters are not read).
   */
  private TrialResult runExternal(
      int round, DutSystem system, int frameBytes, RouteSet routes, int warmup, int measure)
      throws InterruptedException {
    int n = ++trialNumber;
    String label = String.format("%02d-r%d-%dB-%s-extgen", n, round, frameBytes, system.label());
    Path dir = scratch.resolve("t" + n);
    String prefix = "flatnet-e2e-" + ProcessHandle.current().pid() + "-" + n;
    Processes.Child dut = null;
    Processes.Child gen = null;
    List<long[]> samples = new java.util.concurrent.CopyOnWriteArrayList<>(); // {nanos, pps}
    TestpmdStats dutStats = new TestpmdStats(2);
    try {
      Files.createDirectories(dir);
      dut =
          startDut(
              system,
              label,
              dir,
              routes,
              system == DutSystem.L3FWD ? prefix : null,
              line -> {
                if (system == DutSystem.TESTPMD_IO) {
                  dutStats
                      .accept(line)
                      .ifPresent(b -> samples.add(new long[] {System.nanoTime(), b.txPps()}));
                } else if (system.flatnet()) {
                  Matcher m = FLATNET_SECOND.matcher(line);
                  if (m.find()) {
                    samples.add(
                        new long[] {
                          System.nanoTime(), Math.round(Double.parseDouble(m.group(1)) * 1e6)
                        });
                  }
                }
              });
      gen =
          processes.start(
              "external-generator",
              commands.externalGenerator(
                  dir.resolve("p0.sock"),
                  dir.resolve("p1.sock"),
                  dir,
                  frameBytes,
                  warmup + measure + 1),
              logDir.resolve(label + "-gen.log"),
              line -> {});
      Thread.sleep(warmup * 1000L + 500);
      long t0 = System.nanoTime();
      long[] c0 = system == DutSystem.L3FWD ? telemetryTx(prefix) : null;
      Thread.sleep(measure * 1000L);
      long t1 = System.nanoTime();
      long[] c1 = system == DutSystem.L3FWD ? telemetryTx(prefix) : null;
      if (!dut.isAlive()) {
        throw new TrialFailure(dut, "exited during the trial");
      }
      double mpps;
      long[] byPort = new long[2];
      if (system == DutSystem.L3FWD) {
        if (c0 == null || c1 == null) {
          throw new TrialFailure(dut, "no DPDK telemetry from l3fwd (prefix " + prefix + ")");
        }
        byPort = new long[] {c1[0] - c0[0], c1[1] - c0[1]};
        mpps = (byPort[0] + byPort[1]) / ((t1 - t0) / 1e9) / 1e6;
      } else {
        double sum = 0;
        int count = 0;
        for (long[] s : samples) {
          if (s[0] > t0 && s[0] <= t1 + 500_000_000L) {
            sum += s[1];
            count++;
          }
        }
        if (count == 0) {
          throw new TrialFailure(dut, "printed no counters in the measured window");
        }
        mpps = sum / count / 1e6;
      }
      double[] perSecond = samples.stream().mapToDouble(s -> s[1] / 1e6).toArray();
      TestpmdStats.Window window =
          new TestpmdStats.Window(mpps, byPort, new long[2], perSecond, measure);
      return new TrialResult(
          round,
          system,
          frameBytes,
          window,
          Map.of(),
          new long[0],
          null,
          null,
          new double[0],
          true,
          null,
          Map.of());
    } catch (TrialFailure f) {
      return failed(round, system, frameBytes, f.culprit, f.getMessage());
    } catch (IOException | IllegalStateException e) {
      return TrialResult.failed(round, system, frameBytes, e.getMessage(), true);
    } finally {
      if (gen != null) {
        processes.stop(gen, 5_000);
      }
      if (dut != null) {
        processes.stop(dut, 10_000);
      }
      Processes.deleteTree(dir);
      Processes.deleteTree(Path.of("/var/run/dpdk", prefix));
    }
  }

  private static final Pattern OPACKETS = Pattern.compile("\"opackets\":\\s*(\\d+)");

  /**
   * Packets each of ports 0 and 1 transmitted, from DPDK telemetry ({@code dpdk-telemetry.py -f
   * PREFIX}, commands {@code /ethdev/stats,0} and {@code /ethdev/stats,1}); null if unavailable.
   */
  static long[] telemetryTx(String prefix) throws InterruptedException {
    try {
      Process p =
          new ProcessBuilder("python3", "/usr/bin/dpdk-telemetry.py", "-f", prefix)
              .redirectErrorStream(true)
              .start();
      p.getOutputStream()
          .write("/ethdev/stats,0\n/ethdev/stats,1\n".getBytes(StandardCharsets.UTF_8));
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return null;
      }
      Matcher m = OPACKETS.matcher(out);
      long[] tx = new long[2];
      for (int i = 0; i < 2; i++) {
        if (!m.find()) {
          return null;
        }
        tx[i] = Long.parseLong(m.group(1));
      }
      return tx;
    } catch (IOException e) {
      return null;
    }
  }
}
