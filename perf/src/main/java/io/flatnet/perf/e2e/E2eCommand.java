package io.flatnet.perf.e2e;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ./flatnet bench e2e}: flatnet, DPDK l3fwd and testpmd io-forwarding side by side, over the
 * same vhost-user ports, driven by the same generator (testpmd flowgen over virtio_user), in
 * alternating rounds. See docs/benchmarking.md.
 */
@Command(
    name = "e2e",
    sortOptions = false,
    mixinStandardHelpOptions = true,
    description = {
      "End-to-end forwarding rate of flatnet against DPDK l3fwd (LPM) and testpmd io-forwarding"
          + " (the ceiling), on two vhost-user ports. Each round runs every system once"
          + " (ABCABC...) with fresh processes, in two parts:",
      "  1. offered load: testpmd flowgen over virtio_user at full speed (or Pktgen-DPDK with"
          + " --generator pktgen, or --generator-command); the rate returned to the generator;",
      "  2. search: flatnet's own paced generator (io.flatnet.perf.gen.GenMain, on --gen-cpu)"
          + " against a fresh DUT: the RFC 2544 zero-loss rate by binary search"
          + " (--search-steps trials of --search-trial-seconds, loss <= --loss-tolerance, bounds"
          + " --search-low-fraction..1 x the offered-load rate of the same round), then latency"
          + " p50/p99/p99.9/max from timestamped probes at --latency-loads %% of that zero-loss"
          + " rate.",
      "The report gives per-system medians, the median and spread of per-round ratios (rates,"
          + " zero-loss rates, p99 latency), and a routing check (asymmetric routes: a router must"
          + " return 25%% of the packets on port 0, a hairpinning DUT returns 50%%; flatnet's"
          + " generator also counts packets that came back on the wrong port).",
      "Exit: 0 ok; 1 a trial failed or the routing check failed; 2 usage; 4 cannot run"
          + " (prerequisites missing, or another bench e2e kept running).",
      ""
    })
public final class E2eCommand implements Callable<Integer> {

  @Spec private CommandSpec spec;

  @Option(
      names = "--rounds",
      defaultValue = "5",
      description = "Rounds; each runs every system once. Default: ${DEFAULT-VALUE}.")
  private int rounds;

  @Option(
      names = "--trial-seconds",
      defaultValue = "10",
      description = "Measured seconds of each trial. Default: ${DEFAULT-VALUE}.")
  private int trialSeconds;

  @Option(
      names = "--warmup-seconds",
      defaultValue = "4",
      description =
          "Seconds of traffic before measuring, in every trial (flatnet's JIT warms up then)."
              + " Default: ${DEFAULT-VALUE}.")
  private int warmupSeconds;

  @Option(
      names = "--sizes",
      defaultValue = "64",
      description =
          "Ethernet frame sizes with FCS, comma-separated, 64..1518, and imix (64, 570 and 1518 B"
              + " frames 7:4:1, sent by flatnet's own generator unpaced: testpmd flowgen sends one"
              + " length) (full table: 64,128,256,512,1024,1518,imix). Default: ${DEFAULT-VALUE}.")
  private String sizes;

  @Option(
      names = "--systems",
      defaultValue = "testpmd-io,l3fwd,flatnet",
      description = "Systems, in the order each round runs them. Default: ${DEFAULT-VALUE}.")
  private String systems;

  @Option(
      names = "--policy-pods",
      defaultValue = "1024",
      description =
          "flatnet-policy/-churn/-newflow/-cut: ingress-isolated pods, one policy each, from"
              + " 10.253.0.0 (1,024 covers every destination). Default: ${DEFAULT-VALUE}.")
  private int policyPods;

  @Option(
      names = "--policy-rules",
      defaultValue = "10",
      description =
          "Rules per policy; only the last allows the generators' traffic, so a first packet"
              + " scans them all. Default: ${DEFAULT-VALUE}.")
  private int policyRules;

  @Option(
      names = "--policy-churn-ms",
      defaultValue = "1000",
      description =
          "flatnet-churn: publish a new generation of the policies (one pod's policy changed,"
              + " the same allowed set) this often. Default: ${DEFAULT-VALUE}.")
  private int policyChurnMillis;

