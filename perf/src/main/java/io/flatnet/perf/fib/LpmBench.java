package io.flatnet.perf.fib;

import io.flatnet.perf.fib.Contenders.Contender;
import io.flatnet.perf.fib.RouteSets.Ipv4Routes;
import io.flatnet.perf.fib.RouteSets.Ipv6Addresses;
import io.flatnet.perf.fib.RouteSets.Ipv6Routes;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Prefix;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The LPM comparison: flatnet's FIBs against DPDK's rte_fib / rte_fib6 on the same routes and the
 * same lookup addresses, in alternating rounds (flatnet first in even rounds, DPDK first in odd
 * ones) after untimed warm-up rounds, with a differential check of every lookup answer on the way.
 */
final class LpmBench {

  /** What to run; see {@code LpmCommand} for the meaning of each option. */
  record Config(
      int routes4,
      int routes6,
      int lookups,
      double hitFraction,
      int rounds,
      int warmup,
      long seed,
      int nextHops,
      int deleteSample,
      int verifySample,
      int minMillis,
      boolean ipv4,
      boolean ipv6,
      boolean avx512) {}

  /** How a metric's two values compare. */
  enum Kind {
    /** A rate (per second): ratio flatnet/DPDK, above 1 means flatnet faster. */
    RATE,
    /** Nanoseconds per operation: reported as the rate ratio DPDK ns / flatnet ns. */
    NANOS,
    /** Bytes: ratio flatnet/DPDK, below 1 means flatnet smaller. */
    BYTES
  }

  /** One measured quantity, per measured round, for both systems (dpdk null when n/a). */
  static final class Metric {
    final String key;
    final String label;
    final Kind kind;
    final double[] flat;
    final double[] dpdk;

    Metric(String key, String label, Kind kind, int rounds, boolean flatToo, boolean dpdkToo) {
      this.key = key;
      this.label = label;
      this.kind = kind;
      this.flat = flatToo ? new double[rounds] : null;
      this.dpdk = dpdkToo ? new double[rounds] : null;
    }

    /** Per-round ratio, oriented so that for times and rates above 1 means flatnet is faster. */
    double[] ratios() {
      if (dpdk == null || flat == null) {
        return null;
      }
      double[] r = new double[flat.length];
      for (int i = 0; i < r.length; i++) {
        r[i] = kind == Kind.NANOS ? dpdk[i] / flat[i] : flat[i] / dpdk[i];
      }
      return r;
    }
  }

  /** Everything measured for one address family. */
  static final class FamilyResult {
    final String name;
    final String flatName;
    final String dpdkName;
    final Map<String, Object> workload;
    final List<String> workloadLines;
    final Metric build;
    final Metric buildOneBatch;
    final Metric scalar;
    final Metric bulk;
    final Metric delete;
    final Metric memory;
    final Metric dpdkHeap;
    String dpdkLookupFunction = "default";
    long verifiedLookups;
    long mismatches;
    final List<String> mismatchExamples = new ArrayList<>();

    FamilyResult(
        String name,
        String flatName,
        String dpdkName,
        Map<String, Object> workload,
        List<String> workloadLines,
        int rounds) {
      this.name = name;
      this.flatName = flatName;
      this.dpdkName = dpdkName;
      this.workload = workload;
      this.workloadLines = workloadLines;
      build = new Metric("build", "build, 1 route per add", Kind.RATE, rounds, true, true);
      buildOneBatch =
          new Metric("build_one_batch", "build, one batch commit", Kind.RATE, rounds, true, false);
      scalar = new Metric("lookup_scalar", "lookup, scalar", Kind.NANOS, rounds, true, true);
      bulk = new Metric("lookup_bulk32", "lookup, bulk of 32", Kind.NANOS, rounds, true, true);
      delete = new Metric("delete", "delete, 1 route per delete", Kind.RATE, rounds, true, true);
      memory = new Metric("memory_tables", "memory, lookup tables", Kind.BYTES, rounds, true, true);
      dpdkHeap =
          new Metric(
              "memory_dpdk_heap", "memory, DPDK heap growth", Kind.BYTES, rounds, false, true);
    }

