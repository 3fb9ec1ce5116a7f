package io.flatnet.perf.e2e;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.flatnet.perf.BenchJson;
import io.flatnet.perf.gen.GenTrial;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.HdrHistogram.Histogram;

/**
 * Everything one {@code bench e2e} run measured, and the two ways it is shown: a terminal table and
 * one JSON object.
 */
public final class Report {

  /** A ratio of two systems' rates, per round. */
  public record Ratio(String name, double[] perRound, Stats.Summary summary) {}

  /** One system at one frame size over the rounds. */
  public record SystemRow(
      DutSystem system,
      double[] perRoundMpps,
      Stats.Summary mpps,
      Stats.Summary loss,
      Stats.Summary port0Share,
      boolean zeroLossAtFullRate) {}

  /** The routing check of one DUT. */
  public record Check(
      DutSystem system, double port0Share, double dutTxShare, double expected, boolean pass) {}

  /** Run parameters and environment, for the header and the JSON. */
  public record Setup(
      int rounds,
      int trialSeconds,
      int warmupSeconds,
      List<Integer> sizes,
      List<DutSystem> systems,
      int dutCpu,
      int genCpu,
      double lossTolerance,
      RouteSet routes,
      RouteSet checkRoutes,
      int searchSteps,
      int searchTrialSeconds,
      double searchLowFraction,
      double[] latencyLoads,
      int latencyTrialSeconds,
      long probesPerSecond,
      String generatorCommand,
      String pktgen,
      double pktgenRatePercent,
      Map<String, String> host,
      Map<String, String> commands,
      String started,
      double fixedRateFraction,
      int routeChurnPerSecond) {}

  private final Setup setup;
  private final List<TrialResult> trials;
  private final List<TrialResult> checkTrials;
  private final List<SearchResult> searches;

  public Report(
      Setup setup,
      List<TrialResult> trials,
      List<TrialResult> checkTrials,
      List<SearchResult> searches) {
    this.setup = setup;
    this.trials = List.copyOf(trials);
    this.checkTrials = List.copyOf(checkTrials);
    this.searches = List.copyOf(searches);
  }

  /** Per-round zero-loss rates of {@code system} at {@code size} (NaN: failed or not run). */
  double[] zeroLossPerRound(DutSystem system, int size) {
    double[] v = new double[setup.rounds()];
    java.util.Arrays.fill(v, Double.NaN);
    for (SearchResult r : searches) {
      if (r.system() == system && r.frameBytes() == size && r.round() >= 1 && r.ok()) {
        v[r.round() - 1] = r.zeroLossMpps();
      }
    }
    return v;
  }

  /** Per-round latency percentile (microseconds) at {@code load}; NaN where missing. */
  double[] latencyPerRound(DutSystem system, int size, double load, double percentile) {
    double[] v = new double[setup.rounds()];
    java.util.Arrays.fill(v, Double.NaN);
    for (SearchResult r : searches) {
      if (r.system() == system && r.frameBytes() == size && r.round() >= 1 && r.ok()) {
        SearchResult.LatencyPoint p = r.at(load);
        if (p != null && p.trial().latency() != null) {
          v[r.round() - 1] = p.trial().latency().getValueAtPercentile(percentile) / 1e3;
        }
      }
    }
    return v;
  }

  /** The latency histograms of all rounds at {@code load}, merged (null if none). */
  Histogram mergedLatency(DutSystem system, int size, double load) {
    Histogram merged = null;
    for (SearchResult r : searches) {
      if (r.system() == system && r.frameBytes() == size && r.ok()) {
        SearchResult.LatencyPoint p = r.at(load);
        if (p != null && p.trial().latency() != null) {
          if (merged == null) {
            merged = p.trial().latency().copy();
          } else {
            merged.add(p.trial().latency());
          }
        }
      }
    }
    return merged;
  }

  /** Latency figures of one system at one load, merged over the rounds. */
  public record LatencyRow(
      DutSystem system,
      double load,
      Stats.Summary rateMpps,
      long samples,
      double p50,
      double p99,
      double p999,
      double max,
      Stats.Summary p99PerRound,
      Stats.Summary loss) {}

  List<LatencyRow> latencyRows(int size) {
    List<LatencyRow> out = new ArrayList<>();
    for (DutSystem s : setup.systems()) {
      for (double load : setup.latencyLoads()) {
        Histogram h = mergedLatency(s, size, load);
        List<SearchResult.LatencyPoint> points =
            searches.stream()
                .filter(r -> r.system() == s && r.frameBytes() == size && r.ok())
                .map(r -> r.at(load))
                .filter(java.util.Objects::nonNull)
                .toList();
        if (points.isEmpty()) {
          continue;
        }
        out.add(
            new LatencyRow(
                s,
                load,
                Stats.summarize(
                    points.stream().mapToDouble(SearchResult.LatencyPoint::rateMpps).toArray()),
                h == null ? 0 : h.getTotalCount(),
                h == null ? Double.NaN : h.getValueAtPercentile(50) / 1e3,
                h == null ? Double.NaN : h.getValueAtPercentile(99) / 1e3,
                h == null ? Double.NaN : h.getValueAtPercentile(99.9) / 1e3,
                h == null ? Double.NaN : h.getMaxValue() / 1e3,
                Stats.summarize(latencyPerRound(s, size, load, 99)),
                Stats.summarize(
                    points.stream().mapToDouble(p -> p.trial().lossFraction()).toArray())));
      }
    }
    return out;
  }

  /** Ratios of zero-loss rates per round, as {@link #ratios} does for the offered-load rates. */
  List<Ratio> zeroLossRatios(int size) {
    List<Ratio> out = new ArrayList<>();
    for (DutSystem[] p : PAIRS) {
      if (setup.systems().contains(p[0]) && setup.systems().contains(p[1])) {
        double[] r = Stats.ratios(zeroLossPerRound(p[0], size), zeroLossPerRound(p[1], size));
        if (Stats.summarize(r).count() > 0) {
          out.add(new Ratio(p[0].label() + "/" + p[1].label(), r, Stats.summarize(r)));
        }
      }
    }
    return out;
  }

  /**
   * Per-round ratios of p99 latencies at each load (same load fraction of each one's zero-loss
   * rate): flatnet's to l3fwd's, and a busy or restarted agent's node to the quiet node.
   */
  List<Ratio> p99Ratios(int size) {
    List<Ratio> out = new ArrayList<>();
    for (DutSystem[] p : P99_PAIRS) {
      if (setup.systems().contains(p[0]) && setup.systems().contains(p[1])) {
        for (double load : setup.latencyLoads()) {
          double[] r =
              Stats.ratios(
                  latencyPerRound(p[0], size, load, 99), latencyPerRound(p[1], size, load, 99));
          out.add(
              new Ratio(
                  f("p99 %s/%s at %d%%", p[0].label(), p[1].label(), Math.round(load * 100)),
                  r,
                  Stats.summarize(r)));
        }
      }
    }
    return out;
  }

  /** The p99 ratios of {@link #p99Ratios}: flatnet/l3fwd's only. */
  private List<Ratio> flatnetL3fwdP99Ratios(int size) {
    return p99Ratios(size).stream().filter(r -> r.name().startsWith("p99 flatnet/l3fwd")).toList();
  }

  private static final DutSystem[][] P99_PAIRS = {
    {DutSystem.FLATNET, DutSystem.L3FWD},
    {DutSystem.FLATNET_AGENTCHURN, DutSystem.FLATNET_NODE},
    {DutSystem.FLATNET_AGENTRESTART, DutSystem.FLATNET_NODE}
  };

  private static final DutSystem[][] PAIRS = {
    {DutSystem.FLATNET, DutSystem.L3FWD},
    {DutSystem.FLATNET, DutSystem.TESTPMD_IO},
    {DutSystem.L3FWD, DutSystem.TESTPMD_IO},
    {DutSystem.FLATNET_POLICY, DutSystem.FLATNET},
    {DutSystem.FLATNET_CHURN, DutSystem.FLATNET},
    {DutSystem.FLATNET_NEWFLOW, DutSystem.FLATNET},
    {DutSystem.FLATNET_CHURN, DutSystem.FLATNET_POLICY},
    {DutSystem.FLATNET_ROUTECHURN, DutSystem.FLATNET},
    {DutSystem.FLATNET_NODE, DutSystem.L3FWD},
    {DutSystem.FLATNET_NODE, DutSystem.FLATNET},
    {DutSystem.FLATNET_AGENTCHURN, DutSystem.FLATNET_NODE},
    {DutSystem.FLATNET_AGENTRESTART, DutSystem.FLATNET_NODE},
    {DutSystem.FLATNET_CAPTURE1, DutSystem.FLATNET},
    {DutSystem.FLATNET_CAPTURE10, DutSystem.FLATNET},
    {DutSystem.FLATNET_CAPTURE100, DutSystem.FLATNET}
  };

