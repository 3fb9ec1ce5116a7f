package io.flatnet.perf.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.DoublePredicate;
import org.junit.jupiter.api.Test;

class ZeroLossSearchTest {

  /** Runs a search against a DUT that passes exactly the rates {@code passes} accepts. */
  private static ZeroLossSearch run(double upper, double lower, int steps, DoublePredicate passes) {
    ZeroLossSearch s = new ZeroLossSearch(upper, lower, steps, 0.001);
    int trials = 0;
    for (double r = s.next(); !Double.isNaN(r); r = s.next()) {
      s.record(r, passes.test(r));
      trials++;
    }
    assertTrue(trials <= steps);
    return s;
  }

  @Test
  void upperBoundPassingEndsTheSearchAtOnce() {
    ZeroLossSearch s = run(10, 5, 8, r -> true);
    assertEquals(10, s.result());
    assertEquals(1, s.steps().size());
    assertTrue(s.upperPassed());
  }

  @Test
  void bisectsTowardsTheThreshold() {
    // True zero-loss rate 7.3: upper 10 fails, lower 5 passes, then 7.5 F, 6.25 P, 6.875 P, ...
    ZeroLossSearch s = run(10, 5, 8, r -> r <= 7.3);
    assertEquals(10, s.steps().get(0).rateMpps());
    assertEquals(5, s.steps().get(1).rateMpps());
    assertEquals(7.5, s.steps().get(2).rateMpps());
    assertEquals(8, s.steps().size());
    assertTrue(s.result() <= 7.3 && s.result() > 7.3 - 5.0 / 32, "result " + s.result());
    assertTrue(s.lowestFail() > 7.3);
    assertFalse(s.upperPassed());
  }

  @Test
  void movesTheLowerBoundDownWhenEvenItFails() {
    // Threshold 2: 10 F, 5 F, 2.5 F, 1.25 P, then bisect 1.25..2.5.
    ZeroLossSearch s = run(10, 5, 6, r -> r <= 2);
    assertEquals(2.5, s.steps().get(2).rateMpps());
    assertEquals(1.25, s.steps().get(3).rateMpps());
    assertEquals(1.875, s.steps().get(4).rateMpps());
    assertEquals(1.875, s.result()); // 1.875 P, then 2.1875 F
  }

  @Test
  void noPassingRateGivesZero() {
    ZeroLossSearch s = run(10, 5, 3, r -> false);
    assertEquals(0, s.result());
    assertEquals(2.5, s.lowestFail());
  }

  @Test
  void stopsAtTheResolution() {
    ZeroLossSearch s = new ZeroLossSearch(10, 5, 100, 0.05);
    int trials = 0;
    for (double r = s.next(); !Double.isNaN(r); r = s.next()) {
      s.record(r, r <= 7.3);
      trials++;
    }
    // 10 F, 5 P, 7.5 F, 6.25 P, 6.875 P, 7.1875 P: gap 0.3125/7.5 < 0.05 -> stop.
    assertEquals(6, trials);
    assertEquals(7.1875, s.result());
  }

  @Test
  void toleranceAndBounds() {
    assertTrue(ZeroLossSearch.passes(0, 0));
    assertFalse(ZeroLossSearch.passes(1e-7, 0));
    assertTrue(ZeroLossSearch.passes(1e-7, 1e-6));
    assertFalse(ZeroLossSearch.passes(Double.NaN, 1));
    assertThrows(IllegalArgumentException.class, () -> new ZeroLossSearch(5, 5, 3, 0));
    assertThrows(IllegalArgumentException.class, () -> new ZeroLossSearch(0, 0.5, 3, 0));
    assertThrows(IllegalArgumentException.class, () -> new ZeroLossSearch(5, 1, 0, 0));
  }

  @Test
  void latencyLoadsParse() {
    double[] l = E2eCommand.parseLoads("10, 50,90");
    assertEquals(3, l.length);
    assertEquals(0.5, l[1], 1e-12);
    assertThrows(IllegalArgumentException.class, () -> E2eCommand.parseLoads("0"));
    assertThrows(IllegalArgumentException.class, () -> E2eCommand.parseLoads("x"));
  }
}