    List<Metric> metrics() {
      return List.of(build, buildOneBatch, scalar, bulk, delete, memory, dpdkHeap);
    }
  }

  /** A workload and its two contenders, with what the differential check needs to explain. */
  private abstract static class Family {
    abstract FamilyResult result();

    abstract Contender flat();

    abstract Contender dpdk();

    abstract int routeCount();

    abstract int lookupCount();

    /** The address of lookup {@code i}, and the brute-force longest match with these deleted. */
    abstract String explain(int i, boolean[] absent);
  }

  private static volatile long sink;

  private final Config config;
  private final PrintWriter progress;

  LpmBench(Config config, PrintWriter progress) {
    this.config = config;
    this.progress = progress;
  }

  List<FamilyResult> run() {
    List<FamilyResult> results = new ArrayList<>();
    int[] nhIndex = Contenders.nextHopIndexes(config.nextHops());
    if (config.ipv4()) {
      results.add(run(ipv4(nhIndex)));
    }
    if (config.ipv6()) {
      results.add(run(ipv6(nhIndex)));
    }
    return results;
  }

  private Family ipv4(int[] nhIndex) {
    long t0 = System.nanoTime();
    Ipv4Routes routes = RouteSets.ipv4(config.routes4(), config.nextHops(), config.seed());
    int[] addresses =
        RouteSets.ipv4Lookups(routes, config.lookups(), config.hitFraction(), config.seed() + 1);
    int need = RouteSets.ipv4Tbl8Need(routes);
    int tbl8 = headroom(need);
    progress.printf(
        "IPv4: %,d routes and %,d addresses generated in %.1f s%n",
        routes.size(), addresses.length, (System.nanoTime() - t0) / 1e9);

    Map<String, Object> workload = new LinkedHashMap<>();
    workload.put("routes", routes.size());
    workload.put("route_mix", "DPDK lpm_perf_autotest per-class, per-length counts, scaled");
    workload.put("length_histogram", histogram(routes.length(), 32));
    workload.put("lookup_addresses", addresses.length);
    workload.put("hit_fraction", config.hitFraction());
    workload.put("tbl8_groups_needed", need);
    workload.put("tbl8_groups_configured", tbl8);
    List<String> lines = new ArrayList<>();
    lines.add(
        String.format(
            "%,d routes, lpm_perf_autotest length mix: %s",
            routes.size(), topLengths(routes.length(), 32)));
    lines.add(addressLine(addresses.length));
    lines.add(
        String.format(
            "tbl8 groups: %,d needed, %,d configured (flatnet max, rte_fib num_tbl8; 4-byte next"
                + " hops)",
            need, tbl8));
    FamilyResult result =
        new FamilyResult(
            "IPv4", "flatnet Ipv4Fib", "rte_fib DIR24_8", workload, lines, config.rounds());
    Contenders.Flat4 flat = new Contenders.Flat4(routes, nhIndex, tbl8, addresses);
    Contenders.Rte4 dpdk = new Contenders.Rte4(routes, nhIndex, tbl8, config.avx512(), addresses);
    return new Family() {
      @Override
      FamilyResult result() {
        result.dpdkLookupFunction = dpdk.lookupFunction();
        return result;
      }

      @Override
      Contender flat() {
        return flat;
      }

      @Override
      Contender dpdk() {
        return dpdk;
      }

      @Override
      int routeCount() {
        return routes.size();
      }

      @Override
      int lookupCount() {
        return addresses.length;
      }

      @Override
      String explain(int i, boolean[] absent) {
        int r = RouteSets.referenceIpv4(routes, absent, addresses[i]);
        return Ipv4Prefix.format(addresses[i])
            + " (brute force: "
            + (r < 0
                ? "no route"
                : Ipv4Prefix.format(routes.address()[r])
                    + "/"
                    + routes.length()[r]
                    + " -> "
                    + nhIndex[routes.nh()[r]])
            + ")";
      }
    };
  }