  /** Search sessions of routing DUTs in which packets came back on the wrong port. */
  List<SearchResult> misroutedSessions() {
    return searches.stream().filter(r -> r.system().routes() && r.misrouted() > 0).toList();
  }

  /** Per-round Mpps of {@code system} at {@code size} (NaN for a failed or missing round). */
  double[] perRound(DutSystem system, int size) {
    double[] v = new double[setup.rounds()];
    java.util.Arrays.fill(v, Double.NaN);
    for (TrialResult t : trials) {
      if (t.system() == system && t.frameBytes() == size && t.round() >= 1) {
        v[t.round() - 1] = t.mpps();
      }
    }
    return v;
  }

  List<SystemRow> rows(int size) {
    List<SystemRow> rows = new ArrayList<>();
    for (DutSystem s : setup.systems()) {
      List<TrialResult> ts =
          trials.stream().filter(t -> t.system() == s && t.frameBytes() == size && t.ok()).toList();
      double[] loss =
          ts.stream()
              .mapToDouble(t -> t.dutCounted() ? Double.NaN : t.window().lossFraction())
              .toArray();
      double[] share = ts.stream().mapToDouble(t -> t.window().port0Share()).toArray();
      boolean zeroLoss =
          !ts.isEmpty()
              && ts.stream()
                  .allMatch(
                      t -> !t.dutCounted() && t.window().lossFraction() <= setup.lossTolerance());
      double[] pr = perRound(s, size);
      rows.add(
          new SystemRow(
              s, pr, Stats.summarize(pr), Stats.summarize(loss), Stats.summarize(share), zeroLoss));
    }
    return rows;
  }

  /** Pktgen-DPDK's own figures of one system at one frame size, per round (NaN where missing). */
  public record PktgenRow(
      DutSystem system,
      double[] latencyAvgMicros,
      double[] latencyMaxMicros,
      double[] lossFraction,
      double[] warmupLatencyMaxMicros,
      double[] warmupLossFraction,
      long probes,
      long probesSkipped,
      long missed,
      long errors) {}

  /** Whether Pktgen-DPDK was the offered-load generator. */
  boolean pktgen() {
    return setup.pktgen() != null;
  }

  List<PktgenRow> pktgenRows(int size) {
    List<PktgenRow> out = new ArrayList<>();
    for (DutSystem s : setup.systems()) {
      double[] avg = nanArray(setup.rounds());
      double[] max = nanArray(setup.rounds());
      double[] loss = nanArray(setup.rounds());
      double[] warm = nanArray(setup.rounds());
      double[] warmLoss = nanArray(setup.rounds());
      long probes = 0;
      long skipped = 0;
      long missed = 0;
      long errors = 0;
      for (TrialResult t : trials) {
        if (t.system() == s && t.frameBytes() == size && t.round() >= 1 && t.pktgen() != null) {
          PktgenStats.Result p = t.pktgen();
          avg[t.round() - 1] = p.latencyAvgMicros();
          max[t.round() - 1] = p.latencyMaxMicros();
          loss[t.round() - 1] = t.window().lossFraction();
          warm[t.round() - 1] = p.warmupLatencyMaxMicros();
          warmLoss[t.round() - 1] = p.warmupLossFraction();
          probes += p.latencyPackets();
          skipped += p.latencySkipped();
          missed += p.missed();
          errors += p.errors();
        }
      }
      out.add(new PktgenRow(s, avg, max, loss, warm, warmLoss, probes, skipped, missed, errors));
    }
    return out;
  }

  /** Per-round ratios of pktgen's loss and latency figures, flatnet over the others. */
  List<Ratio> pktgenRatios(int size) {
    List<Ratio> out = new ArrayList<>();
    List<PktgenRow> rows = pktgenRows(size);
    for (DutSystem[] p : PAIRS) {
      PktgenRow a = rows.stream().filter(r -> r.system() == p[0]).findFirst().orElse(null);
      PktgenRow b = rows.stream().filter(r -> r.system() == p[1]).findFirst().orElse(null);
      if (a == null || b == null) {
        continue;
      }
      String pair = p[0].label() + "/" + p[1].label();
      double[] loss = Stats.ratios(a.lossFraction(), b.lossFraction());
      double[] avg = Stats.ratios(a.latencyAvgMicros(), b.latencyAvgMicros());
      double[] max = Stats.ratios(a.latencyMaxMicros(), b.latencyMaxMicros());
      out.add(new Ratio("loss " + pair, loss, Stats.summarize(loss)));
      out.add(new Ratio("latency avg " + pair, avg, Stats.summarize(avg)));
      out.add(new Ratio("latency max " + pair, max, Stats.summarize(max)));
    }
    return out;
  }

  private static double[] nanArray(int n) {
    double[] v = new double[n];
    java.util.Arrays.fill(v, Double.NaN);
    return v;
  }

  List<Ratio> ratios(int size) {
    List<Ratio> out = new ArrayList<>();
    for (DutSystem[] p : PAIRS) {
      // A node's offered load is measured with flatnet's generator (it answers the node's ARP),
      // the others' with testpmd flowgen, which sends faster: no ratio across the two.
      if (p[0].node() != p[1].node() && !FrameSize.imix(size)) {
        continue;
      }
      if (setup.systems().contains(p[0]) && setup.systems().contains(p[1])) {
        double[] r = Stats.ratios(perRound(p[0], size), perRound(p[1], size));
        out.add(new Ratio(p[0].label() + "/" + p[1].label(), r, Stats.summarize(r)));
      }
    }
    return out;
  }

  /** The routing check: the share returned on port 0 must be near 0.25, not 0.5 (hairpin). */
  List<Check> checks() {
    double expected = setup.checkRoutes().expectedPort0Share();
    List<Check> out = new ArrayList<>();
    for (TrialResult t : checkTrials) {
      double share = t.ok() ? t.window().port0Share() : Double.NaN;
      out.add(
          new Check(
              t.system(), share, t.dutPort0TxShare(), expected, checkPasses(share, expected)));
    }
    return out;
  }

  /**
   * Whether a measured port-0 share shows routing: nearer the expected share than the 0.5 a
   * hairpinning or cross-connecting DUT gives, and not beyond 0.40. Loss pushes the share up from
   * 0.25 (the busier port's ring overflows first), hence the margin.
   */
  static boolean checkPasses(double share, double expected) {
    return Double.isFinite(share)
        && Math.abs(share - expected) < Math.abs(share - 0.5)
        && share <= 0.40
        && share >= expected - 0.10;
  }

  /**
   * Whether every trial and search ran, every routing check passed and no routing DUT sent
   * flatnet's generator a packet back on the wrong port.
   */
  public boolean allPassed() {
    return trials.stream().allMatch(TrialResult::ok)
        && checkTrials.stream().allMatch(TrialResult::ok)
        && checks().stream().allMatch(Check::pass)
        && searches.stream().allMatch(SearchResult::ok)
        && misroutedSessions().isEmpty();
  }

  private static String f(String format, Object... args) {
    return String.format(Locale.ROOT, format, args);
  }

  private static String num(double v, String format) {
    return Double.isFinite(v) ? f(format, v) : "-";
  }

  /** A CPU this busy before a trial means another process competes with the pollers. */
  static final double BUSY_THRESHOLD = 0.25;

  private static double busyOf(TrialResult t, int cpu) {
    return cpu < t.busyBefore().length ? t.busyBefore()[cpu] : Double.NaN;
  }

  private boolean startedBusy(TrialResult t) {
    return busyOf(t, setup.dutCpu()) > BUSY_THRESHOLD || busyOf(t, setup.genCpu()) > BUSY_THRESHOLD;
  }

  /** The width of the system column: the longest label run, at least 11. */
  private int sysW() {
    return Math.max(11, setup.systems().stream().mapToInt(s -> s.label().length()).max().orElse(0));
  }

