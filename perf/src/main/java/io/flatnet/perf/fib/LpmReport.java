package io.flatnet.perf.fib;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.flatnet.perf.BenchJson;
import io.flatnet.perf.fib.LpmBench.FamilyResult;
import io.flatnet.perf.fib.LpmBench.Kind;
import io.flatnet.perf.fib.LpmBench.Metric;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Renders {@link LpmBench}'s results as an aligned terminal table or as one JSON object. */
final class LpmReport {
  private LpmReport() {}

  /** What was run, on what: shown above the table and in the JSON's "system". */
  record Environment(
      String jvm, String dpdk, String cpu, int cpus, String arguments, LpmBench.Config config) {}

  static double median(double[] values) {
    double[] s = values.clone();
    Arrays.sort(s);
    int n = s.length;
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }

  static double min(double[] values) {
    return Arrays.stream(values).min().orElse(Double.NaN);
  }

  static double max(double[] values) {
    return Arrays.stream(values).max().orElse(Double.NaN);
  }

  // ---------------------------------------------------------------- table

  static String table(Environment env, List<FamilyResult> results) {
    LpmBench.Config c = env.config();
    StringBuilder out = new StringBuilder();
    out.append("flatnet bench lpm: flatnet FIB vs DPDK rte_fib/rte_fib6, same routes, same")
        .append(" lookup addresses\n");
    out.append("  command: ./flatnet bench lpm ").append(env.arguments()).append('\n');
    out.append("  JVM ")
        .append(env.jvm())
        .append("; ")
        .append(env.dpdk())
        .append("; CPU ")
        .append(env.cpu())
        .append(", ")
        .append(env.cpus())
        .append(" CPUs\n");
    out.append(
        String.format(
            "  %d measured rounds after %d warm-up rounds, order alternating (flatnet first in"
                + " rounds 1, 3, ...); each lookup figure >= %d ms of passes; seed %d%n",
            c.rounds(), c.warmup(), c.minMillis(), c.seed()));
    for (FamilyResult r : results) {
      out.append('\n');
      out.append(r.name)
          .append(": ")
          .append(r.flatName)
          .append(" vs ")
          .append(r.dpdkName)
          .append(" (DPDK lookup function: ")
          .append(r.dpdkLookupFunction)
          .append(")\n");
      for (String line : r.workloadLines) {
        out.append("  ").append(line).append('\n');
      }
      List<String[]> rows = new ArrayList<>();
      rows.add(
          new String[] {
            "median of " + c.rounds() + " rounds",
            r.flatName,
            r.dpdkName,
            "flatnet/DPDK",
            "min-max",
            "per round"
          });
      for (Metric m : r.metrics()) {
        rows.add(row(m));
      }
      out.append(align(rows));
      out.append(
          String.format(
              "  verified: %,d flatnet answers (scalar and bulk) compared with %s, %,d"
                  + " mismatches%n",
              r.verifiedLookups, r.dpdkName, r.mismatches));
      for (String e : r.mismatchExamples) {
        out.append("    MISMATCH ").append(e).append('\n');
      }
    }
    out.append('\n');
    out.append(
        """
        Ratios are per round (the two systems measured back to back), then median and spread over \
        the rounds;
          for rates and times >1 means flatnet faster; for memory <1 means flatnet smaller.
        build = create the table + add every route one at a time (rte_fib_add; flatnet: one \
        commit per route,
          each published to the lookups at once); "one batch commit" = all routes in one \
        flatnet batch.
        lookup, scalar: flatnet lookup() per address; rte_fib has no scalar lookup, so DPDK's \
        figure is
          rte_fib_lookup_bulk(n=1) per address through an FFM critical downcall (call overhead \
        included).
        lookup, bulk of 32: flatnet lookupBulk over Java arrays; DPDK rte_fib_lookup_bulk over \
        native arrays.
        delete: a random sample of routes, one delete (flatnet: one commit) each, on the full \
        table.
        memory, lookup tables: flatnet memoryBytes() (off-heap; Ipv4Fib counts its one tbl24 and its tbl8 groups up to the high-water mark, \
        Ipv6Fib its two roots and its nodes up to the high-water mark); DPDK tbl24 + num_tbl8
          preallocated tbl8s as configured. Control-plane state (flatnet's Java-heap maps, DPDK's \
        RIB) is not
          in this row; "DPDK heap growth" is DPDK's whole hugepage use over create + adds, RIB \
        included.
        """);
    return out.toString();
  }

  private static String[] row(Metric m) {
    String flat = m.flat == null ? "n/a" : value(m, median(m.flat));
    String dpdk = m.dpdk == null ? "n/a" : value(m, median(m.dpdk));
    double[] ratios = m.ratios();
    if (ratios == null) {
      return new String[] {m.label, flat, dpdk, "", "", ""};
    }
    StringBuilder perRound = new StringBuilder();
    for (double x : ratios) {
      perRound.append(perRound.isEmpty() ? "" : " ").append(String.format("%.2f", x));
    }
    return new String[] {
      m.label,
      flat,
      dpdk,
      String.format("%.2fx", median(ratios)),
      String.format("%.2f-%.2f", min(ratios), max(ratios)),
      perRound.toString()
    };
  }