  @Option(
      names = "--route-churn-per-second",
      defaultValue = "10000",
      description =
          "flatnet-routechurn: route updates a second (adds and deletes of /28s of 10.200.0.0/16,"
              + " none covering the traffic) by a thread of the DUT while it forwards. Default:"
              + " ${DEFAULT-VALUE}.")
  private int routeChurnPerSecond;

  @Option(
      names = "--node-agent-cpu",
      defaultValue = "-1",
      description =
          "CPU of the node systems' agent process (flatnet run --config --agent-cpus), of the"
              + " dataplane's other threads and of the agent-churn load: the worker then has the"
              + " DUT's CPU alone, as on a node with a CPU to spare. It should be neither the"
              + " DUT's nor the generator's (a third CPU). Default -1: the whole node on the DUT's"
              + " CPU.")
  private int nodeAgentCpu;

  @Option(
      names = "--check-seconds",
      defaultValue = "3",
      description =
          "Measured seconds of the routing check (64 B, asymmetric routes) before the rounds;"
              + " 0 skips it. Default: ${DEFAULT-VALUE}.")
  private int checkSeconds;

  @Option(
      names = "--loss-tolerance",
      defaultValue = "0",
      description =
          "Loss fraction (lost/sent) that still counts as zero loss. Default: ${DEFAULT-VALUE}.")
  private double lossTolerance;

  @Option(
      names = "--search-steps",
      defaultValue = "6",
      description =
          "Trials of the zero-loss binary search per system and round; 0 skips the search and"
              + " the latency trials. Default: ${DEFAULT-VALUE}.")
  private int searchSteps;

  @Option(
      names = "--fixed-rate-fraction",
      description =
          "Instead of the zero-loss search: one trial of flatnet's paced generator per system and"
              + " round (after its warm-up, --search-trial-seconds long) at this fraction of the"
              + " offered-load rate of the round's first system, so every system of a round gets"
              + " the same rate; reports each one's loss (and flatnet's own drop counters, e.g."
              + " policy-denied). Default 0: off.")
  private double fixedRateFraction;

  @Option(
      names = "--search-trial-seconds",
      defaultValue = "2",
      description = "Seconds of each search trial. Default: ${DEFAULT-VALUE}.")
  private int searchTrialSeconds;

  @Option(
      names = "--search-low-fraction",
      defaultValue = "0.5",
      description =
          "The search's lower bound, as a fraction of the offered-load rate (its upper bound)."
              + " Default: ${DEFAULT-VALUE}.")
  private double searchLowFraction;

  @Option(
      names = "--latency-loads",
      defaultValue = "10,50,90",
      description =
          "Loads of the latency trials, in %% of each system's zero-loss rate. Default:"
              + " ${DEFAULT-VALUE}.")
  private String latencyLoads;

  @Option(
      names = "--latency-trial-seconds",
      defaultValue = "2",
      description = "Seconds of each latency trial. Default: ${DEFAULT-VALUE}.")
  private int latencyTrialSeconds;

  @Option(
      names = "--probes-per-second",
      defaultValue = "20000",
      description =
          "Timestamped probe packets a second in latency trials (the rest are plain)."
              + " Default: ${DEFAULT-VALUE}.")
  private long probesPerSecond;

  @Option(
      names = "--generator",
      defaultValue = "testpmd",
      description =
          "The offered-load trials' generator: testpmd (flowgen) or pktgen (Pktgen-DPDK, see"
              + " --pktgen: rate, loss and latency from pktgen's own counters, read from the Lua"
              + " script the bench writes; build it with perf/pktgen/build-pktgen.sh). The"
              + " routing check and the search use their own generators either way. Default:"
              + " ${DEFAULT-VALUE}.")
  private String generator;

  @Option(
      names = "--pktgen",
      paramLabel = "PATH",
      description = "The pktgen binary for --generator pktgen. Default: pktgen on PATH.")
  private Path pktgenPath;

  @Option(
      names = "--pktgen-rate",
      defaultValue = "100",
      paramLabel = "PERCENT",
      description =
          "With --generator pktgen: each port's rate in %% of its link speed (virtio_user: 10"
              + " Gb/s, so 100 is 14.88 Mpps a port at 64 B); 100 sends as fast as pktgen can."
              + " Default: ${DEFAULT-VALUE}.")
  private double pktgenRate;