  /** The terminal table. */
  public String table() {
    StringBuilder sb = new StringBuilder();
    int roundsWidth = Math.max(9, Math.min(60, setup.rounds() * 6));
    sb.append(
        f(
            "flatnet bench e2e: %d rounds x %d s (after %d s warm-up) per system, ABC order; generator"
                + " %s on CPU %d, DUT on CPU %d%n",
            setup.rounds(),
            setup.trialSeconds(),
            setup.warmupSeconds(),
            pktgen()
                ? (setup.pktgenRatePercent() < 100
                    ? f("Pktgen-DPDK at %s%% of 10 Gb/s a port", setup.pktgenRatePercent())
                    : "Pktgen-DPDK")
                : setup.generatorCommand() == null ? "testpmd flowgen" : "--generator-command",
            setup.genCpu(),
            setup.dutCpu()));
    sb.append(
        (pktgen()
                ? "offered load: Mpps = packets pktgen received (both ports), mean of its 1 s RX"
                    + " rates; loss = its TX minus RX since the clear after the"
                    + " warm-up, over TX; routes "
                : setup.generatorCommand() == null
                    ? "offered load: Mpps = packets returned to the generator (both ports), mean of"
                        + " testpmd's 1 s RX rates at full speed; routes "
                    : "offered load: Mpps = the DUT's own TX rate (its counters; loss unknown);"
                        + " routes ")
            + setup.routes()
            + "\n\n");
    sb.append(
        f(
            "%-6s %-" + sysW() + "s %7s %15s  %-" + roundsWidth + "s %8s %7s %7s%n",
            "frame",
            "system",
            "Mpps",
            "min..max",
            "per round",
            "loss",
            "port0",
            "Gbit/s"));
    for (int size : setup.sizes()) {
      for (SystemRow r : rows(size)) {
        StringBuilder rounds = new StringBuilder();
        for (double v : r.perRoundMpps()) {
          rounds.append(rounds.isEmpty() ? "" : " ").append(num(v, "%.2f"));
        }
        String pr = rounds.toString();
        if (pr.length() > roundsWidth) {
          pr = pr.substring(0, roundsWidth - 3) + "...";
        }
        sb.append(
            f(
                "%-6s %-" + sysW() + "s %7s %15s  %-" + roundsWidth + "s %8s %7s %7s%n",
                FrameSize.display(size),
                r.system().label(),
                num(r.mpps().median(), "%.2f"),
                num(r.mpps().min(), "%.2f") + ".." + num(r.mpps().max(), "%.2f"),
                pr,
                num(r.loss().median() * 100, "%.3f%%"),
                num(r.port0Share().median(), "%.3f"),
                num(FrameSize.l1Gbps(r.mpps().median(), size), "%.2f")));
      }
    }
    sb.append("\nratios (median of per-round ratios, min..max):\n");
    for (int size : setup.sizes()) {
      StringBuilder line = new StringBuilder(f("%-6s", FrameSize.display(size)));
      for (Ratio r : ratios(size)) {
        line.append(
            f(
                "  %s %s (%s..%s)",
                r.name(),
                num(r.summary().median(), "%.3f"),
                num(r.summary().min(), "%.3f"),
                num(r.summary().max(), "%.3f")));
      }
      sb.append(line).append('\n');
    }
    bySizeTable(sb);
    if (pktgen()) {
      pktgenTable(sb);
    }
    List<Check> checks = checks();
    if (!checks.isEmpty()) {
      sb.append(
          f(
              "%nrouting check (64 B, routes %s): a router returns %.2f of the packets on port 0,"
                  + " a hairpinning DUT 0.50%n",
              setup.checkRoutes(), checks.getFirst().expected()));
      for (Check c : checks) {
        sb.append(
            f(
                "  %-8s port-0 share of returned packets %s%s  %s%n",
                c.system().label(),
                num(c.port0Share(), "%.3f"),
                Double.isFinite(c.dutTxShare())
                    ? f(", of the DUT's own TX %.3f", c.dutTxShare())
                    : "",
                c.pass() ? "PASS" : "FAIL"));
      }
    } else {
      sb.append("\nrouting check: skipped\n");
    }
    sb.append("\nzero-loss at full offered rate (loss <= ")
        .append(num(setup.lossTolerance() * 100, "%.4f"))
        .append("% in every round):");
    for (int size : setup.sizes()) {
      for (SystemRow r : rows(size)) {
        sb.append(
            f(
                " %s/%s %s",
                r.system().label(),
                FrameSize.display(size),
                r.zeroLossAtFullRate() ? "yes" : "no"));
      }
    }
    sb.append('\n');
    workerHealth(sb);
    routeChurnFigures(sb);
    policyFigures(sb);
    captureFigures(sb);
    searchTable(sb);
    List<TrialResult> all = concat(checkTrials, trials);
    long busy = all.stream().filter(this::startedBusy).count();
    if (busy > 0) {
      double worst =
          all.stream()
              .mapToDouble(t -> Math.max(busyOf(t, setup.dutCpu()), busyOf(t, setup.genCpu())))
              .filter(Double::isFinite)
              .max()
              .orElse(Double.NaN);
      sb.append(
          f(
              "noisy machine: %d of %d trials started with CPU %d or %d more than %.0f%% busy with"
                  + " other processes (worst %.0f%%); their figures are low and the spread wide%n",
              busy, all.size(), setup.dutCpu(), setup.genCpu(), BUSY_THRESHOLD * 100, worst * 100));
    }
    long failed =
        trials.stream().filter(t -> !t.ok()).count()
            + checkTrials.stream().filter(t -> !t.ok()).count();
    if (failed > 0) {
      sb.append(f("FAILED trials: %d (see errors in the JSON and the logs)%n", failed));
    }
    return sb.toString();
  }

  private void pktgenTable(StringBuilder sb) {
    sb.append(
        f(
            "%npktgen's own figures (probes every %d us a port; latency = probe TSC stamp to its"
                + " receipt, both rings and the DUT; avg: median of rounds, max: largest of any"
                + " round):%n",
            TrialRunner.PKTGEN_LATENCY_MICROS));
    sb.append(
        f(
            "%-6s %-" + sysW() + "s %9s %9s %10s  %-30s %11s %11s %9s %8s %7s%n",
            "frame",
            "system",
            "loss",
            "lat avg",
            "lat max",
            "max per round (us)",
            "warm-up max",
            "warm-up loss",
            "probes",
            "skipped",
            "missed"));
    for (int size : setup.sizes()) {
      for (PktgenRow r : pktgenRows(size)) {
        StringBuilder rounds = new StringBuilder();
        for (double v : r.latencyMaxMicros()) {
          rounds.append(rounds.isEmpty() ? "" : " ").append(num(v, "%.0f"));
        }
        String pr = rounds.toString();
        if (pr.length() > 30) {
          pr = pr.substring(0, 27) + "...";
        }
        sb.append(
            f(
                "%-6s %-" + sysW() + "s %9s %9s %10s  %-30s %11s %11s %9d %8d %7d%n",
                FrameSize.display(size),
                r.system().label(),
                num(Stats.summarize(r.lossFraction()).median() * 100, "%.3f%%"),
                num(Stats.summarize(r.latencyAvgMicros()).median(), "%.1f"),
                num(Stats.summarize(r.latencyMaxMicros()).max(), "%.1f"),
                pr,
                num(Stats.summarize(r.warmupLatencyMaxMicros()).max(), "%.1f"),
                num(Stats.summarize(r.warmupLossFraction()).median() * 100, "%.3f%%"),
                r.probes(),
                r.probesSkipped(),
                r.missed()));
      }
      StringBuilder line = new StringBuilder(f("%-6s", FrameSize.display(size)));
      for (Ratio r : pktgenRatios(size)) {
        if (r.name().contains("flatnet/")) {
          line.append(f("  %s %s", r.name(), num(r.summary().median(), "%.2f")));
        }
      }
      sb.append(line).append('\n');
    }
  }

