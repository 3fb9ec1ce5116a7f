package io.flatnet.perf.e2e;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The JSON line {@code flatnet run} prints when it stops, for example {@code
 * {"forwarded":N,"forwarded_mpps":X,"rx":..,"tx":..,"seconds":..,"gc_collections":N,
 * "worker_allocated_bytes":N,"tx_by_port":{"net_vhost0":N, "net_vhost1":N},"drops":{"tx-full":N}}}.
 * A flat regex reading of that one known shape: no JSON library.
 */
public record FlatnetSummary(
    long forwarded,
    double forwardedMpps,
    long rx,
    double seconds,
    long gcCollections,
    long workerAllocatedBytes,
    Map<String, Long> txByPort,
    Map<String, Long> drops,
    String line) {

  private static final Pattern OBJECT = Pattern.compile("\"%s\"\\s*:\\s*\\{([^}]*)\\}");
  private static final Pattern ENTRY = Pattern.compile("\"([^\"]+)\"\\s*:\\s*(-?\\d+)");

  /** Parses the summary line if {@code line} is one. */
  public static Optional<FlatnetSummary> parse(String line) {
    String s = line.strip();
    if (!s.startsWith("{\"forwarded\"")) {
      return Optional.empty();
    }
    return Optional.of(
        new FlatnetSummary(
            (long) number(s, "forwarded"),
            number(s, "forwarded_mpps"),
            (long) number(s, "rx"),
            number(s, "seconds"),
            whole(s, "gc_collections"),
            whole(s, "worker_allocated_bytes"),
            object(s, "tx_by_port"),
            object(s, "drops"),
            s));
  }

  /**
   * The {@code capture} object of a run with {@code --capture-filter} (taken: records the filter
   * let through; records: consumed; ring_full: dropped at a full ring), plus {@code rx}; empty
   * without it.
   */
  public Map<String, Long> capture() {
    Map<String, Long> map = object(line, "capture");
    if (!map.isEmpty()) {
      map.put("rx", rx);
    }
    return map;
  }

  /**
   * The {@code policy} object of a run with synthetic policies ({@code flatnet run --policy-pods}),
   * plus {@code policy_denied_drops} (both directions, from {@code drops}); empty without it.
   */
  public Map<String, Long> policy() {
    Map<String, Long> map = object(line, "policy");
    if (!map.isEmpty()) {
      map.put(
          "policy_denied_drops",
          drops.getOrDefault("policy-denied-ingress", 0L)
              + drops.getOrDefault("policy-denied-egress", 0L));
    }
    return map;
  }

  /**
   * The {@code route_churn} object of a run with {@code --route-churn-per-second} (target_per_s,
   * per_s: updates a second achieved since the steady mark, adds, deletes, update_mean_ns,
   * update_max_ns, installed, skipped); empty without it.
   */
  public Map<String, Long> routeChurn() {
    return object(line, "route_churn");
  }

  /**
   * The {@code worker_loops} object (longest_ns: the workers' longest loop since the steady mark,
   * loops, loops_8us_or_more, longest_since_start_ns); empty from an older flatnet.
   */
  public Map<String, Long> workerLoops() {
    return object(line, "worker_loops");
  }

  /** The workers' longest loop since the steady mark, in microseconds (NaN if not reported). */
  public double longestLoopMicros() {
    Long ns = workerLoops().get("longest_ns");
    return ns == null ? Double.NaN : ns / 1e3;
  }

  /** The share of the DUT's transmitted packets that left by the first port (NaN if none). */
  public double port0TxShare() {
    long total = txByPort.values().stream().mapToLong(Long::longValue).sum();
    return total <= 0 ? Double.NaN : txByPort.values().iterator().next() / (double) total;
  }

  /** A whole-number field, or -1 when the line lacks it (an older flatnet). */
  private static long whole(String s, String key) {
    double value = number(s, key);
    return Double.isNaN(value) ? -1 : (long) value;
  }

  private static double number(String s, String key) {
    Matcher m =
        Pattern.compile("\"" + Pattern.quote(key) + "\"\\s*:\\s*(-?[0-9.eE+-]+)").matcher(s);
    return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
  }

  private static Map<String, Long> object(String s, String key) {
    Map<String, Long> map = new LinkedHashMap<>();
    Matcher m = Pattern.compile(OBJECT.pattern().formatted(Pattern.quote(key))).matcher(s);
    if (m.find()) {
      Matcher e = ENTRY.matcher(m.group(1));
      while (e.find()) {
        map.put(e.group(1), Long.parseLong(e.group(2)));
      }
    }
    return map;
  }
}