  @Option(
      names = "--generator-command",
      description =
          "An external generator (TRex, ...; for Pktgen-DPDK use --generator pktgen) for the"
              + " offered-load trials instead of"
              + " testpmd flowgen, run with /bin/sh -c. Placeholders: {sock0} {sock1} (the DUT's"
              + " vhost-user sockets; connect virtio_user to them), {run_dir}, {frame_size},"
              + " {pkt_len}, {gen_cpu}, {dut_cpu}, {seconds}. The rate is then read from the"
              + " DUT's own counters; the search still uses flatnet's generator.")
  private String generatorCommand;

  @Option(
      names = "--dut-cpu",
      defaultValue = "1",
      description = "CPU of the DUT's polling thread. Default: ${DEFAULT-VALUE}.")
  private int dutCpu;

  @Option(
      names = "--gen-cpu",
      defaultValue = "0",
      description = "CPU of the generator's forwarding lcore. Default: ${DEFAULT-VALUE}.")
  private int genCpu;

  @Option(
      names = "--json",
      description = "Print one JSON object with every figure instead of the table.")
  private boolean json;

  @Option(
      names = "--results-dir",
      description = "Where the JSON and PNG results go. Default: <repo>/perf/results.")
  private Path resultsDir;

  @Option(
      names = "--profile",
      description =
          "Sample the DUT's CPU with perf record over each offered-load trial's measured seconds"
              + " (testpmd flowgen): ns a packet in each of the DUT's shared objects (the vhost"
              + " PMD, the router's own code), in the report and the JSON.")
  boolean profile;

  @Option(names = "--no-results", description = "Write no result files.")
  private boolean noResults;

  @Option(
      names = "--min-free-hugepages",
      defaultValue = "1024",
      description = "Required HugePages_Free (2 MB pages). Default: ${DEFAULT-VALUE}.")
  private long minFreeHugepages;

  @Option(
      names = "--root",
      description = "The flatnet checkout (default: found from this class's location).")
  private Path root;

  @Option(
      names = "--lock-wait-seconds",
      defaultValue = "900",
      description =
          "How long to wait for another bench e2e on this machine to finish. Default:"
              + " ${DEFAULT-VALUE}.")
  private int lockWaitSeconds;

  private double[] loads;

  /** "10,50,90" as fractions {0.1, 0.5, 0.9}; each in (0, 100]. */
  static double[] parseLoads(String text) {
    List<Double> out = new ArrayList<>();
    for (String part : text.split(",")) {
      String s = part.strip();
      if (s.isEmpty()) {
        continue;
      }
      double v;
      try {
        v = Double.parseDouble(s);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("latency load '" + s + "' is not a number");
      }
      if (!(v > 0 && v <= 100)) {
        throw new IllegalArgumentException("latency load " + s + " is outside (0, 100] %");
      }
      out.add(v / 100);
    }
    return out.stream().mapToDouble(Double::doubleValue).toArray();
  }

  /** One bench e2e at a time per machine: two would share the CPUs and measure each other. */
  static final Path LOCK_FILE = Path.of("/tmp/flatnet-bench-e2e.lock");