  private void searchTable(StringBuilder sb) {
    if (searches.isEmpty()) {
      sb.append("zero-loss search and latency: skipped (--search-steps 0)\n");
      return;
    }
    sb.append(
        f(
            "%nzero-loss rate (RFC 2544 binary search with flatnet's generator: up to %d trials of %d"
                + " s, loss <= %s, bounds %.2f..1 x the round's offered-load rate):%n",
            setup.searchSteps(),
            setup.searchTrialSeconds(),
            f("%.6f%%", setup.lossTolerance() * 100),
            setup.searchLowFraction()));
    sb.append(
        f(
            "%-6s %-" + sysW() + "s %10s %15s  %-30s %9s%n",
            "frame",
            "system",
            "zero-loss",
            "min..max",
            "per round (Mpps)",
            "gen-full"));
    for (int size : setup.sizes()) {
      for (DutSystem s : setup.systems()) {
        double[] pr = zeroLossPerRound(s, size);
        Stats.Summary sum = Stats.summarize(pr);
        StringBuilder rounds = new StringBuilder();
        for (double v : pr) {
          rounds.append(rounds.isEmpty() ? "" : " ").append(num(v, "%.2f"));
        }
        double[] full =
            searches.stream()
                .filter(r -> r.system() == s && r.frameBytes() == size && r.warmup() != null)
                .mapToDouble(r -> r.warmup().returnedMpps())
                .toArray();
        sb.append(
            f(
                "%-6s %-" + sysW() + "s %10s %15s  %-30s %9s%n",
                FrameSize.display(size),
                s.label(),
                num(sum.median(), "%.2f"),
                num(sum.min(), "%.2f") + ".." + num(sum.max(), "%.2f"),
                rounds,
                num(Stats.summarize(full).median(), "%.2f")));
      }
      for (Ratio r : zeroLossRatios(size)) {
        sb.append(
            f(
                "       zero-loss %s %s (%s..%s)%n",
                r.name(),
                num(r.summary().median(), "%.3f"),
                num(r.summary().min(), "%.3f"),
                num(r.summary().max(), "%.3f")));
      }
    }
    sb.append(
        "gen-full: Mpps returned to flatnet's generator sending unpaced (its warm-up); a search"
            + " is capped by it.\n");
    long limited = searches.stream().filter(SearchResult::generatorLimited).count();
    if (limited > 0) {
      sb.append(
          f(
              "generator-limited: in %d sessions flatnet's generator could not offer a rate it"
                  + " was asked for; those trials count as failed, so the zero-loss rate there is"
                  + " a lower bound%n",
              limited));
    }
    sb.append(
        f(
            "%nlatency (us, probe send to receive through the DUT, %d probes/s, %d s per load),"
                + " at %% of each system's own zero-loss rate, rounds merged:%n",
            setup.probesPerSecond(), setup.latencyTrialSeconds()));
    sb.append(
        f(
            "%-6s %-" + sysW() + "s %5s %8s %9s %8s %8s %8s %9s %8s%n",
            "frame",
            "system",
            "load",
            "Mpps",
            "samples",
            "p50",
            "p99",
            "p99.9",
            "max",
            "loss"));
    for (int size : setup.sizes()) {
      for (LatencyRow r : latencyRows(size)) {
        sb.append(
            f(
                "%-6s %-" + sysW() + "s %4d%% %8s %9d %8s %8s %8s %9s %8s%n",
                FrameSize.display(size),
                r.system().label(),
                Math.round(r.load() * 100),
                num(r.rateMpps().median(), "%.2f"),
                r.samples(),
                num(r.p50(), "%.1f"),
                num(r.p99(), "%.1f"),
                num(r.p999(), "%.1f"),
                num(r.max(), "%.1f"),
                num(r.loss().max() * 100, "%.3f%%")));
      }
      for (Ratio r : p99Ratios(size)) {
        sb.append(
            f(
                "       %s: %s (%s..%s) median of per-round ratios%n",
                r.name(),
                num(r.summary().median(), "%.3f"),
                num(r.summary().min(), "%.3f"),
                num(r.summary().max(), "%.3f")));
      }
    }
    List<SearchResult> mis = misroutedSessions();
    if (!mis.isEmpty()) {
      for (SearchResult r : mis) {
        sb.append(
            f(
                "MISROUTED: %s round %d sent %d packets back on a port its routes do not lead"
                    + " to%n",
                r.system().label(), r.round(), r.misrouted()));
      }
    } else {
      sb.append(
          "routed ports (flatnet's generator): every packet a router returned came back on its"
              + " route's port\n");
    }
    long failed = searches.stream().filter(r -> !r.ok()).count();
    if (failed > 0) {
      sb.append(f("FAILED searches: %d (see errors in the JSON and the logs)%n", failed));
    }
  }

  /** One JSON object with every figure. */
  public String json(String finished, List<String> notes) {
    ObjectNode root = BenchJson.object();
    root.put("bench", "e2e").put("format", 1).put("started", setup.started());
    root.put("finished", finished).put("all_passed", allPassed());
    ObjectNode host = root.putObject("host");
    setup.host().forEach(host::put);
    ObjectNode config =
        root.putObject("config")
            .put("rounds", setup.rounds())
            .put("trial_seconds", setup.trialSeconds())
            .put("warmup_seconds", setup.warmupSeconds());
    ArrayNode frames = config.putArray("frames");
    setup.sizes().forEach(size -> frames.add(FrameSize.label(size)));
    config.put("fixed_rate_fraction", setup.fixedRateFraction());
    config.put("route_churn_per_second", setup.routeChurnPerSecond());
    ArrayNode systemLabels = config.putArray("systems");
    setup.systems().forEach(s -> systemLabels.add(s.label()));
    config
        .put("dut_cpu", setup.dutCpu())
        .put("gen_cpu", setup.genCpu())
        .put("loss_tolerance", setup.lossTolerance())
        .put("routes", setup.routes().toString())
        .put("check_routes", setup.checkRoutes().toString())
        .put("search_steps", setup.searchSteps())
        .put("search_trial_seconds", setup.searchTrialSeconds())
        .put("search_low_fraction", setup.searchLowFraction())
        .set("latency_loads", BenchJson.array(setup.latencyLoads()));
    config
        .put("latency_trial_seconds", setup.latencyTrialSeconds())
        .put("probes_per_second", setup.probesPerSecond())
        .put("generator_command", setup.generatorCommand())
        .put(
            "generator",
            pktgen() ? "pktgen" : setup.generatorCommand() == null ? "testpmd-flowgen" : "command")
        .put("pktgen", setup.pktgen())
        .put("pktgen_rate_percent", setup.pktgenRatePercent());
    ObjectNode method = root.putObject("method");
    if (pktgen()) {
      method
          .put(
              "pktgen",
              "offered-load trials driven by Pktgen-DPDK (pktgen -f run_dir/pktgen.lua under"
                  + " script(1)): both ports at full speed, each to every address of the route out"
                  + " of the other port (range mode), UDP 1000->1001, latency probes every "
                  + TrialRunner.PKTGEN_LATENCY_MICROS
                  + " us a port; after the warm-up its latency figures (warmup_latency_max_us), then"
                  + " pktgen.clr(), one partial second, the measured"
                  + " seconds, stop, 1.5 s drain; figures from pktgen.portStats and"
                  + " pktgen.pktStats as the script prints them")
          .put(
              "pktgen_latency",
              "pktgen's own: TSC stamp in the probe at send, read where it is received; avg and"
                  + " max over the probes of the clear-to-stop time, per port (the probes the"
                  + " other port sent); skipped = probes lost or out of order");
    }
    method
        .put(
            "rate",
            pktgen()
                ? "packets pktgen received on both ports, mean of its 1 s rates (portStats"
                    + " 'rate') over the measured seconds; the same for every system"
                : "packets the generator received back on both ports, mean of testpmd"
                    + " --stats-period 1 RX rates over the measured seconds; the same for every"
                    + " system")
        .put(
            "warmup",
            "every trial starts fresh DUT and generator processes; the first stats block and the"
                + " warm-up seconds that follow (flatnet's JIT compiles its loop then) are not"
                + " measured; per_second_mpps shows them")
        .put(
            "loss",
            pktgen()
                ? "pktgen TX minus RX from the clear after the warm-up to 1.5 s after the stop,"
                    + " over TX (packets in flight at the clear: a ring's worth)"
                : "generator TX minus RX in the window, over TX; window edges are +-~1k pkts")
        .put(
            "cpu_busy_before",
            "per trial, each CPU's busy fraction over 0.5 s just before it started (other"
                + " processes only); above "
                + BUSY_THRESHOLD
                + " on the DUT's or generator's CPU the trial ran on a noisy machine")
        .put(
            "frame_size",
            "Ethernet frame size with FCS; testpmd --txpkts = frame - 4 (DPDK's pkt_len has no"
                + " FCS); imix = 64, 570 and 1518 B frames 7:4:1 interleaved, sent unpaced by"
                + " flatnet's generator (testpmd flowgen sends one length)")
        .put(
            "gbps_l1",
            "Gbit/s on the wire: Mpps x (mean frame + 20 B preamble, start delimiter and"
                + " inter-frame gap) x 8")
        .put("order", "each round runs the systems in the order given (ABCABC...)")
        .put(
            "zero_loss",
            "RFC 2544: binary search over trials of flatnet's paced generator (io.flatnet.perf.gen,"
                + " token bucket on System.nanoTime, bursts of 32, both ports at half the rate"
                + " each) against a fresh DUT per system and round; first trial at the round's"
                + " offered-load rate, then the lower bound, then bisection; loss = (offered -"
                + " returned) / offered after a 200 ms drain, offered including what the DUT's"
                + " full ring refused; a trial where the generator fell 2% short of the rate"
                + " fails")
        .put(
            "latency",
            "probe packets carry System.nanoTime() at send; latency = receive time (after"
                + " rx_burst) minus that, through both virtio rings and the DUT; HdrHistogram, 3"
                + " significant digits; at the given fractions of each system's own zero-loss"
                + " rate");
    ObjectNode commands = root.putObject("commands");
    setup.commands().forEach(commands::put);
    ArrayNode results = root.putArray("results");
    for (int size : setup.sizes()) {
      ObjectNode result = results.addObject().put("frame", FrameSize.label(size));
      if (FrameSize.imix(size)) {
        result.put("frame_bytes", "imix").put("mean_frame_bytes", FrameSize.meanFrameBytes(size));
        ObjectNode mix = result.putObject("imix");
        mix.set("frame_bytes", BenchJson.array(new double[] {64, 570, 1518}));
        mix.set("weights", BenchJson.array(new double[] {7, 4, 1}));
        mix.put("generator", "flatnet-gen (unpaced)");
      } else {
        result
            .put("frame_bytes", size)
            .put("mean_frame_bytes", size)
            .put("pkt_len", Commands.packetLength(size));
      }
      ArrayNode systems = result.putArray("systems");
      for (SystemRow r : rows(size)) {
        Stats.Summary zeroLoss = Stats.summarize(zeroLossPerRound(r.system(), size));
        ObjectNode row =
            systems
                .addObject()
                .put("system", r.system().label())
                .put("median_mpps", r.mpps().median())
                .put("min_mpps", r.mpps().min())
                .put("max_mpps", r.mpps().max())
                .put("median_gbps_l1", FrameSize.l1Gbps(r.mpps().median(), size))
                .put("rounds_ok", r.mpps().count());
        row.set("per_round_mpps", BenchJson.array(r.perRoundMpps()));
        row.put("median_loss_fraction", r.loss().median())
            .put("max_loss_fraction", r.loss().max())
            .put("zero_loss_at_full_rate", r.zeroLossAtFullRate())
            .put(
                "zero_loss_rate_at_least_mpps",
                r.zeroLossAtFullRate() ? r.mpps().min() : Double.NaN)
            .put("median_port0_share", r.port0Share().median())
            .put("zero_loss_median_mpps", zeroLoss.median())
            .put("zero_loss_min_mpps", zeroLoss.min())
            .put("zero_loss_max_mpps", zeroLoss.max())
            .set("zero_loss_per_round_mpps", BenchJson.array(zeroLossPerRound(r.system(), size)));
        ArrayNode latency = row.putArray("latency");
        for (LatencyRow l : latencyRows(size)) {
          if (l.system() == r.system()) {
            latency
                .addObject()
                .put("load_fraction", l.load())
                .put("rate_mpps", l.rateMpps().median())
                .put("samples", l.samples())
                .put("p50_us", l.p50())
                .put("p99_us", l.p99())
                .put("p999_us", l.p999())
                .put("max_us", l.max())
                .put("p99_median_of_rounds_us", l.p99PerRound().median())
                .put("max_loss_fraction", l.loss().max());
          }
        }
      }
      if (pktgen()) {
        for (PktgenRow p : pktgenRows(size)) {
          for (var node : systems) {
            if (node.get("system").asText().equals(p.system().label())) {
              ObjectNode o = ((ObjectNode) node).putObject("pktgen");
              o.put("median_loss_fraction", Stats.summarize(p.lossFraction()).median())
                  .put("median_latency_avg_us", Stats.summarize(p.latencyAvgMicros()).median())
                  .put("max_latency_max_us", Stats.summarize(p.latencyMaxMicros()).max())
                  .put("median_latency_max_us", Stats.summarize(p.latencyMaxMicros()).median());
              o.set("per_round_loss_fraction", BenchJson.array(p.lossFraction()));
              o.set("per_round_latency_avg_us", BenchJson.array(p.latencyAvgMicros()));
              o.set("per_round_latency_max_us", BenchJson.array(p.latencyMaxMicros()));
              o.set("per_round_warmup_latency_max_us", BenchJson.array(p.warmupLatencyMaxMicros()));
              o.set("per_round_warmup_loss_fraction", BenchJson.array(p.warmupLossFraction()));
              o.put("latency_probes", p.probes())
                  .put("latency_probes_skipped", p.probesSkipped())
                  .put("missed", p.missed())
                  .put("errors", p.errors());
            }
          }
        }
        result.set("pktgen_ratios", ratiosJson(pktgenRatios(size)));
      }
      result.set("zero_loss_ratios", ratiosJson(zeroLossRatios(size)));
      result.set("latency_p99_ratios", ratiosJson(p99Ratios(size)));
      result.set("ratios", ratiosJson(ratios(size)));
      for (SizeRow r : sizeRows()) {
        if (r.frameBytes() == size) {
          result.put("flatnet_l3fwd", r.flatnetOverL3fwd().summary().median());
        }
      }
      Map<String, double[]> churn = routeChurnPerRound(size);
      if (!churn.isEmpty()) {
        ObjectNode o = result.putObject("route_churn_per_round");
        o.put("target_updates_per_s", setup.routeChurnPerSecond());
        churn.forEach((k, v) -> o.set(k.replace(' ', '@'), BenchJson.array(v)));
      }
    }
    ArrayNode routingCheck = root.putArray("routing_check");
    for (Check c : checks()) {
      routingCheck
          .addObject()
          .put("system", c.system().label())
          .put("port0_share", c.port0Share())
          .put("dut_port0_tx_share", c.dutTxShare())
          .put("expected", c.expected())
          .put("hairpin_would_give", 0.5)
          .put("pass", c.pass());
    }
    ArrayNode trialsJson = root.putArray("trials");
    concat(checkTrials, trials).forEach(t -> trialsJson.add(trialJson(t)));
    ArrayNode searchesJson = root.putArray("searches");
    searches.forEach(r -> searchesJson.add(searchJson(r)));
    root.set("summary", summaryJson());
    notes.forEach(root.putArray("notes")::add);
    return BenchJson.line(root);
  }