  private static String value(Metric m, double v) {
    return switch (m.kind) {
      case NANOS -> String.format("%.2f ns (%.1f M/s)", v, 1e3 / v);
      case BYTES -> String.format("%.1f MiB", v / (1 << 20));
      case RATE ->
          m.key.startsWith("build")
              ? String.format("%.3f M routes/s", v / 1e6)
              : String.format("%.1f us (%.0f k/s)", 1e6 / v, v / 1e3);
    };
  }

  private static String align(List<String[]> rows) {
    int cols = rows.get(0).length;
    int[] width = new int[cols];
    for (String[] r : rows) {
      for (int i = 0; i < cols; i++) {
        width[i] = Math.max(width[i], r[i].length());
      }
    }
    StringBuilder out = new StringBuilder();
    for (String[] r : rows) {
      StringBuilder line = new StringBuilder("  ");
      for (int i = 0; i < cols; i++) {
        line.append(r[i]);
        if (i + 1 < cols) {
          line.repeat(' ', width[i] - r[i].length() + 3);
        }
      }
      out.append(line.toString().stripTrailing()).append('\n');
    }
    return out.toString();
  }

  // ---------------------------------------------------------------- JSON

  static String json(Environment env, List<FamilyResult> results) {
    ObjectNode root =
        BenchJson.object()
            .put("benchmark", "lpm")
            .put("command", "./flatnet bench lpm " + env.arguments());
    root.putObject("system")
        .put("jvm", env.jvm())
        .put("dpdk", env.dpdk())
        .put("cpu_model", env.cpu())
        .put("cpus", env.cpus());
    LpmBench.Config c = env.config();
    root.putObject("config")
        .put("rounds", c.rounds())
        .put("warmup_rounds", c.warmup())
        .put("order", "alternating, flatnet first in rounds 1, 3, ...")
        .put("min_ms_per_lookup_figure", c.minMillis())
        .put("seed", c.seed())
        .put("next_hops", c.nextHops())
        .put("burst", Contenders.BURST)
        .put("dpdk_avx512_requested", c.avx512());
    ArrayNode families = root.putArray("families");
    long mismatches = 0;
    for (FamilyResult r : results) {
      mismatches += r.mismatches;
      ObjectNode f =
          families
              .addObject()
              .put("family", r.name)
              .put("flatnet", r.flatName)
              .put("dpdk", r.dpdkName)
              .put("dpdk_lookup_function", r.dpdkLookupFunction)
              .putPOJO("workload", r.workload);
      ObjectNode metrics = f.putObject("metrics");
      for (Metric m : r.metrics()) {
        metrics.set(m.key, metric(m));
      }
      ObjectNode verification =
          f.putObject("verification")
              .put("answers_compared", r.verifiedLookups)
              .put("mismatches", r.mismatches);
      r.mismatchExamples.forEach(verification.putArray("examples")::add);
    }
    root.put("ok", mismatches == 0);
    return BenchJson.pretty(root) + "\n";
  }

  private static ObjectNode metric(Metric m) {
    ObjectNode out =
        BenchJson.object()
            .put("label", m.label)
            .put(
                "unit",
                switch (m.kind) {
                  case NANOS -> "ns/lookup";
                  case BYTES -> "bytes";
                  case RATE -> m.key.startsWith("build") ? "routes/s" : "deletes/s";
                });
    out.set("flatnet", m.flat == null ? null : series(m, m.flat));
    out.set("dpdk", m.dpdk == null ? null : series(m, m.dpdk));
    double[] ratios = m.ratios();
    if (ratios != null) {
      ObjectNode ratio =
          out.putObject("ratio")
              .put(
                  "definition",
                  switch (m.kind) {
                    case NANOS ->
                        "rate ratio flatnet/DPDK (DPDK ns / flatnet ns); >1 = flatnet faster";
                    case BYTES -> "flatnet bytes / DPDK bytes; <1 = flatnet smaller";
                    case RATE -> "flatnet rate / DPDK rate; >1 = flatnet faster";
                  });
      ratio.set("per_round", BenchJson.array(ratios));
      ratio.put("median", median(ratios)).put("min", min(ratios)).put("max", max(ratios));
    }
    return out;
  }

  private static ObjectNode series(Metric m, double[] values) {
    ObjectNode out = BenchJson.object();
    out.set("per_round", BenchJson.array(values));
    out.put("median", median(values)).put("min", min(values)).put("max", max(values));
    if (m.kind == Kind.NANOS) {
      out.put("median_mlookups_per_s", 1e3 / median(values));
    }
    return out;
  }
}