  @Override
  public Integer call() throws Exception {
    PrintStream err = System.err;
    List<Integer> frameSizes;
    List<DutSystem> dutSystems;
    try {
      frameSizes = Stats.parseSizes(sizes);
      dutSystems = DutSystem.parseList(systems);
      if (rounds < 1 || trialSeconds < 1 || warmupSeconds < 0 || checkSeconds < 0) {
        throw new IllegalArgumentException(
            "--rounds and --trial-seconds must be >= 1, --warmup-seconds and --check-seconds >= 0");
      }
      if (lossTolerance < 0 || lossTolerance >= 1) {
        throw new IllegalArgumentException("--loss-tolerance must be in [0, 1)");
      }
      loads = parseLoads(latencyLoads);
      if (!(fixedRateFraction >= 0 && fixedRateFraction <= 1)) {
        throw new IllegalArgumentException("--fixed-rate-fraction must be in [0, 1]");
      }
      if (searchSteps < 0 || searchTrialSeconds < 1 || latencyTrialSeconds < 1) {
        throw new IllegalArgumentException(
            "--search-steps must be >= 0, --search-trial-seconds and --latency-trial-seconds >= 1");
      }
      if (!(searchLowFraction > 0 && searchLowFraction < 1)) {
        throw new IllegalArgumentException("--search-low-fraction must be in (0, 1)");
      }
      if (!generator.equals("testpmd") && !generator.equals("pktgen")) {
        throw new IllegalArgumentException(
            "--generator must be testpmd or pktgen, not '" + generator + "'");
      }
      if (generator.equals("pktgen") && generatorCommand != null) {
        throw new IllegalArgumentException(
            "--generator pktgen and --generator-command are alternatives: give one");
      }
      if ((pktgenPath != null || pktgenRate != 100) && !generator.equals("pktgen")) {
        throw new IllegalArgumentException("--pktgen and --pktgen-rate need --generator pktgen");
      }
      if (!(pktgenRate > 0 && pktgenRate <= 100)) {
        throw new IllegalArgumentException("--pktgen-rate must be in (0, 100]");
      }
      if (frameSizes.contains(FrameSize.IMIX)
          && (generator.equals("pktgen") || generatorCommand != null)) {
        throw new IllegalArgumentException(
            "--sizes imix is sent by flatnet's own generator; it does not go with --generator"
                + " pktgen or --generator-command");
      }
      if (routeChurnPerSecond < 1) {
        throw new IllegalArgumentException("--route-churn-per-second must be >= 1");
      }
      if (generatorCommand != null
          && !(generatorCommand.contains("{sock0}") && generatorCommand.contains("{sock1}"))) {
        throw new IllegalArgumentException(
            "--generator-command must use {sock0} and {sock1} (the DUT's vhost-user sockets)");
      }
    } catch (IllegalArgumentException e) {
      err.println("flatnet bench e2e: " + e.getMessage());
      return 2;
    }
    RunLock lock = RunLock.acquire(LOCK_FILE, lockWaitSeconds, err);
    if (lock == null) {
      err.println(
          "flatnet bench e2e: another bench e2e still holds "
              + LOCK_FILE
              + " after "
              + lockWaitSeconds
              + " s; two at once would measure each other");
      return 4;
    }
    try (lock) {
      return runLocked(err, frameSizes, dutSystems);
    }
  }

