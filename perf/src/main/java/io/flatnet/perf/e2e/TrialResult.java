package io.flatnet.perf.e2e;

import java.util.Map;

/**
 * One trial: one DUT, one frame size, fresh processes.
 *
 * @param round 1-based round, 0 for the routing check
 * @param window the generator's figures for the measured window (null if the trial failed)
 * @param generatorForward the generator's "Forward statistics" per port at exit (TX-dropped there
 *     is the generator's own back-pressure: the virtio ring to the DUT was full)
 * @param dutTxByPort packets the DUT itself sent per port over its whole run, where it reports them
 *     (flatnet's JSON, testpmd's forward statistics; l3fwd prints none): empty otherwise
 * @param flatnet flatnet's JSON summary line, or null
 * @param error why the trial failed, or null
 * @param busyBefore how busy each CPU was (0..1) in the half second before the trial started, from
 *     other processes: the DUT's and generator's CPUs should be near 0
 * @param dutCounted the rate is the DUT's own transmit rate (an external generator drove it): loss
 *     and port shares are unknown
 * @param pktgen Pktgen-DPDK's own figures when it was the generator ({@code --generator pktgen}):
 *     then {@code window} comes from them too; null otherwise
 * @param dutProfile with {@code --profile}: the DUT's shared objects' shares (0..1) of its CPU's
 *     samples in the measured seconds, and {@link DutProfile#OTHER}; empty otherwise
 */
public record TrialResult(
    int round,
    DutSystem system,
    int frameBytes,
    TestpmdStats.Window window,
    Map<Integer, TestpmdStats.ForwardTotals> generatorForward,
    long[] dutTxByPort,
    FlatnetSummary flatnet,
    String error,
    double[] busyBefore,
    boolean dutCounted,
    PktgenStats.Result pktgen,
    Map<String, Double> dutProfile) {

  /** A trial that produced no figures, and why. */
  static TrialResult failed(
      int round, DutSystem system, int frameBytes, String error, boolean dutCounted) {
    return new TrialResult(
        round,
        system,
        frameBytes,
        null,
        Map.of(),
        new long[0],
        null,
        error,
        new double[0],
        dutCounted,
        null,
        Map.of());
  }

  /** A copy with the CPU load measured before the trial. */
  public TrialResult withBusyBefore(double[] busy) {
    return new TrialResult(
        round,
        system,
        frameBytes,
        window,
        generatorForward,
        dutTxByPort,
        flatnet,
        error,
        busy,
        dutCounted,
        pktgen,
        dutProfile);
  }

  public boolean ok() {
    return error == null && window != null;
  }

  /** Mpps returned to the generator in the measured window, NaN if the trial failed. */
  public double mpps() {
    return ok() ? window.mpps() : Double.NaN;
  }

  /** The DUT's own TX share on port 0 over its run (NaN where it reports none). */
  public double dutPort0TxShare() {
    if (dutTxByPort.length < 2) {
      return Double.NaN;
    }
    long total = dutTxByPort[0] + dutTxByPort[1];
    return total <= 0 ? Double.NaN : dutTxByPort[0] / (double) total;
  }

  /** Packets the generator could not hand to the DUT (ring full), summed over ports. */
  public long generatorTxDropped() {
    return generatorForward.values().stream()
        .mapToLong(TestpmdStats.ForwardTotals::txDropped)
        .sum();
  }
}
