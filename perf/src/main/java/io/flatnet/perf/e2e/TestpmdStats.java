package io.flatnet.perf.e2e;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses dpdk-testpmd 22.11 output, line by line: the blocks {@code --stats-period} prints (per
 * port cumulative RX/TX-packets and the RX/TX packet rates testpmd computes from its own TSC over
 * the interval since the previous block) and the "Forward statistics" it prints when it stops.
 *
 * <p>A periodic block looks like this (one section per port):
 *
 * <pre>
 * Port statistics ====================================
 *   ######################## NIC statistics for port 0  ########################
 *   RX-packets: 12566976   RX-missed: 0          RX-bytes:  703750656
 *   TX-packets: 12572640   TX-errors: 0          TX-bytes:  704067840
 *   Throughput (since last show)
 *   Rx-pps:      2588323          Rx-bps:   1159569080
 *   Tx-pps:      2589987          Tx-bps:   1160314432
 * </pre>
 *
 * Not thread-safe: feed it from the one thread that reads the process output.
 */
public final class TestpmdStats {

  /** One port's figures in one periodic block: cumulative packets and per-second rates. */
  public record PortSample(long rxPackets, long txPackets, long rxPps, long txPps) {}

  /** One periodic block: a sample for each port, in port order. */
  public record Block(List<PortSample> ports) {
    public Block {
      ports = List.copyOf(ports);
    }

    /** Packets a second received over all ports (testpmd's own rate for the interval). */
    public long rxPps() {
      return ports.stream().mapToLong(PortSample::rxPps).sum();
    }

    /** Packets a second transmitted over all ports. */
    public long txPps() {
      return ports.stream().mapToLong(PortSample::txPps).sum();
    }
  }

  /** A port's "Forward statistics" at exit: packets the forwarding engine received and sent. */
  public record ForwardTotals(long rxPackets, long rxDropped, long txPackets, long txDropped) {}

  private static final Pattern NIC_PORT = Pattern.compile("NIC statistics for port (\\d+)");
  private static final Pattern FWD_PORT = Pattern.compile("Forward statistics for port (\\d+)");
  private static final Pattern NIC_RX = Pattern.compile("RX-packets:\\s*(\\d+)\\s+RX-missed:");
  private static final Pattern NIC_TX = Pattern.compile("TX-packets:\\s*(\\d+)\\s+TX-errors:");
  private static final Pattern RX_PPS = Pattern.compile("Rx-pps:\\s*(\\d+)");
  private static final Pattern TX_PPS = Pattern.compile("Tx-pps:\\s*(\\d+)");
  private static final Pattern FWD_RX =
      Pattern.compile("RX-packets:\\s*(\\d+)\\s+RX-dropped:\\s*(\\d+)");
  private static final Pattern FWD_TX =
      Pattern.compile("TX-packets:\\s*(\\d+)\\s+TX-dropped:\\s*(\\d+)");

  private final int portCount;
  private final List<Block> blocks = new ArrayList<>();
  private final Map<Integer, ForwardTotals> forward = new TreeMap<>();
  private long[][] current; // [port][rxPackets, txPackets, rxPps, txPps], -1 = not seen
  private int nicPort = -1;
  private int fwdPort = -1;
  private long fwdRx;
  private long fwdRxDropped;

  /** A parser for a testpmd that forwards on {@code portCount} ports (0 .. portCount-1). */
  public TestpmdStats(int portCount) {
    if (portCount < 1) {
      throw new IllegalArgumentException("portCount " + portCount);
    }
    this.portCount = portCount;
  }

  /** Feeds one line; returns the periodic block it completed, if it completed one. */
  public Optional<Block> accept(String line) {
    if (line.contains("Port statistics ====")) {
      current = new long[portCount][4];
      for (long[] port : current) {
        Arrays.fill(port, -1);
      }
      nicPort = -1;
      fwdPort = -1;
      return Optional.empty();
    }
    Matcher m = NIC_PORT.matcher(line);
    if (m.find()) {
      nicPort = Integer.parseInt(m.group(1));
      fwdPort = -1;
      return Optional.empty();
    }
    m = FWD_PORT.matcher(line);
    if (m.find()) {
      fwdPort = Integer.parseInt(m.group(1));
      nicPort = -1;
      return Optional.empty();
    }
    if (line.contains("Accumulated forward statistics")) {
      fwdPort = -1;
      nicPort = -1;
      return Optional.empty();
    }
    if (fwdPort >= 0) {
      return acceptForward(line);
    }
    if (current == null || nicPort < 0 || nicPort >= portCount) {
      return Optional.empty();
    }
    long[] port = current[nicPort];
    if ((m = NIC_RX.matcher(line)).find()) {
      port[0] = Long.parseLong(m.group(1));
    } else if ((m = NIC_TX.matcher(line)).find()) {
      port[1] = Long.parseLong(m.group(1));
    } else if ((m = RX_PPS.matcher(line)).find()) {
      port[2] = Long.parseLong(m.group(1));
    } else if ((m = TX_PPS.matcher(line)).find()) {
      port[3] = Long.parseLong(m.group(1));
      return completeBlock();
    }
    return Optional.empty();
  }