  private Family ipv6(int[] nhIndex) {
    long t0 = System.nanoTime();
    Ipv6Routes routes = RouteSets.ipv6(config.routes6(), config.nextHops(), config.seed() + 2);
    Ipv6Addresses addresses =
        RouteSets.ipv6Lookups(routes, config.lookups(), config.hitFraction(), config.seed() + 3);
    int needDpdk = RouteSets.ipv6TrieReservation(routes);
    int needFlat = RouteSets.ipv6NodeNeed(routes, 16);
    int tbl8 = headroom(needDpdk);
    // Copy-on-write: a batch's copies live beside the nodes they replace until a grace period.
    int maxNodes = Math.min(io.flatnet.route.Ipv6Fib.MAX_NODES, 2 * needFlat + 4096);
    progress.printf(
        "IPv6: %,d routes and %,d addresses generated in %.1f s%n",
        routes.size(), addresses.size(), (System.nanoTime() - t0) / 1e9);

    Map<String, Object> workload = new LinkedHashMap<>();
    workload.put("routes", routes.size());
    workload.put(
        "route_mix",
        "hierarchical in 2000::/3: allocations /24-/32, /33-/48 inside"
            + " them, /56 and /64 inside /48s, /128 inside /64s");
    workload.put("length_histogram", histogram(routes.length(), 128));
    workload.put("lookup_addresses", addresses.size());
    workload.put("hit_fraction", config.hitFraction());
    workload.put("rte_fib6_tbl8_needed_estimate", needDpdk);
    workload.put("rte_fib6_tbl8_configured", tbl8);
    workload.put("flatnet_nodes_needed", needFlat);
    workload.put("flatnet_max_nodes", maxNodes);
    List<String> lines = new ArrayList<>();
    lines.add(
        String.format(
            "%,d routes, hierarchical in 2000::/3: %s",
            routes.size(), topLengths(routes.length(), 128)));
    lines.add(addressLine(addresses.size()));
    lines.add(
        String.format(
            "trie nodes: rte_fib6 num_tbl8 %,d (its adds need about %,d, + 25%%); flatnet nodes %,d"
                + " needed, limit %,d (pool grows on demand)",
            tbl8, needDpdk, needFlat, maxNodes));
    FamilyResult result =
        new FamilyResult(
            "IPv6", "flatnet Ipv6Fib", "rte_fib6 TRIE", workload, lines, config.rounds());
    Contenders.Flat6 flat = new Contenders.Flat6(routes, nhIndex, maxNodes, addresses);
    Contenders.Rte6 dpdk = new Contenders.Rte6(routes, nhIndex, tbl8, config.avx512(), addresses);
    return new Family() {
      @Override
      FamilyResult result() {
        result.dpdkLookupFunction = dpdk.lookupFunction();
        return result;
      }

      @Override
      Contender flat() {
        return flat;
      }

      @Override
      Contender dpdk() {
        return dpdk;
      }

      @Override
      int routeCount() {
        return routes.size();
      }

      @Override
      int lookupCount() {
        return addresses.size();
      }

      @Override
      String explain(int i, boolean[] absent) {
        long hi = addresses.hi()[i];
        long lo = addresses.lo()[i];
        int r = RouteSets.referenceIpv6(routes, absent, hi, lo);
        return Ipv6Prefix.format(hi, lo)
            + " (brute force: "
            + (r < 0
                ? "no route"
                : Ipv6Prefix.format(routes.hi()[r], routes.lo()[r])
                    + "/"
                    + routes.length()[r]
                    + " -> "
                    + nhIndex[routes.nh()[r]])
            + ")";
      }
    };
  }

  private String addressLine(int count) {
    return String.format(
        "%,d lookup addresses: %.0f%% inside installed prefixes (random route, random host),"
            + " %.0f%% uniformly random",
        count, 100 * config.hitFraction(), 100 * (1 - config.hitFraction()));
  }

