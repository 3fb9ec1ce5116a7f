package io.flatnet.perf.e2e;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads what {@link PktgenScript}'s Lua script prints through pktgen's terminal ({@code
 * script(1)}): lines that contain {@link #MARKER}, possibly after escape sequences and ending in a
 * carriage return, e.g.
 *
 * <pre>
 * flatnet-pktgen sec measure 3 rx0 4101234 rx1 4099876 tx0 4120001 tx1 4119987
 * flatnet-pktgen port 0 tx 41234567 rx 41000000 missed 0 ierrors 0 oerrors 0 nombuf 0 lat_pkts 99876
 *     lat_skipped 12 lat_min_us 31.250 lat_avg_us 76.900 lat_max_us 5400.100
 * flatnet-pktgen done
 * </pre>
 *
 * <p>The {@code sec} lines are pktgen's own 1 s rates (packets in its last statistics period, taken
 * by its timer thread); the {@code port} lines its totals since the counters were cleared after the
 * warm-up, read after the traffic stopped and the rings drained, and its latency figures over the
 * same time (TSC stamps in probe packets, measured where they are received).
 */
public final class PktgenStats {

  /** The word every line of the script starts with. */
  public static final String MARKER = "flatnet-pktgen";

  private static final Pattern ESCAPES = Pattern.compile("\u001b\\[[0-9;?]*[A-Za-z]");
  private static final Pattern SECOND =
      Pattern.compile("^sec (\\w+) (\\d+) rx0 (\\d+) rx1 (\\d+) tx0 (\\d+) tx1 (\\d+)$");
  private static final Pattern WARMUP_LATENCY =
      Pattern.compile(
          "^warmup_latency (\\d+) lat_pkts (\\d+) lat_avg_us ([\\d.]+) lat_max_us ([\\d.]+)"
              + " tx (\\d+) rx (\\d+)$");
  private static final Pattern PORT =
      Pattern.compile(
          "^port (\\d+) tx (\\d+) rx (\\d+) missed (\\d+) ierrors (\\d+) oerrors (\\d+) nombuf"
              + " (\\d+) lat_pkts (\\d+) lat_skipped (\\d+) lat_min_us ([\\d.]+) lat_avg_us"
              + " ([\\d.]+) lat_max_us ([\\d.]+)$");

  /** One of pktgen's 1 s rate samples; {@code phase} is warmup, partial or measure. */
  public record Second(String phase, int n, long[] rx, long[] tx) {
    public double rxMpps() {
      return (rx[0] + rx[1]) / 1e6;
    }
  }

  /** One port's totals since the clear, and the latency of the probes it received. */
  public record Port(
      int port,
      long tx,
      long rx,
      long missed,
      long ierrors,
      long oerrors,
      long rxNombuf,
      long latencyPackets,
      long latencySkipped,
      double latencyMinMicros,
      double latencyAvgMicros,
      double latencyMaxMicros) {}

  /**
   * The latency of the probes one port received during the warm-up (before the clear), and the
   * port's totals then (pktgen's last 1 s sample: up to a second old).
   */
  public record WarmupLatency(
      int port, long packets, double avgMicros, double maxMicros, long tx, long rx) {}

  /** A trial's figures from pktgen; {@code warmup} may be empty (no warm-up). */
  public record Result(List<Second> seconds, List<Port> ports, List<WarmupLatency> warmup) {

    /** The largest probe latency of the warm-up (NaN if no probe came back then). */
    public double warmupLatencyMaxMicros() {
      return warmup.stream()
          .filter(w -> w.packets() > 0)
          .mapToDouble(WarmupLatency::maxMicros)
          .max()
          .orElse(Double.NaN);
    }

    /** The warm-up's loss: TX minus RX over TX at its last sample (NaN without a warm-up). */
    public double warmupLossFraction() {
      long tx = warmup.stream().mapToLong(WarmupLatency::tx).sum();
      long rx = warmup.stream().mapToLong(WarmupLatency::rx).sum();
      return tx <= 0 ? Double.NaN : Math.max(0, tx - rx) / (double) tx;
    }

    /** Mean of the measured seconds' RX rates, both ports (NaN if none). */
    public double measuredRxMpps() {
      return seconds.stream()
          .filter(s -> s.phase().equals("measure"))
          .mapToDouble(Second::rxMpps)
          .average()
          .orElse(Double.NaN);
    }

    public int measuredSeconds() {
      return (int) seconds.stream().filter(s -> s.phase().equals("measure")).count();
    }

    /** Every second's RX rate, warm-up included, in Mpps. */
    public double[] perSecondRxMpps() {
      return seconds.stream().mapToDouble(Second::rxMpps).toArray();
    }

    public long[] txByPort() {
      return ports.stream().mapToLong(Port::tx).toArray();
    }

    public long[] rxByPort() {
      return ports.stream().mapToLong(Port::rx).toArray();
    }