  /** Each ratio's median, spread and per-round values. */
  private static ArrayNode ratiosJson(List<Ratio> ratios) {
    ArrayNode out = JsonNodeFactory.instance.arrayNode();
    for (Ratio r : ratios) {
      out.addObject()
          .put("name", r.name())
          .put("median", r.summary().median())
          .put("min", r.summary().min())
          .put("max", r.summary().max())
          .set("per_round", BenchJson.array(r.perRound()));
    }
    return out;
  }

  /** flatnet's offered-load trials that reported their GC count and worker allocation. */
  private List<FlatnetSummary> flatnetSummaries() {
    return trials.stream()
        .map(TrialResult::flatnet)
        .filter(f -> f != null && f.gcCollections() >= 0)
        .toList();
  }

  /** GCs and bytes allocated on flatnet's worker threads, summed over its trials. */
  private void workerHealth(StringBuilder sb) {
    List<FlatnetSummary> summaries = flatnetSummaries();
    if (summaries.isEmpty()) {
      return;
    }
    long gcs = summaries.stream().mapToLong(FlatnetSummary::gcCollections).sum();
    long allocated = summaries.stream().mapToLong(f -> Math.max(0, f.workerAllocatedBytes())).sum();
    sb.append(
        f(
            "flatnet workers: %d garbage collections and %d bytes allocated on worker threads over"
                + " %d trials (JVM MXBeans, from the end of each trial's warm-up to its end)%n",
            gcs, allocated, summaries.size()));
    // Which trials: the hot path's target is 0, so each one that missed it is worth a look.
    for (TrialResult t : trials) {
      FlatnetSummary f = t.flatnet();
      if (f != null && (f.workerAllocatedBytes() > 0 || f.gcCollections() > 0)) {
        sb.append(
            f(
                "  round %d %s %s: %d bytes, %d collections%n",
                t.round(),
                FrameSize.display(t.frameBytes()),
                t.system().label(),
                Math.max(0, f.workerAllocatedBytes()),
                f.gcCollections()));
      }
    }
  }

  /** The figures each policy system's runs report, in {@link #policyFigures}, and their units. */
  private static final String[][] POLICY_FIELDS = {
    {"flows_allowed_per_s_per_worker", "new flows/s per worker"},
    {"flow_evicted", "flow-evicted"},
    {"policy_denied_drops", "policy-denied drops"},
    {"churn_publishes", "publishes"},
    {"churn_publish_mean_us", "publish mean us"},
    {"churn_publish_cpu_mean_us", "publish CPU mean us"},
    {"churn_publish_max_us", "publish max us"},
    {"cut_publish_us", "publish us"},
    {"cut_first_deny_after_publish_us", "first deny after publish us"},
    {"cut_last_forward_after_publish_us", "last forward after publish us"},
    {"cut_forwarded_after", "forwarded after publish"},
  };

  /** Per round, the policy figures of {@code system}'s offered-load trials (NaN: none). */
  private Map<String, double[]> policyPerRound(DutSystem system, int size) {
    Map<String, double[]> out = new java.util.LinkedHashMap<>();
    for (TrialResult t : trials) {
      if (t.system() != system || t.frameBytes() != size || t.round() < 1 || t.flatnet() == null) {
        continue;
      }
      for (Map.Entry<String, Long> e : t.flatnet().policy().entrySet()) {
        out.computeIfAbsent(e.getKey(), k -> nanArray(setup.rounds()))[t.round() - 1] =
            e.getValue();
      }
    }
    return out;
  }

  private Map<String, double[]> capturePerRound(DutSystem system, int size) {
    Map<String, double[]> out = new java.util.LinkedHashMap<>();
    for (TrialResult t : trials) {
      if (t.system() != system || t.frameBytes() != size || t.round() < 1 || t.flatnet() == null) {
        continue;
      }
      Map<String, Long> m = t.flatnet().capture();
      for (Map.Entry<String, Long> e : m.entrySet()) {
        out.computeIfAbsent(e.getKey(), k -> nanArray(setup.rounds()))[t.round() - 1] =
            e.getValue();
      }
      Long taken = m.get("taken");
      Long rx = m.get("rx");
      if (taken != null && rx != null && rx > 0) {
        out.computeIfAbsent("captured_share", k -> nanArray(setup.rounds()))[t.round() - 1] =
            (double) taken / rx;
      }
    }
    return out;
  }