  /** tbl8 headroom over the exact need: 25% plus 64. */
  private static int headroom(int need) {
    return (int) Math.min(1 << 24, need + need / 4L + 64);
  }

  private static Map<String, Integer> histogram(byte[] lengths, int max) {
    return histogramMap(RouteSets.lengthHistogram(lengths, max));
  }

  private static Map<String, Integer> histogram(int[] lengths, int max) {
    return histogramMap(RouteSets.lengthHistogram(lengths, max));
  }

  private static Map<String, Integer> histogramMap(int[] h) {
    Map<String, Integer> out = new LinkedHashMap<>();
    for (int len = 0; len < h.length; len++) {
      if (h[len] != 0) {
        out.put("/" + len, h[len]);
      }
    }
    return out;
  }

  /** The most common lengths with their shares, e.g. "/24 54%, /16 6%, ...". */
  private static String topLengths(byte[] lengths, int max) {
    return topLengthsOf(RouteSets.lengthHistogram(lengths, max), lengths.length);
  }

  private static String topLengths(int[] lengths, int max) {
    return topLengthsOf(RouteSets.lengthHistogram(lengths, max), lengths.length);
  }

  private static String topLengthsOf(int[] h, int total) {
    int max = h.length - 1;
    List<Integer> order = new ArrayList<>();
    for (int len = 0; len <= max; len++) {
      if (h[len] != 0) {
        order.add(len);
      }
    }
    order.sort((a, b) -> Integer.compare(h[b], h[a]));
    StringBuilder s = new StringBuilder();
    for (int k = 0; k < Math.min(6, order.size()); k++) {
      int len = order.get(k);
      s.append(k == 0 ? "" : ", ")
          .append('/')
          .append(len)
          .append(' ')
          .append(String.format("%.0f%%", 100.0 * h[len] / total));
    }
    return s.append(order.size() > 6 ? ", ..." : "").toString();
  }

  private FamilyResult run(Family family) {
    FamilyResult result = family.result();
    Contender flat = family.flat();
    Contender dpdk = family.dpdk();
    int verifyN = Math.min(config.verifySample(), family.lookupCount());
    int[] sample = deleteSample(family.routeCount());
    boolean[] absent = new boolean[family.routeCount()];
    for (int r : sample) {
      absent[r] = true;
    }
    result.workload.put("delete_sample", sample.length);
    result.workload.put("verify_sample", verifyN);
    long minNanos = config.minMillis() * 1_000_000L;
    int routes = family.routeCount();
    int lookups = family.lookupCount();
    try (flat;
        dpdk) {
      for (int round = -config.warmup(); round < config.rounds(); round++) {
        boolean measured = round >= 0;
        int at = Math.max(round, 0);
        boolean flatFirst = Math.floorMod(round, 2) == 0;
        Contender[] order = flatFirst ? new Contender[] {flat, dpdk} : new Contender[] {dpdk, flat};
        String roundName =
            measured
                ? "round " + (round + 1) + "/" + config.rounds()
                : "warm-up " + (round + config.warmup() + 1) + "/" + config.warmup();
        long roundStart = System.nanoTime();
        double[] build = new double[2];
        double[] scalar = new double[2];
        double[] bulk = new double[2];
        double[] delete = new double[2];
        for (Contender c : order) {
          long t = System.nanoTime();
          c.build();
          build[c == flat ? 0 : 1] = routes / ((System.nanoTime() - t) / 1e9);
        }
        long memFlat = flat.tableBytes();
        long memDpdk = dpdk.tableBytes();
        long heapDpdk = dpdk.heapBytes();

        int[] dpdkAnswers = new int[verifyN];
        dpdk.answers(dpdkAnswers, true);
        verify(family, result, roundName + ", after build", flat, dpdkAnswers, null);

        for (Contender c : order) {
          scalar[c == flat ? 0 : 1] = nanosPerLookup(c, false, lookups, minNanos);
        }
        for (Contender c : order) {
          bulk[c == flat ? 0 : 1] = nanosPerLookup(c, true, lookups, minNanos);
        }
        for (Contender c : order) {
          long t = System.nanoTime();
          c.delete(sample);
          delete[c == flat ? 0 : 1] = sample.length / ((System.nanoTime() - t) / 1e9);
        }
        int[] dpdkAfterDelete = new int[verifyN];
        dpdk.answers(dpdkAfterDelete, true);
        verify(family, result, roundName + ", after deletes", flat, dpdkAfterDelete, absent);
        flat.free();
        dpdk.free();

        long t = System.nanoTime();
        flat.buildOneBatch();
        double oneBatch = routes / ((System.nanoTime() - t) / 1e9);
        verify(family, result, roundName + ", after one-batch build", flat, dpdkAnswers, null);
        flat.free();

        if (measured) {
          result.build.flat[at] = build[0];
          result.build.dpdk[at] = build[1];
          result.buildOneBatch.flat[at] = oneBatch;
          result.scalar.flat[at] = scalar[0];
          result.scalar.dpdk[at] = scalar[1];
          result.bulk.flat[at] = bulk[0];
          result.bulk.dpdk[at] = bulk[1];
          result.delete.flat[at] = delete[0];
          result.delete.dpdk[at] = delete[1];
          result.memory.flat[at] = memFlat;
          result.memory.dpdk[at] = memDpdk;
          result.dpdkHeap.dpdk[at] = heapDpdk;
        }
        progress.printf(
            "%s %s (%s first, %.1f s): flatnet/DPDK build %.2fx, scalar %.2fx, bulk %.2fx,"
                + " delete %.2fx%n",
            result.name,
            roundName,
            flatFirst ? "flatnet" : "DPDK",
            (System.nanoTime() - roundStart) / 1e9,
            build[0] / build[1],
            scalar[1] / scalar[0],
            bulk[1] / bulk[0],
            delete[0] / delete[1]);
      }
    }
    family.result(); // the DPDK lookup function is known once a table was made
    return result;
  }