    public long missed() {
      return ports.stream().mapToLong(Port::missed).sum();
    }

    public long errors() {
      return ports.stream().mapToLong(p -> p.ierrors() + p.oerrors() + p.rxNombuf()).sum();
    }

    public long latencyPackets() {
      return ports.stream().mapToLong(Port::latencyPackets).sum();
    }

    public long latencySkipped() {
      return ports.stream().mapToLong(Port::latencySkipped).sum();
    }

    /** Mean latency over both ports' probes (NaN if none came back). */
    public double latencyAvgMicros() {
      long n = latencyPackets();
      if (n <= 0) {
        return Double.NaN;
      }
      double sum = 0;
      for (Port p : ports) {
        sum += p.latencyAvgMicros() * p.latencyPackets();
      }
      return sum / n;
    }

    /** The largest latency of any probe (NaN if none came back). */
    public double latencyMaxMicros() {
      return latencyPackets() <= 0
          ? Double.NaN
          : ports.stream().mapToDouble(Port::latencyMaxMicros).max().orElse(Double.NaN);
    }

    /** The smallest latency of any probe (NaN if none came back). */
    public double latencyMinMicros() {
      return ports.stream()
          .filter(p -> p.latencyPackets() > 0)
          .mapToDouble(Port::latencyMinMicros)
          .min()
          .orElse(Double.NaN);
    }

    /** The measured window as the bench's other generators give it. */
    public TestpmdStats.Window window() {
      return new TestpmdStats.Window(
          measuredRxMpps(), rxByPort(), txByPort(), perSecondRxMpps(), measuredSeconds());
    }
  }

  private final List<Second> seconds = new ArrayList<>();
  private final Port[] ports = new Port[2];
  private final List<WarmupLatency> warmup = new ArrayList<>();
  private boolean ready;
  private boolean done;

  /** The line without escape sequences and carriage returns, from the marker on; else empty. */
  static Optional<String> payload(String line) {
    String clean = ESCAPES.matcher(line).replaceAll("").replace("\r", "");
    int at = clean.indexOf(MARKER + " ");
    if (at < 0) {
      return Optional.empty();
    }
    return Optional.of(clean.substring(at + MARKER.length() + 1).strip());
  }

  /** Takes one line of pktgen's output; returns true if it was one of the script's. */
  public synchronized boolean accept(String line) {
    Optional<String> p = payload(line);
    if (p.isEmpty()) {
      return false;
    }
    String s = p.get();
    if (s.startsWith("ready")) {
      ready = true;
      return true;
    }
    if (s.equals("done")) {
      done = true;
      return true;
    }
    Matcher m = SECOND.matcher(s);
    if (m.matches()) {
      seconds.add(
          new Second(
              m.group(1),
              Integer.parseInt(m.group(2)),
              new long[] {Long.parseLong(m.group(3)), Long.parseLong(m.group(4))},
              new long[] {Long.parseLong(m.group(5)), Long.parseLong(m.group(6))}));
      return true;
    }
    m = WARMUP_LATENCY.matcher(s);
    if (m.matches()) {
      warmup.add(
          new WarmupLatency(
              Integer.parseInt(m.group(1)),
              Long.parseLong(m.group(2)),
              Double.parseDouble(m.group(3)),
              Double.parseDouble(m.group(4)),
              Long.parseLong(m.group(5)),
              Long.parseLong(m.group(6))));
      return true;
    }
    m = PORT.matcher(s);
    if (m.matches()) {
      int port = Integer.parseInt(m.group(1));
      if (port == 0 || port == 1) {
        ports[port] =
            new Port(
                port,
                Long.parseLong(m.group(2)),
                Long.parseLong(m.group(3)),
                Long.parseLong(m.group(4)),
                Long.parseLong(m.group(5)),
                Long.parseLong(m.group(6)),
                Long.parseLong(m.group(7)),
                Long.parseLong(m.group(8)),
                Long.parseLong(m.group(9)),
                Double.parseDouble(m.group(10)),
                Double.parseDouble(m.group(11)),
                Double.parseDouble(m.group(12)));
      }
      return true;
    }
    return true;
  }

  public synchronized boolean ready() {
    return ready;
  }

  /** Whether the script printed its last line. */
  public synchronized boolean done() {
    return done;
  }

  /** How many 1 s samples have come so far. */
  public synchronized int secondsSeen() {
    return seconds.size();
  }

  /** The figures, once both ports' totals and some measured seconds came; else empty. */
  public synchronized Optional<Result> result() {
    if (ports[0] == null || ports[1] == null) {
      return Optional.empty();
    }
    Result r = new Result(List.copyOf(seconds), List.of(ports[0], ports[1]), List.copyOf(warmup));
    return r.measuredSeconds() > 0 ? Optional.of(r) : Optional.empty();
  }
}