  private int runLocked(PrintStream err, List<Integer> frameSizes, List<DutSystem> dutSystems)
      throws Exception {
    Path repo = root != null ? root : findRoot();
    Path l3fwdCache = repo.resolve("perf/target/l3fwd-build");
    Path dataplaneCp = repo.resolve("dataplane/target/classpath.txt");
    String dpdkVersion = Prerequisites.output("pkg-config", "--modversion", "libdpdk");
    boolean l3fwdWanted = dutSystems.contains(DutSystem.L3FWD);
    boolean needBuild =
        l3fwdWanted
            && !(Files.isExecutable(l3fwdCache.resolve("l3fwd/build/l3fwd-shared"))
                && Files.exists(l3fwdCache.resolve("build-key.txt")));
    Prerequisites.waitForHugepages(minFreeHugepages, 120, err);
    List<String> problems =
        Prerequisites.check(
            minFreeHugepages,
            needBuild,
            dutSystems.stream().anyMatch(DutSystem::flatnet),
            dataplaneCp,
            dutCpu,
            genCpu);
    if (profile && DutProfile.perfBinary() == null) {
      problems = new ArrayList<>(problems);
      problems.add("--profile needs perf: apt-get install linux-perf");
    }
    if (!problems.isEmpty()) {
      err.println("flatnet bench e2e: cannot run:");
      problems.forEach(p -> err.println("  - " + p));
      return 4;
    }
    Commands.Pktgen pktgen = null;
    if (generator.equals("pktgen")) {
      try {
        pktgen = new Commands.Pktgen(findPktgen(pktgenPath).toString(), pktgenRate);
      } catch (IllegalStateException e) {
        err.println("flatnet bench e2e: cannot run: " + e.getMessage());
        return 4;
      }
    }
    Path l3fwd = null;
    if (l3fwdWanted) {
      try {
        l3fwd = L3fwdBuild.ensure(l3fwdCache, dpdkVersion == null ? "?" : dpdkVersion, err);
      } catch (IOException | IllegalStateException e) {
        err.println("flatnet bench e2e: " + e.getMessage());
        return 4;
      }
    }
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    RouteSet routes = RouteSet.standard();
    RouteSet checkRoutes = RouteSet.check();
    String started = OffsetDateTime.now().withNano(0).toString();
    Path scratch = Files.createTempDirectory(Path.of("/tmp"), "flatnet-e2e-");
    String flatnetCp = "";
    String genCp = "";
    String nodeDataplaneCp = "";
    String nodeAgentCp = "";
    try {
      if (dutSystems.stream().anyMatch(DutSystem::flatnet)) {
        flatnetCp = snapshotClasspath(repo, dataplaneCp, scratch.resolve("flatnet-cp"));
      }
      if (dutSystems.stream().anyMatch(DutSystem::node)) {
        nodeDataplaneCp = snapshotModule(repo, "dataplane-process", scratch.resolve("node-dp-cp"));
        nodeAgentCp = snapshotModule(repo, "agent", scratch.resolve("node-agent-cp"));
      }
      // flatnet's generator: the search, the fixed-rate trial, the IMIX, and every trial of a
      // node system (it answers the node's ARP).
      if (searchSteps > 0
          || fixedRateFraction > 0
          || frameSizes.contains(FrameSize.IMIX)
          || dutSystems.stream().anyMatch(DutSystem::node)) {
        genCp =
            snapshotEntries(
                List.of(System.getProperty("java.class.path").split(":")),
                scratch.resolve("gen-cp"));
      }
    } catch (IOException e) {
      Processes.deleteTree(scratch);
      err.println("flatnet bench e2e: cannot copy the classpaths: " + e.getMessage());
      return 4;
    }
    Commands commands =
        new Commands(
            Prerequisites.onPath("dpdk-testpmd").toString(),
            l3fwd,
            javaBin,
            flatnetCp,
            genCp,
            dutCpu,
            genCpu,
            warmupSeconds + 2, // the generator starts a second or two after the links are up
            generatorCommand,
            pktgen,
            new Commands.PolicyBench(
                policyPods, policyRules, policyChurnMillis, 0, routeChurnPerSecond));
    TrialRunner.SearchConfig searchConfig =
        new TrialRunner.SearchConfig(
            searchTrialSeconds * 1000L,
            searchSteps,
            searchLowFraction,
            0.01,
            lossTolerance,
            loads,
            latencyTrialSeconds * 1000L,
            probesPerSecond);
    TrialRunner.SearchConfig fixedConfig =
        new TrialRunner.SearchConfig(
            searchTrialSeconds * 1000L,
            1,
            searchLowFraction,
            0.01,
            lossTolerance,
            new double[0],
            latencyTrialSeconds * 1000L,
            probesPerSecond);
    boolean fixedRate = fixedRateFraction > 0;
    String stem =
        "e2e-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
    Path logDir = repo.resolve("perf/target/e2e-logs").resolve(stem);
    List<TrialResult> checks = new ArrayList<>();
    List<TrialResult> trials = new ArrayList<>();
    List<SearchResult> searches = new ArrayList<>();
    try (Processes processes = new Processes(scratch)) {
      TrialRunner runner =
          new TrialRunner(processes, commands, scratch, logDir, err)
              .withNode(nodeDataplaneCp, nodeAgentCp, nodeAgentCpu)
              .withProfile(profile);
      if (checkSeconds > 0) {
        for (DutSystem s : dutSystems) {
          if (s.routes() && s != DutSystem.FLATNET_CUT) {
            err.printf(Locale.ROOT, "routing check: %s, routes %s ...%n", s.label(), checkRoutes);
            TrialResult t = runner.run(0, s, 64, checkRoutes, 2, checkSeconds);
            checks.add(t);
            progress(err, t);
          }
        }
      }
      for (int r = 1; r <= rounds; r++) {
        for (int size : frameSizes) {
          double reference = Double.NaN; // the round's first system's rate (--fixed-rate-fraction)
          for (DutSystem s : dutSystems) {
            if (processes.closed()) {
              return 1;
            }
            TrialResult t = runner.run(r, s, size, routes, warmupSeconds, trialSeconds);
            trials.add(t);
            progress(err, t);
            if (s == dutSystems.getFirst() && t.ok()) {
              reference = t.mpps();
            }
            if ((searchSteps > 0 || fixedRate)
                && !processes.closed()
                && s != DutSystem.FLATNET_CUT) {
              double upper =
                  !fixedRate
                      ? t.mpps()
                      : fixedRateFraction * (reference > 0 ? reference : t.mpps());
              SearchResult sr =
                  runner.runSearch(
                      r,
                      s,
                      size,
                      routes,
                      warmupSeconds,
                      upper,
                      fixedRate ? fixedConfig : searchConfig);
              searches.add(sr);
              progress(err, sr);
            }
          }
        }
      }
    }
    Report.Setup setup =
        new Report.Setup(
            rounds,
            trialSeconds,
            warmupSeconds,
            frameSizes,
            dutSystems,
            dutCpu,
            genCpu,
            lossTolerance,
            routes,
            checkRoutes,
            searchSteps,
            searchTrialSeconds,
            searchLowFraction,
            loads,
            latencyTrialSeconds,
            probesPerSecond,
            generatorCommand,
            pktgen == null ? null : pktgen.binary(),
            pktgen == null ? Double.NaN : pktgen.ratePercent(),
            host(dpdkVersion),
            commandLines(commands, dutSystems, routes),
            started,
            fixedRateFraction,
            routeChurnPerSecond);
    Report report = new Report(setup, trials, checks, searches);
    List<String> notes = new ArrayList<>();
    if (fixedRate) {
      notes.add(
          String.format(
              Locale.ROOT,
              "--fixed-rate-fraction %.3f: each search session is one paced trial at that fraction"
                  + " of the round's first system's offered-load rate (searches[].steps[0]);"
                  + " zero_loss_mpps is that rate if it lost nothing, else 0",
              fixedRateFraction));
    }
    if (frameSizes.contains(FrameSize.IMIX)) {
      notes.add(
          "imix: 64, 570 and 1518 B frames 7:4:1 (mean 353.83 B), interleaved in a 12-packet"
              + " pattern; its offered-load trials are driven by flatnet's own generator sending"
              + " unpaced (testpmd flowgen sends one length), the other sizes' by testpmd flowgen;"
              + " gbps = Mpps x (mean frame + 20 B preamble and gap) x 8");
    }
    notes.add(
        "Only ratios within one run count: this machine's speed changes from minute to minute"
            + " (other builds, CPU steal).");
    notes.add("logs of the last run: " + logDir);
    String finished = OffsetDateTime.now().withNano(0).toString();
    String jsonText = report.json(finished, notes);
    List<String> written = new ArrayList<>();
    if (!noResults) {
      Path dir = resultsDir != null ? resultsDir : repo.resolve("perf/results");
      Files.createDirectories(dir);
      Path jsonFile = dir.resolve(stem + ".json");
      Files.writeString(jsonFile, jsonText + "\n", StandardCharsets.UTF_8);
      written.add(jsonFile.toString());
      Path png = dir.resolve(stem + ".png");
      try {
        BarChart.write(
            png,
            "flatnet bench e2e: Mpps by frame size (" + rounds + " rounds, " + started + ")",
            report.ratioLine(),
            frameSizes.stream().map(FrameSize::display).toList(),
            report.chartNotes(),
            dutSystems.stream().map(DutSystem::label).toList(),
            report.chartData());
        written.add(png.toString());
      } catch (IOException | RuntimeException | Error e) {
        err.println("flatnet bench e2e: chart not written: " + e);
      }
      if (!searches.isEmpty()) {
        Path cdf = dir.resolve(stem + "-latency.png");
        try {
          if (LatencyCdfChart.write(
              cdf,
              "flatnet bench e2e: latency CDF at % of each system's zero-loss rate ("
                  + started
                  + ")",
              report.latencyLine(),
              report.cdfSeries())) {
            written.add(cdf.toString());
          }
        } catch (IOException | RuntimeException | Error e) {
          err.println("flatnet bench e2e: latency chart not written: " + e);
        }
      }
    }
    if (json) {
      System.out.println(jsonText);
    } else {
      System.out.print(report.table());
      if (!written.isEmpty()) {
        System.out.println("results: " + String.join(", ", written));
      }
    }
    if (json && !written.isEmpty()) {
      err.println("results: " + String.join(", ", written));
    }
    return report.allPassed() ? 0 : 1;
  }