  /** Distinct random route indexes, at most half the table. */
  private int[] deleteSample(int routes) {
    int n = Math.min(config.deleteSample(), routes / 2);
    SplittableRandom random = new SplittableRandom(config.seed() + 4);
    boolean[] taken = new boolean[routes];
    int[] out = new int[n];
    for (int got = 0; got < n; ) {
      int r = random.nextInt(routes);
      if (!taken[r]) {
        taken[r] = true;
        out[got++] = r;
      }
    }
    return out;
  }

  /** flatnet's scalar and bulk answers against DPDK's, for the first addresses. */
  private static void verify(
      Family family,
      FamilyResult result,
      String when,
      Contender flat,
      int[] dpdkAnswers,
      boolean[] absent) {
    int n = dpdkAnswers.length;
    int[] scalar = new int[n];
    int[] bulk = new int[n];
    flat.answers(scalar, false);
    flat.answers(bulk, true);
    result.verifiedLookups += 2L * n;
    for (int i = 0; i < n; i++) {
      if (scalar[i] != dpdkAnswers[i] || bulk[i] != dpdkAnswers[i]) {
        result.mismatches++;
        if (result.mismatchExamples.size() < 10) {
          result.mismatchExamples.add(
              String.format(
                  "%s %s: %s: flatnet scalar %d, flatnet bulk %d, %s %d",
                  result.name,
                  when,
                  family.explain(i, absent),
                  scalar[i],
                  bulk[i],
                  result.dpdkName,
                  dpdkAnswers[i]));
        }
      }
    }
  }

  private static double nanosPerLookup(Contender c, boolean bulk, int lookups, long minNanos) {
    long sum = 0;
    long done = 0;
    long start = System.nanoTime();
    long elapsed;
    do {
      sum += bulk ? c.bulkPass() : c.scalarPass();
      done += lookups;
      elapsed = System.nanoTime() - start;
    } while (elapsed < minNanos);
    sink += sum;
    return (double) elapsed / done;
  }
}
