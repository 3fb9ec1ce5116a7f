package io.flatnet.perf.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class StatsTest {

  @Test
  void medianOfOddAndEvenCountsAndSpread() {
    Stats.Summary odd = Stats.summarize(new double[] {3, 1, 2});
    assertEquals(new Stats.Summary(2, 1, 3, 3), odd);
    Stats.Summary even = Stats.summarize(new double[] {4, 1, 3, 2});
    assertEquals(2.5, even.median());
    assertEquals(1, even.min());
    assertEquals(4, even.max());
  }

  @Test
  void failedRoundsAreLeftOut() {
    Stats.Summary s = Stats.summarize(new double[] {Double.NaN, 5, 7});
    assertEquals(6, s.median());
    assertEquals(2, s.count());
    assertEquals(Stats.Summary.EMPTY, Stats.summarize(new double[] {Double.NaN}));
  }

  @Test
  void perRoundRatiosThenMedian() {
    double[] flatnet = {9, 12, Double.NaN, 10};
    double[] l3fwd = {10, 12, 11, 0};
    double[] r = Stats.ratios(flatnet, l3fwd);
    assertEquals(0.9, r[0], 1e-12);
    assertEquals(1.0, r[1], 1e-12);
    assertTrue(Double.isNaN(r[2]));
    assertTrue(Double.isNaN(r[3]), "no ratio to a zero rate");
    Stats.Summary s = Stats.summarize(r);
    assertEquals(0.95, s.median(), 1e-12);
    assertEquals(0.9, s.min(), 1e-12);
    assertThrows(IllegalArgumentException.class, () -> Stats.ratios(new double[1], new double[2]));
  }

  @Test
  void parsesFrameSizes() {
    assertEquals(List.of(64, 128, 1518), Stats.parseSizes("64, 128,1518,64"));
    assertThrows(IllegalArgumentException.class, () -> Stats.parseSizes("60"));
    assertThrows(IllegalArgumentException.class, () -> Stats.parseSizes("9000"));
    assertThrows(IllegalArgumentException.class, () -> Stats.parseSizes("x"));
    assertEquals(60, Commands.packetLength(64));
  }

  @Test
  void routingCheckThresholds() {
    assertTrue(Report.checkPasses(0.25, 0.25));
    assertTrue(Report.checkPasses(0.33, 0.25), "loss pushes the share up a little");
    assertTrue(!Report.checkPasses(0.5, 0.25), "hairpin");
    assertTrue(!Report.checkPasses(0.0, 0.25), "everything out of one port");
    assertTrue(!Report.checkPasses(Double.NaN, 0.25));
  }
}