  private Optional<Block> acceptForward(String line) {
    Matcher m = FWD_RX.matcher(line);
    if (m.find()) {
      fwdRx = Long.parseLong(m.group(1));
      fwdRxDropped = Long.parseLong(m.group(2));
      return Optional.empty();
    }
    m = FWD_TX.matcher(line);
    if (m.find()) {
      forward.put(
          fwdPort,
          new ForwardTotals(
              fwdRx, fwdRxDropped, Long.parseLong(m.group(1)), Long.parseLong(m.group(2))));
      fwdPort = -1;
    }
    return Optional.empty();
  }

  private Optional<Block> completeBlock() {
    for (long[] port : current) {
      for (long v : port) {
        if (v < 0) {
          return Optional.empty();
        }
      }
    }
    List<PortSample> samples = new ArrayList<>(portCount);
    for (long[] p : current) {
      samples.add(new PortSample(p[0], p[1], p[2], p[3]));
    }
    Block block = new Block(samples);
    blocks.add(block);
    current = null;
    nicPort = -1;
    return Optional.of(block);
  }

  /** Every complete periodic block so far, oldest first. */
  public List<Block> blocks() {
    return List.copyOf(blocks);
  }

  /** The "Forward statistics" per port, once testpmd has printed them at exit. */
  public Map<Integer, ForwardTotals> forwardTotals() {
    return Map.copyOf(forward);
  }

  /**
   * The figures of a measurement window: blocks {@code warmup+1 .. warmup+measure} (block 0 is the
   * one testpmd prints as it starts; blocks 1..warmup are the warm-up).
   *
   * @param mpps mean over the window's blocks of the RX rate summed over ports, in Mpps
   * @param rxByPort packets received per port in the window (cumulative counter differences)
   * @param txByPort packets transmitted per port in the window
   * @param perSecondMpps the RX rate of every block of the trial, warm-up included
   */
  public record Window(
      double mpps, long[] rxByPort, long[] txByPort, double[] perSecondMpps, int blocks) {

    public long rx() {
      return Arrays.stream(rxByPort).sum();
    }

    public long tx() {
      return Arrays.stream(txByPort).sum();
    }

    /** Packets sent but not returned in the window, as a fraction of those sent (>= 0). */
    public double lossFraction() {
      long tx = tx();
      return tx <= 0 ? 0 : Math.max(0, tx - rx()) / (double) tx;
    }

    /** The share of returned packets that came back on port 0. */
    public double port0Share() {
      long rx = rx();
      return rx <= 0 ? Double.NaN : rxByPort[0] / (double) rx;
    }
  }

  /** The window after {@code warmup} blocks, {@code measure} blocks long; empty if too few. */
  public static Optional<Window> window(List<Block> blocks, int warmup, int measure) {
    if (warmup < 0 || measure < 1 || blocks.size() < warmup + measure + 1) {
      return Optional.empty();
    }
    Block start = blocks.get(warmup);
    Block end = blocks.get(warmup + measure);
    int ports = start.ports().size();
    long[] rx = new long[ports];
    long[] tx = new long[ports];
    for (int p = 0; p < ports; p++) {
      rx[p] = end.ports().get(p).rxPackets() - start.ports().get(p).rxPackets();
      tx[p] = end.ports().get(p).txPackets() - start.ports().get(p).txPackets();
    }
    double sum = 0;
    for (int i = warmup + 1; i <= warmup + measure; i++) {
      sum += blocks.get(i).rxPps();
    }
    double[] perSecond = blocks.stream().mapToDouble(b -> b.rxPps() / 1e6).toArray();
    return Optional.of(new Window(sum / measure / 1e6, rx, tx, perSecond, measure));
  }
}