  /** The capture systems' own counters: the share of received packets taken, full rings. */
  private void captureFigures(StringBuilder sb) {
    int size = setup.sizes().getFirst();
    boolean header = false;
    for (DutSystem s : setup.systems()) {
      Map<String, double[]> m = capturePerRound(s, size);
      if (!s.capture() || m.isEmpty()) {
        continue;
      }
      if (!header) {
        sb.append(f("%ncapture (%d B, the DUT's own counters; per round):%n", size));
        header = true;
      }
      StringBuilder share = new StringBuilder();
      StringBuilder full = new StringBuilder();
      double[] sh = m.getOrDefault("captured_share", new double[0]);
      double[] rf = m.getOrDefault("ring_full", new double[0]);
      for (int i = 0; i < sh.length; i++) {
        share.append(share.isEmpty() ? "" : " / ").append(num(sh[i] * 100, "%.2f"));
        full.append(full.isEmpty() ? "" : " / ").append(num(rf[i], "%.0f"));
      }
      sb.append(f("  %-18s  taken %% of rx %s;  ring full %s%n", s.label(), share, full));
    }
  }

  /** One system's per-size offered-load figures for the by-size table: median Mpps and Gbit/s. */
  public record SizeRow(
      int frameBytes, double flatnetMpps, double l3fwdMpps, Ratio flatnetOverL3fwd) {
    public double flatnetGbps() {
      return FrameSize.l1Gbps(flatnetMpps, frameBytes);
    }

    public double l3fwdGbps() {
      return FrameSize.l1Gbps(l3fwdMpps, frameBytes);
    }
  }

  /** flatnet against l3fwd at each frame size (empty unless both ran). */
  List<SizeRow> sizeRows() {
    List<SizeRow> out = new ArrayList<>();
    if (!(setup.systems().contains(DutSystem.FLATNET)
        && setup.systems().contains(DutSystem.L3FWD))) {
      return out;
    }
    for (int size : setup.sizes()) {
      double[] a = perRound(DutSystem.FLATNET, size);
      double[] b = perRound(DutSystem.L3FWD, size);
      double[] r = Stats.ratios(a, b);
      out.add(
          new SizeRow(
              size,
              Stats.summarize(a).median(),
              Stats.summarize(b).median(),
              new Ratio("flatnet/l3fwd", r, Stats.summarize(r))));
    }
    return out;
  }

  private void bySizeTable(StringBuilder sb) {
    List<SizeRow> rows = sizeRows();
    if (rows.isEmpty()) {
      return;
    }
    sb.append(
        "\nflatnet/l3fwd by frame size (offered load; ratio: median of per-round ratios, min..max;"
            + " Gbit/s on the wire, L1: Mpps x (frame + 20 B preamble and gap) x 8):\n");
    sb.append(
        f(
            "%-6s %10s %8s %12s %8s  %s%n",
            "frame", "l3fwd Mpps", "Gbit/s", "flatnet Mpps", "Gbit/s", "flatnet/l3fwd"));
    for (SizeRow r : rows) {
      sb.append(
          f(
              "%-6s %10s %8s %12s %8s  %s (%s..%s)%n",
              FrameSize.display(r.frameBytes()),
              num(r.l3fwdMpps(), "%.2f"),
              num(r.l3fwdGbps(), "%.2f"),
              num(r.flatnetMpps(), "%.2f"),
              num(r.flatnetGbps(), "%.2f"),
              num(r.flatnetOverL3fwd().summary().median(), "%.3f"),
              num(r.flatnetOverL3fwd().summary().min(), "%.3f"),
              num(r.flatnetOverL3fwd().summary().max(), "%.3f")));
    }
  }

  /** Under each frame size of the chart: flatnet/l3fwd there (or nothing). */
  public List<String> chartNotes() {
    List<String> out = new ArrayList<>();
    List<SizeRow> rows = sizeRows();
    for (int size : setup.sizes()) {
      String note = "";
      for (SizeRow r : rows) {
        if (r.frameBytes() == size) {
          note =
              f(
                  "flatnet/l3fwd %s, %s Gbit/s",
                  num(r.flatnetOverL3fwd().summary().median(), "%.2f"),
                  num(r.flatnetGbps(), "%.1f"));
        }
      }
      out.add(note);
    }
    return out;
  }

  /** Per round, a figure of {@code system}'s offered-load trials' flatnet summaries (NaN: none). */
  private double[] trialFigure(
      DutSystem system, int size, java.util.function.ToDoubleFunction<FlatnetSummary> figure) {
    double[] v = nanArray(setup.rounds());
    for (TrialResult t : trials) {
      if (t.system() == system && t.frameBytes() == size && t.round() >= 1 && t.flatnet() != null) {
        v[t.round() - 1] = figure.applyAsDouble(t.flatnet());
      }
    }
    return v;
  }

  /** Per round, a figure of {@code system}'s search sessions (NaN: none). */
  private double[] searchFigure(
      DutSystem system, int size, java.util.function.ToDoubleFunction<SearchResult> figure) {
    double[] v = nanArray(setup.rounds());
    for (SearchResult r : searches) {
      if (r.system() == system && r.frameBytes() == size && r.round() >= 1) {
        v[r.round() - 1] = figure.applyAsDouble(r);
      }
    }
    return v;
  }

  private static double churnField(FlatnetSummary f, String key) {
    Long v = f == null ? null : f.routeChurn().get(key);
    return v == null ? Double.NaN : v;
  }

  private static double loopField(FlatnetSummary f, String key) {
    Long v = f == null ? null : f.workerLoops().get(key);
    return v == null ? Double.NaN : v;
  }

  /** The loss of a fixed-rate session's one trial (NaN if it has none). */
  private static double fixedLoss(SearchResult r) {
    return r.steps().isEmpty() ? Double.NaN : r.steps().getFirst().trial().lossFraction();
  }

  /** The route-churn figures, per round: named series of values, for the table and the JSON. */
  Map<String, double[]> routeChurnPerRound(int size) {
    Map<String, double[]> m = new java.util.LinkedHashMap<>();
    DutSystem churn = DutSystem.FLATNET_ROUTECHURN;
    if (!setup.systems().contains(churn)) {
      return m;
    }
    m.put("offered_updates_per_s", trialFigure(churn, size, f -> churnField(f, "per_s")));
    m.put(
        "offered_update_mean_us",
        trialFigure(churn, size, f -> churnField(f, "update_mean_ns") / 1e3));
    m.put(
        "offered_update_max_us",
        trialFigure(churn, size, f -> churnField(f, "update_max_ns") / 1e3));
    m.put("offered_updates_skipped", trialFigure(churn, size, f -> churnField(f, "skipped")));
    for (DutSystem s : List.of(DutSystem.FLATNET, churn)) {
      if (setup.systems().contains(s)) {
        m.put(
            "offered_longest_loop_us " + s.label(),
            trialFigure(s, size, FlatnetSummary::longestLoopMicros));
        m.put(
            "offered_loops_8us_or_more " + s.label(),
            trialFigure(s, size, f -> loopField(f, "loops_8us_or_more")));
      }
    }
    if (setup.fixedRateFraction() > 0) {
      m.put(
          "fixed_updates_per_s", searchFigure(churn, size, r -> churnField(r.flatnet(), "per_s")));
      for (DutSystem s : List.of(DutSystem.FLATNET, churn)) {
        if (setup.systems().contains(s)) {
          m.put("fixed_loss_fraction " + s.label(), searchFigure(s, size, Report::fixedLoss));
          m.put(
              "fixed_rate_mpps " + s.label(),
              searchFigure(
                  s,
                  size,
                  r -> r.steps().isEmpty() ? Double.NaN : r.steps().getFirst().rateMpps()));
          m.put(
              "fixed_longest_loop_us " + s.label(),
              searchFigure(
                  s,
                  size,
                  r -> r.flatnet() == null ? Double.NaN : r.flatnet().longestLoopMicros()));
        }
      }
    }
    return m;
  }

  private static String perRoundText(double[] v, String format) {
    StringBuilder values = new StringBuilder();
    for (double d : v) {
      values.append(values.isEmpty() ? "" : " / ").append(num(d, format));
    }
    return values.toString();
  }