  private static void progress(PrintStream err, SearchResult s) {
    if (s.ok()) {
      StringBuilder lat = new StringBuilder();
      for (SearchResult.LatencyPoint p : s.latency()) {
        var h = p.trial().latency();
        lat.append(
            String.format(
                Locale.ROOT,
                "  p99@%d%% %s us",
                Math.round(p.load() * 100),
                h == null
                    ? "-"
                    : String.format(Locale.ROOT, "%.1f", h.getValueAtPercentile(99) / 1e3)));
      }
      err.printf(
          Locale.ROOT,
          "round %d %6s %-11s zero-loss %6.2f Mpps (bounds %.2f..%.2f)%s%n",
          s.round(),
          FrameSize.display(s.frameBytes()),
          s.system().label(),
          s.zeroLossMpps(),
          s.lowerMpps(),
          s.upperMpps(),
          lat);
    } else {
      err.printf(
          Locale.ROOT,
          "round %d %6s %-11s search FAILED: %s%n",
          s.round(),
          FrameSize.display(s.frameBytes()),
          s.system().label(),
          s.error());
    }
  }

  private static void progress(PrintStream err, TrialResult t) {
    String what = t.round() == 0 ? "check  " : "round " + t.round();
    if (t.ok()) {
      err.printf(
          Locale.ROOT,
          "%s %6s %-11s %6.2f Mpps  loss %.3f%%  port-0 share %.3f%n",
          what,
          FrameSize.display(t.frameBytes()),
          t.system().label(),
          t.mpps(),
          t.window().lossFraction() * 100,
          t.window().port0Share());
      if (!t.dutProfile().isEmpty()) {
        err.println("        DUT CPU a packet: " + DutProfile.line(t.dutProfile(), t.mpps()));
      }
    } else {
      err.printf(
          Locale.ROOT,
          "%s %6s %-11s FAILED: %s%n",
          what,
          FrameSize.display(t.frameBytes()),
          t.system().label(),
          t.error());
    }
  }

