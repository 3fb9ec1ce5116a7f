package io.flatnet.perf.e2e;

import java.util.ArrayList;
import java.util.List;

/**
 * The RFC 2544 throughput search, as pure logic: the highest rate whose trial lost no more than the
 * tolerance, found by binary search between bounds taken from the offered-load rate, in a bounded
 * number of trials.
 *
 * <ol>
 *   <li>The first trial runs at the upper bound (the rate the DUT returned at full offered load).
 *       If it passes, that is the answer.
 *   <li>Otherwise the second runs at the lower bound; while trials there fail, the bound moves down
 *       by the same factor (lower/upper) each step.
 *   <li>Then it bisects between the highest pass and the lowest fail, until the steps are used up
 *       or the gap is below {@code resolution} of the lowest fail.
 * </ol>
 *
 * The answer is the highest rate that passed; 0 if none did (then the zero-loss rate is below the
 * lowest rate tried).
 */
public final class ZeroLossSearch {

  /** One trial: the rate, whether it passed, and why it failed if the generator fell short. */
  public record Step(double rateMpps, boolean pass) {}

  private final double upper;
  private final double lowFactor;
  private final int maxSteps;
  private final double resolution;
  private final List<Step> steps = new ArrayList<>();
  private double highestPass = Double.NaN;
  private double lowestFail = Double.NaN;

  /**
   * @param upperMpps the upper bound (the offered-load rate), > 0
   * @param lowerMpps the lower bound, in (0, upper)
   * @param maxSteps at most this many trials, >= 1
   * @param resolution stop once (lowest fail - highest pass) / lowest fail is below this
   */
  public ZeroLossSearch(double upperMpps, double lowerMpps, int maxSteps, double resolution) {
    if (!(upperMpps > 0) || !(lowerMpps > 0) || lowerMpps >= upperMpps) {
      throw new IllegalArgumentException(
          "bounds must be 0 < lower < upper, got " + lowerMpps + " .. " + upperMpps);
    }
    if (maxSteps < 1) {
      throw new IllegalArgumentException("at least one step");
    }
    this.upper = upperMpps;
    this.lowFactor = lowerMpps / upperMpps;
    this.maxSteps = maxSteps;
    this.resolution = resolution;
  }

  /** The rate of the next trial in Mpps, or NaN when the search is over. */
  public double next() {
    if (steps.size() >= maxSteps) {
      return Double.NaN;
    }
    if (steps.isEmpty()) {
      return upper;
    }
    if (Double.isNaN(lowestFail)) {
      return Double.NaN; // the upper bound passed
    }
    if (Double.isNaN(highestPass)) {
      return lowestFail * lowFactor;
    }
    if ((lowestFail - highestPass) / lowestFail < resolution) {
      return Double.NaN;
    }
    return (highestPass + lowestFail) / 2;
  }

  /** Records the outcome of a trial at {@code rateMpps}. */
  public void record(double rateMpps, boolean pass) {
    steps.add(new Step(rateMpps, pass));
    if (pass) {
      if (Double.isNaN(highestPass) || rateMpps > highestPass) {
        highestPass = rateMpps;
      }
    } else if (Double.isNaN(lowestFail) || rateMpps < lowestFail) {
      lowestFail = rateMpps;
    }
  }

  public boolean done() {
    return Double.isNaN(next());
  }

  /** The zero-loss rate found: the highest passing rate, 0 if none passed. */
  public double result() {
    return Double.isNaN(highestPass) ? 0 : highestPass;
  }

  /** The lowest rate that failed (NaN if none): the zero-loss rate is below it. */
  public double lowestFail() {
    return lowestFail;
  }

  /** Whether the upper bound itself passed (the DUT lost nothing at the offered-load rate). */
  public boolean upperPassed() {
    return !steps.isEmpty() && steps.getFirst().pass();
  }

  public List<Step> steps() {
    return List.copyOf(steps);
  }

  /** Whether a trial's loss counts as zero loss under {@code tolerance}. */
  public static boolean passes(double lossFraction, double tolerance) {
    return Double.isFinite(lossFraction) && lossFraction <= tolerance;
  }
}