  /** flatnet-routechurn: the update rate achieved, the loss of its flows, the workers' stalls. */
  private void routeChurnFigures(StringBuilder sb) {
    int size = setup.sizes().getFirst();
    Map<String, double[]> m = routeChurnPerRound(size);
    if (m.isEmpty()) {
      return;
    }
    sb.append(
        f(
            "%nroute churn (%s; flatnet-routechurn asks %d updates/s, adds and deletes of /28s of"
                + " 10.200.0.0/16 that no flow uses; per round):%n",
            FrameSize.display(size), setup.routeChurnPerSecond()));
    sb.append(
        f(
            "  offered load:  updates/s achieved %s;  update mean %s us, max %s us;  skipped %s%n",
            perRoundText(m.get("offered_updates_per_s"), "%.0f"),
            perRoundText(m.get("offered_update_mean_us"), "%.1f"),
            perRoundText(m.get("offered_update_max_us"), "%.0f"),
            perRoundText(m.get("offered_updates_skipped"), "%.0f")));
    StringBuilder loops = new StringBuilder("  worker's longest loop after the warm-up (us):");
    StringBuilder over = new StringBuilder("  worker loops of 8 us or more:");
    for (DutSystem s : List.of(DutSystem.FLATNET, DutSystem.FLATNET_ROUTECHURN)) {
      double[] v = m.get("offered_longest_loop_us " + s.label());
      if (v != null) {
        loops.append(f("  %s %s;", s.label(), perRoundText(v, "%.1f")));
        over.append(
            f(
                "  %s %s;",
                s.label(), perRoundText(m.get("offered_loops_8us_or_more " + s.label()), "%.0f")));
      }
    }
    sb.append(loops).append('\n').append(over).append('\n');
    if (setup.fixedRateFraction() > 0) {
      StringBuilder loss =
          new StringBuilder(
              f(
                  "  fixed rate (%.2f x the round's first system's offered load, flatnet's"
                      + " generator):",
                  setup.fixedRateFraction()));
      for (DutSystem s : List.of(DutSystem.FLATNET, DutSystem.FLATNET_ROUTECHURN)) {
        double[] v = m.get("fixed_loss_fraction " + s.label());
        if (v != null) {
          double[] pct = java.util.Arrays.stream(v).map(d -> d * 100).toArray();
          loss.append(
              f(
                  "  %s at %s Mpps lost %s %%, longest loop %s us;",
                  s.label(),
                  perRoundText(m.get("fixed_rate_mpps " + s.label()), "%.2f"),
                  perRoundText(pct, "%.4f"),
                  perRoundText(m.get("fixed_longest_loop_us " + s.label()), "%.1f")));
        }
      }
      loss.append(f("  updates/s %s", perRoundText(m.get("fixed_updates_per_s"), "%.0f")));
      sb.append(loss).append('\n');
    }
    sb.append(
        "  (longest loop: the worker's longest time between two polls of its RX rings from its"
            + " steady mark to the end, whatever the cause: its own work, the churn thread or"
            + " anything else on its CPU. Readers never wait on a route update: lookups are plain"
            + " loads of a table updated in place, QSBR defers only the writer's reuse of tbl8"
            + " groups)\n");
  }

  /** The policy systems' own counters: new-flow rate, churn publishes, cut times. */
  private void policyFigures(StringBuilder sb) {
    int size = setup.sizes().getFirst();
    boolean header = false;
    for (DutSystem s : setup.systems()) {
      Map<String, double[]> m = policyPerRound(s, size);
      if (!s.policy() || m.isEmpty()) {
        continue;
      }
      if (!header) {
        sb.append(f("%nnetwork policy (%d B, the DUT's own counters; per round):%n", size));
        header = true;
      }
      StringBuilder line = new StringBuilder(f("  %-15s", s.label()));
      for (String[] field : POLICY_FIELDS) {
        double[] v = m.get(field[0]);
        if (v == null
            || (field[0].startsWith("churn") && s != DutSystem.FLATNET_CHURN)
            || (field[0].equals("flow_evicted") && s != DutSystem.FLATNET_NEWFLOW)
            || (field[0].startsWith("flows_allowed") && s != DutSystem.FLATNET_NEWFLOW)) {
          continue;
        }
        StringBuilder values = new StringBuilder();
        for (double d : v) {
          values.append(values.isEmpty() ? "" : " / ").append(num(d, "%.0f"));
        }
        line.append(f("  %s %s;", field[1], values));
      }
      sb.append(line).append('\n');
    }
  }

  /**
   * With {@code --profile}: per size and system, the medians over rounds of the DUT's ns a packet
   * in the vhost PMD, in its own code, and on its CPU but not its own; empty without.
   */
  private ObjectNode dutProfileJson() {
    ObjectNode out = BenchJson.object();
    for (int size : setup.sizes()) {
      ObjectNode bySystem = BenchJson.object();
      for (DutSystem system : setup.systems()) {
        List<double[]> parts =
            trials.stream()
                .filter(t -> t.ok() && t.frameBytes() == size && t.system() == system)
                .filter(t -> !t.dutProfile().isEmpty())
                .map(t -> DutProfile.nsPerPacket(t.dutProfile(), t.mpps()))
                .toList();
        if (parts.isEmpty()) {
          continue;
        }
        ObjectNode o = bySystem.putObject(system.label()).put("rounds", parts.size());
        String[] names = {"vhost_pmd", "own_code", "not_the_dut"};
        for (int i = 0; i < names.length; i++) {
          int part = i;
          o.put(
              names[i],
              Stats.summarize(parts.stream().mapToDouble(p -> p[part]).toArray()).median());
        }
      }
      if (!bySystem.isEmpty()) {
        out.set(FrameSize.label(size), bySystem);
      }
    }
    return out;
  }

  /** The headline figures of the first frame size, for a quick look. */
  private ObjectNode summaryJson() {
    int size = setup.sizes().getFirst();
    ObjectNode out = BenchJson.object().put("frame", FrameSize.label(size));
    ObjectNode bySize = out.putObject("flatnet_l3fwd_by_size");
    for (SizeRow r : sizeRows()) {
      bySize.put(FrameSize.label(r.frameBytes()), r.flatnetOverL3fwd().summary().median());
    }
    ObjectNode profiles = dutProfileJson();
    if (!profiles.isEmpty()) {
      out.set("dut_ns_per_packet", profiles);
    }
    List<FlatnetSummary> flatnet = flatnetSummaries();
    if (!flatnet.isEmpty()) {
      out.put(
          "flatnet_gc_collections",
          flatnet.stream().mapToLong(FlatnetSummary::gcCollections).sum());
      out.put(
          "flatnet_worker_allocated_bytes",
          flatnet.stream().mapToLong(f -> Math.max(0, f.workerAllocatedBytes())).sum());
    }
    if (pktgen()) {
      ObjectNode pg = out.putObject("pktgen");
      for (SystemRow r : rows(size)) {
        pg.putObject(r.system().label())
            .put("median_mpps", r.mpps().median())
            .put("median_loss_fraction", r.loss().median());
      }
      for (PktgenRow p : pktgenRows(size)) {
        ((ObjectNode) pg.get(p.system().label()))
            .put("median_latency_avg_us", Stats.summarize(p.latencyAvgMicros()).median())
            .put("max_latency_max_us", Stats.summarize(p.latencyMaxMicros()).max());
      }
      for (Ratio r : ratios(size)) {
        pg.put("ratio " + r.name(), r.summary().median());
      }
      for (Ratio r : pktgenRatios(size)) {
        pg.put(r.name(), r.summary().median());
      }
    }
    ObjectNode zeroLoss = out.putObject("zero_loss_mpps");
    for (DutSystem s : setup.systems()) {
      zeroLoss.put(s.label(), Stats.summarize(zeroLossPerRound(s, size)).median());
    }
    for (Ratio r : zeroLossRatios(size)) {
      if (r.name().equals("flatnet/l3fwd")) {
        out.put("zero_loss_ratio_flatnet_l3fwd", r.summary().median());
      }
    }
    ObjectNode policy = out.putObject("policy_per_round");
    for (DutSystem s : setup.systems()) {
      Map<String, double[]> m = policyPerRound(s, size);
      if (s.policy() && !m.isEmpty()) {
        ObjectNode o = policy.putObject(s.label());
        m.forEach((k, v) -> o.set(k, BenchJson.array(v)));
      }
    }
    ObjectNode capture = out.putObject("capture_per_round");
    for (DutSystem s : setup.systems()) {
      Map<String, double[]> m = capturePerRound(s, size);
      if (s.capture() && !m.isEmpty()) {
        ObjectNode o = capture.putObject(s.label());
        m.forEach((k, v) -> o.set(k, BenchJson.array(v)));
      }
    }
    ObjectNode latency = out.putObject("latency_us");
    for (LatencyRow l : latencyRows(size)) {
      latency
          .putObject(l.system().label() + "@" + Math.round(l.load() * 100) + "%")
          .put("p50", l.p50())
          .put("p99", l.p99())
          .put("p99.9", l.p999())
          .put("max", l.max());
    }
    ObjectNode p99 = out.putObject("p99_ratio_flatnet_l3fwd");
    for (Ratio r : flatnetL3fwdP99Ratios(size)) {
      p99.put(r.name().substring(r.name().lastIndexOf(' ') + 1), r.summary().median());
    }
    return out;
  }