  private static Map<String, String> commandLines(
      Commands c, List<DutSystem> systems, RouteSet routes) {
    Map<String, String> m = new LinkedHashMap<>();
    Path s0 = Path.of("/tmp/flatnet-e2e-X/tN/p0.sock");
    Path s1 = Path.of("/tmp/flatnet-e2e-X/tN/p1.sock");
    if (c.pktgen() != null) {
      m.put(
          "generator",
          String.join(" ", c.pktgenGenerator(s0, s1, Path.of("/tmp/flatnet-e2e-X/tN/pktgen.lua"))));
      m.put("routing_check_generator", String.join(" ", c.generator(s0, s1, 64)));
    } else {
      m.put(
          "generator",
          c.generatorCommand() != null
              ? String.join(
                  " ", c.externalGenerator(s0, s1, Path.of("/tmp/flatnet-e2e-X/tN"), 64, 0))
              : String.join(" ", c.generator(s0, s1, 64)));
    }
    if (!c.genClasspath().isEmpty()) {
      m.put("search_generator", String.join(" ", c.javaGenerator(s0, s1, 64, routes)));
    }
    for (DutSystem s : systems) {
      m.put(
          s.label(),
          String.join(
              " ",
              c.dut(
                  s,
                  s0,
                  s1,
                  routes,
                  Path.of("/tmp/flatnet-e2e-X/tN/rules_v4.cfg"),
                  Path.of("/tmp/flatnet-e2e-X/tN/rules_v6.cfg"),
                  Path.of("/tmp/flatnet-e2e-X/tN/run"))));
    }
    return m;
  }

