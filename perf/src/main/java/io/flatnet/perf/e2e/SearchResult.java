package io.flatnet.perf.e2e;

import io.flatnet.perf.gen.GenTrial;
import java.util.List;

/**
 * One search session of one DUT in one round: flatnet's generator drove it through a warm-up at
 * full speed, the zero-loss binary search and the latency trials, all against the same DUT process.
 *
 * @param upperMpps the search's upper bound (the offered-load rate of the same round)
 * @param lowerMpps its lower bound
 * @param warmup the warm-up trial (unpaced): {@code returnedMpps()} is what the DUT returned to
 *     flatnet's generator at full speed
 * @param steps the search trials, in order, with whether each passed
 * @param zeroLossMpps the highest rate that passed (0 if none; NaN if the session failed)
 * @param latency the latency trials at fractions of {@code zeroLossMpps}
 * @param error why the session failed, or null
 * @param busyBefore each CPU's busy fraction just before it (other processes)
 * @param flatnet the JSON summary flatnet's DUT printed as it stopped (its own counters), or null
 * @param node a node DUT's figures ({@link NodeDut#figures}: the busy agent's rates, the agent
 *     restarts); empty for the other systems
 */
public record SearchResult(
    int round,
    DutSystem system,
    int frameBytes,
    double upperMpps,
    double lowerMpps,
    GenTrial warmup,
    List<SearchStep> steps,
    double zeroLossMpps,
    List<LatencyPoint> latency,
    String error,
    double[] busyBefore,
    FlatnetSummary flatnet,
    java.util.Map<String, Double> node) {

  /** A search trial and its verdict. */
  public record SearchStep(double rateMpps, GenTrial trial, boolean pass) {}

  /** A latency trial at {@code load} (fraction) of the zero-loss rate. */
  public record LatencyPoint(double load, double rateMpps, GenTrial trial) {}

  public boolean ok() {
    return error == null && Double.isFinite(zeroLossMpps);
  }

  /** Returned packets that came back on a port their route does not lead to, over the session. */
  public long misrouted() {
    long m = warmup == null ? 0 : warmup.misrouted();
    for (SearchStep s : steps) {
      m += s.trial().misrouted();
    }
    for (LatencyPoint p : latency) {
      m += p.trial().misrouted();
    }
    return m;
  }

  /** Whether some failing trial failed because the generator could not reach the rate. */
  public boolean generatorLimited() {
    return steps.stream().anyMatch(s -> !s.pass() && s.trial().generatorLimited());
  }

  /** The latency trial at {@code load}, or null. */
  public LatencyPoint at(double load) {
    for (LatencyPoint p : latency) {
      if (Math.abs(p.load() - load) < 1e-9) {
        return p;
      }
    }
    return null;
  }

  public SearchResult withBusyBefore(double[] busy) {
    return new SearchResult(
        round,
        system,
        frameBytes,
        upperMpps,
        lowerMpps,
        warmup,
        steps,
        zeroLossMpps,
        latency,
        error,
        busy,
        flatnet,
        node);
  }
}