  private static ObjectNode searchJson(SearchResult r) {
    ObjectNode out =
        BenchJson.object()
            .put("round", r.round())
            .put("system", r.system().label())
            .put("frame", FrameSize.label(r.frameBytes()))
            .put("ok", r.ok())
            .put("error", r.error())
            .put("upper_mpps", r.upperMpps())
            .put("lower_mpps", r.lowerMpps())
            .put("zero_loss_mpps", r.zeroLossMpps())
            .put("misrouted", r.misrouted())
            .put("generator_limited", r.generatorLimited());
    out.set("cpu_busy_before", BenchJson.array(r.busyBefore()));
    if (r.flatnet() != null) {
      out.put("flatnet_summary", r.flatnet().line());
      r.flatnet().policy().forEach(out::put);
    }
    if (!r.node().isEmpty()) {
      ObjectNode node = out.putObject("node");
      r.node().forEach(node::put);
    }
    if (r.warmup() != null) {
      out.set("warmup", genTrialJson(r.warmup()));
    }
    ArrayNode steps = out.putArray("steps");
    for (SearchResult.SearchStep s : r.steps()) {
      steps
          .addObject()
          .put("rate_mpps", s.rateMpps())
          .put("pass", s.pass())
          .set("trial", genTrialJson(s.trial()));
    }
    ArrayNode latency = out.putArray("latency");
    for (SearchResult.LatencyPoint p : r.latency()) {
      ObjectNode point =
          latency.addObject().put("load_fraction", p.load()).put("rate_mpps", p.rateMpps());
      Histogram h = p.trial().latency();
      if (h != null) {
        point
            .put("p50_us", h.getValueAtPercentile(50) / 1e3)
            .put("p99_us", h.getValueAtPercentile(99) / 1e3)
            .put("p999_us", h.getValueAtPercentile(99.9) / 1e3)
            .put("max_us", h.getMaxValue() / 1e3)
            .put("histogram_base64", GenTrial.encode(h));
      }
      point.set("trial", genTrialJson(p.trial()));
    }
    return out;
  }

  private static ObjectNode genTrialJson(GenTrial t) {
    ObjectNode out =
        BenchJson.object()
            .put("target_pps", t.targetPps())
            .put("send_seconds", t.sendSeconds())
            .put("offered_mpps", t.offeredMpps())
            .put("returned_mpps", t.returnedMpps())
            .put("loss_fraction", t.lossFraction());
    out.set("offered", BenchJson.array(t.offered()));
    out.set("accepted_by_ring", BenchJson.array(t.accepted()));
    out.set("returned", BenchJson.array(t.returned()));
    return out.put("port0_share", t.port0Share())
        .put("misrouted", t.misrouted())
        .put("foreign", t.foreign())
        .put("probes_sent", t.probesSent())
        .put("probes_received", t.probesReceived())
        .put("generator_limited", t.generatorLimited());
  }

  /** "l3fwd 9.1 Mpps, flatnet 8.7 Mpps zero-loss; p99 flatnet/l3fwd ..." for the chart. */
  public String latencyLine() {
    int size = setup.sizes().getFirst();
    StringBuilder sb = new StringBuilder(FrameSize.display(size) + " zero-loss:");
    for (DutSystem s : setup.systems()) {
      sb.append(
          f(
              " %s %s Mpps",
              s.label(), num(Stats.summarize(zeroLossPerRound(s, size)).median(), "%.2f")));
    }
    for (Ratio r : flatnetL3fwdP99Ratios(size)) {
      sb.append(
          f(
              "   %s %s",
              r.name().replace(" flatnet/l3fwd at", ""), num(r.summary().median(), "%.2f")));
    }
    return sb.toString();
  }

  /** The CDF series of the first frame size: one per system and load, rounds merged. */
  public List<LatencyCdfChart.Series> cdfSeries() {
    int size = setup.sizes().getFirst();
    List<LatencyCdfChart.Series> out = new ArrayList<>();
    for (DutSystem s : setup.systems()) {
      int k = 0;
      for (double load : setup.latencyLoads()) {
        Histogram h = mergedLatency(s, size, load);
        if (h != null && h.getTotalCount() > 0) {
          out.add(
              new LatencyCdfChart.Series(
                  f("%s @%d%%", s.label(), Math.round(load * 100)), s.label(), k, h));
        }
        k++;
      }
    }
    return out;
  }

  private static List<TrialResult> concat(List<TrialResult> a, List<TrialResult> b) {
    List<TrialResult> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }

  private static ObjectNode trialJson(TrialResult t) {
    ObjectNode out =
        BenchJson.object()
            .put("kind", t.round() == 0 ? "routing_check" : "round")
            .put("round", t.round())
            .put("system", t.system().label())
            .put("frame", FrameSize.label(t.frameBytes()))
            .put("ok", t.ok())
            .put("error", t.error());
    if (t.window() != null) {
      var w = t.window();
      out.put("mpps", w.mpps());
      out.set("per_second_mpps", BenchJson.array(w.perSecondMpps()));
      out.set("rx_by_port", BenchJson.array(w.rxByPort()));
      out.set("tx_by_port", BenchJson.array(w.txByPort()));
      out.put("loss_fraction", w.lossFraction()).put("port0_share", w.port0Share());
    }
    out.put("generator_tx_dropped", t.generatorTxDropped());
    out.put("rate_from_dut_counters", t.dutCounted());
    out.set("cpu_busy_before", BenchJson.array(t.busyBefore()));
    out.set("dut_tx_by_port", BenchJson.array(t.dutTxByPort()));
    if (t.pktgen() != null) {
      PktgenStats.Result p = t.pktgen();
      ObjectNode o =
          out.putObject("pktgen")
              .put("latency_avg_us", p.latencyAvgMicros())
              .put("latency_max_us", p.latencyMaxMicros())
              .put("latency_min_us", p.latencyMinMicros())
              .put("warmup_latency_max_us", p.warmupLatencyMaxMicros())
              .put("warmup_loss_fraction", p.warmupLossFraction());
      ArrayNode ports = o.putArray("ports");
      for (PktgenStats.Port q : p.ports()) {
        ports
            .addObject()
            .put("port", q.port())
            .put("tx", q.tx())
            .put("rx", q.rx())
            .put("missed", q.missed())
            .put("ierrors", q.ierrors())
            .put("oerrors", q.oerrors())
            .put("rx_nombuf", q.rxNombuf())
            .put("latency_packets", q.latencyPackets())
            .put("latency_skipped", q.latencySkipped())
            .put("latency_min_us", q.latencyMinMicros())
            .put("latency_avg_us", q.latencyAvgMicros())
            .put("latency_max_us", q.latencyMaxMicros());
      }
      ArrayNode secs = o.putArray("seconds");
      for (PktgenStats.Second q : p.seconds()) {
        secs.addObject()
            .put("phase", q.phase())
            .put("n", q.n())
            .put("rx_mpps", q.rxMpps())
            .set("tx", BenchJson.array(q.tx()));
      }
    }
    if (t.flatnet() != null) {
      out.put("flatnet_forwarded_mpps_whole_run", t.flatnet().forwardedMpps());
      out.put("flatnet_summary", t.flatnet().line());
    }
    if (!t.dutProfile().isEmpty() && t.ok()) {
      ObjectNode shares = out.putObject("dut_cpu_share_by_object");
      ObjectNode ns = out.putObject("dut_ns_per_packet_by_object");
      t.dutProfile()
          .forEach(
              (dso, share) -> {
                shares.put(dso, share);
                ns.put(dso, share * 1000 / t.mpps());
              });
    }
    return out;
  }

  /** Medians per size and system, for the chart: [size][system]; and min and max alike. */
  public double[][][] chartData() {
    int ns = setup.sizes().size();
    int nd = setup.systems().size();
    double[][][] d = new double[3][ns][nd];
    for (int i = 0; i < ns; i++) {
      List<SystemRow> rows = rows(setup.sizes().get(i));
      for (int k = 0; k < nd; k++) {
        d[0][i][k] = rows.get(k).mpps().median();
        d[1][i][k] = rows.get(k).mpps().min();
        d[2][i][k] = rows.get(k).mpps().max();
      }
    }
    return d;
  }

  public Setup setup() {
    return setup;
  }

  /** "flatnet/l3fwd 0.95 (0.91..0.98)" for the first size, for the chart's subtitle. */
  public String ratioLine() {
    StringBuilder sb = new StringBuilder();
    for (Ratio r : ratios(setup.sizes().getFirst())) {
      sb.append(sb.isEmpty() ? "" : "   ")
          .append(r.name())
          .append(' ')
          .append(num(r.summary().median(), "%.2f"))
          .append(" (")
          .append(num(r.summary().min(), "%.2f"))
          .append("..")
          .append(num(r.summary().max(), "%.2f"))
          .append(')');
    }
    return sb.isEmpty() ? "" : FrameSize.display(setup.sizes().getFirst()) + ": " + sb;
  }
}