  /**
   * The pktgen binary: {@code given}, or pktgen on PATH; and script(1), which gives it a terminal.
   *
   * @throws IllegalStateException naming what is missing and how to get it
   */
  static Path findPktgen(Path given) {
    Path p = given != null ? given : Prerequisites.onPath("pktgen");
    String how =
        "build Pktgen-DPDK 23.06.1 with perf/pktgen/build-pktgen.sh (docs/benchmarking.md) and"
            + " give --pktgen PATH or put pktgen on PATH";
    if (p == null) {
      throw new IllegalStateException("no pktgen on PATH; " + how);
    }
    if (!Files.isExecutable(p)) {
      throw new IllegalStateException(p + " is not an executable file; " + how);
    }
    if (Prerequisites.onPath("script") == null) {
      throw new IllegalStateException(
          "script(1) not on PATH (pktgen needs a terminal): apt-get install util-linux");
    }
    return p.toAbsolutePath();
  }

  private static Map<String, String> host(String dpdkVersion) {
    Map<String, String> h = new LinkedHashMap<>();
    h.put("cpus", Integer.toString(Runtime.getRuntime().availableProcessors()));
    h.put("cpu_model", cpuModel());
    h.put("kernel", System.getProperty("os.version"));
    h.put("java", System.getProperty("java.runtime.version"));
    h.put("dpdk", dpdkVersion == null ? "unknown" : dpdkVersion);
    return h;
  }

  private static String cpuModel() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"), StandardCharsets.UTF_8)) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).strip();
        }
      }
    } catch (IOException e) {
      // fall through
    }
    return "unknown";
  }

  /**
   * Copies flatnet's classes and jars into the scratch directory and returns a classpath of the
   * copies: other builds in the same checkout (mvn package rewrites target/) cannot then change or
   * remove them in the middle of a run, and every flatnet trial runs the same code.
   */
  static String snapshotClasspath(Path repo, Path classpathFile, Path into) throws IOException {
    List<String> entries = new ArrayList<>();
    entries.add(repo.resolve("dataplane/target/classes").toString());
    entries.addAll(
        List.of(Files.readString(classpathFile, StandardCharsets.UTF_8).strip().split(":")));
    return snapshotEntries(entries, into);
  }

  /** A module's classes and its dependencies' jars (target/classpath.txt), copied as above. */
  static String snapshotModule(Path repo, String module, Path into) throws IOException {
    Path target = repo.resolve(module).resolve("target");
    List<String> entries = new ArrayList<>();
    entries.add(target.resolve("classes").toString());
    entries.addAll(
        List.of(
            Files.readString(target.resolve("classpath.txt"), StandardCharsets.UTF_8)
                .strip()
                .split(":")));
    return snapshotEntries(entries, into);
  }

  /** Copies classpath entries (directories or jars) and returns a classpath of the copies. */
  static String snapshotEntries(List<String> entries, Path into) throws IOException {
    Files.createDirectories(into);
    List<String> copies = new ArrayList<>();
    int i = 0;
    for (String e : entries) {
      if (e.isBlank()) {
        continue;
      }
      Path from = Path.of(e.strip());
      if (!Files.exists(from)) {
        continue;
      }
      Path to = into.resolve(i++ + "-" + from.getFileName());
      if (Files.isDirectory(from)) {
        try (var paths = Files.walk(from)) {
          for (Path p : (Iterable<Path>) paths::iterator) {
            Path t = to.resolve(from.relativize(p).toString());
            if (Files.isDirectory(p)) {
              Files.createDirectories(t);
            } else {
              Files.copy(p, t);
            }
          }
        }
      } else {
        Files.copy(from, to);
      }
      copies.add(to.toString());
    }
    return String.join(":", copies);
  }

  /** The checkout: three levels above perf/target/classes (or the jar in perf/target). */
  public static Path findRoot() throws URISyntaxException {
    Path here =
        Path.of(E2eCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    for (Path p = here; p != null; p = p.getParent()) {
      if (Files.exists(p.resolve("perf/pom.xml")) && Files.exists(p.resolve("pom.xml"))) {
        return p;
      }
    }
    return Path.of("").toAbsolutePath();
  }
}
