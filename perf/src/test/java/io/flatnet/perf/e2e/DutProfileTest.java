package io.flatnet.perf.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DutProfileTest {
  /** perf report --stdio -q --sort dso --pid P of a flatnet DUT, as perf 6.x prints it. */
  private static final String FLATNET =
      """
          74.11%  librte_vhost.so.23.0    \s
          18.31%  [JIT] tid 7525          \s
           5.82%  librte_net_vhost.so.23.0
           0.69%  [vdso]                  \s
           0.03%  [JIT] tid 7530          \s

      """;

  @Test
  void sharesByObjectLargestFirstWithJitAsOneAndTheRestAsOther() {
    Map<String, Double> shares = DutProfile.parseReport(FLATNET);
    assertEquals(
        List.of(
            "librte_vhost.so.23.0",
            "[JIT]",
            "librte_net_vhost.so.23.0",
            "[vdso]",
            DutProfile.OTHER),
        List.copyOf(shares.keySet()));
    assertEquals(0.7411, shares.get("librte_vhost.so.23.0"), 1e-9);
    assertEquals(0.1834, shares.get("[JIT]"), 1e-9);
    assertEquals(1 - 0.7411 - 0.1834 - 0.0582 - 0.0069, shares.get(DutProfile.OTHER), 1e-9);
  }

  @Test
  void nsPerPacketSplitsVhostOwnCodeAndOther() {
    Map<String, Double> shares = DutProfile.parseReport(FLATNET);
    double[] ns = DutProfile.nsPerPacket(shares, 10.0); // 100 ns a packet
    assertArrayEquals(new double[] {79.93, 19.03, 100 - 79.93 - 19.03}, ns, 1e-6);
    assertTrue(
        DutProfile.line(shares, 10.0).startsWith("librte_vhost.so.23.0 74.1 ns, [JIT] 18.3 ns"));
  }

  @Test
  void noDataLinesGiveNoProfile() {
    assertTrue(DutProfile.parseReport("").isEmpty());
    assertTrue(DutProfile.parseReport("# Samples: 0\n#\n").isEmpty());
    assertTrue(DutProfile.parseReport("Error:\nThe perf.data data has no samples!\n").isEmpty());
  }
}
