package io.flatnet.perf.e2e;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Everything one {@code bench e2e} run measured, and the two ways it is shown: a terminal table and
 * one JSON object.
 */
public final class Report {

  /** What cannot be measured with this generator, said in every output. */
  public static final String NOT_MEASURED_ZERO_LOSS =
      "zero-loss rate (RFC 2544 binary search) not measured: the generator, testpmd flowgen in"
          + " DPDK 22.11, has no rate limiter (no --tx-pkt-rate-like option; 'set port .. queue"
          + " .. rate' needs a PMD with queue rate limiting, which virtio_user lacks), so it can"
          + " only send at full speed. Reported instead: the loss at full offered rate; where it is"
          + " within the tolerance, the zero-loss rate is at least the measured rate.";

  public static final String NOT_MEASURED_LATENCY =
      "latency percentiles not measured: flowgen sends no timestamped probe packets, and none of"
          + " the DUTs stamps them. Use Pktgen-DPDK (latency sampling) on real NICs, see"
          + " docs/benchmarking.md.";

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
      Map<String, String> host,
      Map<String, String> commands,
      String started) {}

  private final Setup setup;
  private final List<TrialResult> trials;
  private final List<TrialResult> checkTrials;

  public Report(Setup setup, List<TrialResult> trials, List<TrialResult> checkTrials) {
    this.setup = setup;
    this.trials = List.copyOf(trials);
    this.checkTrials = List.copyOf(checkTrials);
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
      double[] loss = ts.stream().mapToDouble(t -> t.window().lossFraction()).toArray();
      double[] share = ts.stream().mapToDouble(t -> t.window().port0Share()).toArray();
      boolean zeroLoss =
          !ts.isEmpty()
              && ts.stream().allMatch(t -> t.window().lossFraction() <= setup.lossTolerance());
      double[] pr = perRound(s, size);
      rows.add(
          new SystemRow(
              s, pr, Stats.summarize(pr), Stats.summarize(loss), Stats.summarize(share), zeroLoss));
    }
    return rows;
  }

  List<Ratio> ratios(int size) {
    List<Ratio> out = new ArrayList<>();
    DutSystem[][] pairs = {
      {DutSystem.FLATNET, DutSystem.L3FWD},
      {DutSystem.FLATNET, DutSystem.TESTPMD_IO},
      {DutSystem.L3FWD, DutSystem.TESTPMD_IO}
    };
    for (DutSystem[] p : pairs) {
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

  /** Whether every trial ran and every routing check passed. */
  public boolean allPassed() {
    return trials.stream().allMatch(TrialResult::ok)
        && checkTrials.stream().allMatch(TrialResult::ok)
        && checks().stream().allMatch(Check::pass);
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

  /** The terminal table. */
  public String table() {
    StringBuilder sb = new StringBuilder();
    int roundsWidth = Math.max(9, Math.min(60, setup.rounds() * 6));
    sb.append(
        f(
            "flatnet bench e2e: %d rounds x %d s (after %d s warm-up) per system, ABC order; generator"
                + " testpmd flowgen on CPU %d, DUT on CPU %d%n",
            setup.rounds(),
            setup.trialSeconds(),
            setup.warmupSeconds(),
            setup.genCpu(),
            setup.dutCpu()));
    sb.append(
        "Mpps = packets returned to the generator (both ports), mean of testpmd's 1 s RX rates;"
            + " routes "
            + setup.routes()
            + "\n\n");
    sb.append(
        f(
            "%-6s %-11s %7s %15s  %-" + roundsWidth + "s %8s %7s%n",
            "frame",
            "system",
            "Mpps",
            "min..max",
            "per round",
            "loss",
            "port0"));
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
                "%-6s %-11s %7s %15s  %-" + roundsWidth + "s %8s %7s%n",
                size + " B",
                r.system().label(),
                num(r.mpps().median(), "%.2f"),
                num(r.mpps().min(), "%.2f") + ".." + num(r.mpps().max(), "%.2f"),
                pr,
                num(r.loss().median() * 100, "%.3f%%"),
                num(r.port0Share().median(), "%.3f")));
      }
    }
    sb.append("\nratios (median of per-round ratios, min..max):\n");
    for (int size : setup.sizes()) {
      StringBuilder line = new StringBuilder(f("%-6s", size + " B"));
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
        sb.append(f(" %s/%dB %s", r.system().label(), size, r.zeroLossAtFullRate() ? "yes" : "no"));
      }
    }
    sb.append('\n');
    sb.append(NOT_MEASURED_ZERO_LOSS).append('\n');
    sb.append(NOT_MEASURED_LATENCY).append('\n');
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

  /** One JSON object with every figure. */
  public String json(String finished, List<String> notes) {
    Json j = new Json().beginObject();
    j.field("bench", "e2e").field("format", 1L).field("started", setup.started());
    j.field("finished", finished).field("all_passed", allPassed());
    j.key("host").beginObject();
    setup.host().forEach(j::field);
    j.endObject();
    j.key("config")
        .beginObject()
        .field("rounds", setup.rounds())
        .field("trial_seconds", setup.trialSeconds())
        .field("warmup_seconds", setup.warmupSeconds());
    j.key("frame_bytes").beginArray();
    setup.sizes().forEach(s -> j.value((long) s));
    j.endArray();
    j.array("systems", setup.systems().stream().map(DutSystem::label).toList())
        .field("dut_cpu", setup.dutCpu())
        .field("gen_cpu", setup.genCpu())
        .field("loss_tolerance", setup.lossTolerance())
        .field("routes", setup.routes().toString())
        .field("check_routes", setup.checkRoutes().toString())
        .endObject();
    j.key("method")
        .beginObject()
        .field(
            "rate",
            "packets the generator received back on both ports, mean of testpmd --stats-period 1"
                + " RX rates over the measured seconds; the same for every system")
        .field(
            "warmup",
            "every trial starts fresh DUT and generator processes; the first stats block and the"
                + " warm-up seconds that follow (flatnet's JIT compiles its loop then) are not"
                + " measured; per_second_mpps shows them")
        .field("loss", "generator TX minus RX in the window, over TX; window edges are +-~1k pkts")
        .field(
            "cpu_busy_before",
            "per trial, each CPU's busy fraction over 0.5 s just before it started (other"
                + " processes only); above "
                + BUSY_THRESHOLD
                + " on the DUT's or generator's CPU the trial ran on a noisy machine")
        .field(
            "frame_size",
            "Ethernet frame size with FCS; testpmd --txpkts = frame - 4 (DPDK's pkt_len has no"
                + " FCS)")
        .field("order", "each round runs the systems in the order given (ABCABC...)")
        .endObject();
    j.key("commands").beginObject();
    setup.commands().forEach(j::field);
    j.endObject();
    j.key("results").beginArray();
    for (int size : setup.sizes()) {
      j.beginObject().field("frame_bytes", size).field("pkt_len", Commands.packetLength(size));
      j.key("systems").beginArray();
      for (SystemRow r : rows(size)) {
        j.beginObject()
            .field("system", r.system().label())
            .field("median_mpps", r.mpps().median())
            .field("min_mpps", r.mpps().min())
            .field("max_mpps", r.mpps().max())
            .field("rounds_ok", r.mpps().count())
            .array("per_round_mpps", r.perRoundMpps())
            .field("median_loss_fraction", r.loss().median())
            .field("max_loss_fraction", r.loss().max())
            .field("zero_loss_at_full_rate", r.zeroLossAtFullRate())
            .field(
                "zero_loss_rate_at_least_mpps",
                r.zeroLossAtFullRate() ? r.mpps().min() : Double.NaN)
            .field("median_port0_share", r.port0Share().median())
            .endObject();
      }
      j.endArray();
      j.key("ratios").beginArray();
      for (Ratio r : ratios(size)) {
        j.beginObject()
            .field("name", r.name())
            .field("median", r.summary().median())
            .field("min", r.summary().min())
            .field("max", r.summary().max())
            .array("per_round", r.perRound())
            .endObject();
      }
      j.endArray().endObject();
    }
    j.endArray();
    j.key("routing_check").beginArray();
    for (Check c : checks()) {
      j.beginObject()
          .field("system", c.system().label())
          .field("port0_share", c.port0Share())
          .field("dut_port0_tx_share", c.dutTxShare())
          .field("expected", c.expected())
          .field("hairpin_would_give", 0.5)
          .field("pass", c.pass())
          .endObject();
    }
    j.endArray();
    j.key("trials").beginArray();
    for (TrialResult t : concat(checkTrials, trials)) {
      trialJson(j, t);
    }
    j.endArray();
    j.key("not_measured")
        .beginObject()
        .field("zero_loss_rate", NOT_MEASURED_ZERO_LOSS)
        .field("latency", NOT_MEASURED_LATENCY)
        .endObject();
    j.array("notes", notes);
    return j.endObject().toString();
  }

  private static List<TrialResult> concat(List<TrialResult> a, List<TrialResult> b) {
    List<TrialResult> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }

  private static void trialJson(Json j, TrialResult t) {
    j.beginObject()
        .field("kind", t.round() == 0 ? "routing_check" : "round")
        .field("round", t.round())
        .field("system", t.system().label())
        .field("frame_bytes", t.frameBytes())
        .field("ok", t.ok())
        .field("error", t.error());
    if (t.window() != null) {
      var w = t.window();
      j.field("mpps", w.mpps())
          .array("per_second_mpps", w.perSecondMpps())
          .array("rx_by_port", w.rxByPort())
          .array("tx_by_port", w.txByPort())
          .field("loss_fraction", w.lossFraction())
          .field("port0_share", w.port0Share());
    }
    j.field("generator_tx_dropped", t.generatorTxDropped());
    j.array("cpu_busy_before", t.busyBefore());
    j.array("dut_tx_by_port", t.dutTxByPort());
    if (t.flatnet() != null) {
      j.field("flatnet_forwarded_mpps_whole_run", t.flatnet().forwardedMpps());
      j.field("flatnet_summary", t.flatnet().line());
    }
    j.endObject();
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
    return sb.isEmpty() ? "" : setup.sizes().getFirst() + " B: " + sb;
  }
}
