package io.flatnet.perf.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TestpmdStatsTest {

  /** A periodic block as dpdk-testpmd 22.11 prints it (escape sequences included). */
  static String block(long rx0, long tx0, long rxPps0, long rx1, long tx1, long rxPps1) {
    return """
        \u001b[2J\u001b[1;1H
        Port statistics ====================================
          ######################## NIC statistics for port 0  ########################
          RX-packets: %d   RX-missed: 0          RX-bytes:  703750656
          RX-errors: 0
          RX-nombuf:  0
          TX-packets: %d   TX-errors: 0          TX-bytes:  704067840

          Throughput (since last show)
          Rx-pps:      %d          Rx-bps:   1159569080
          Tx-pps:      2589987          Tx-bps:   1160314432
          ############################################################################

          ######################## NIC statistics for port 1  ########################
          RX-packets: %d   RX-missed: 0          RX-bytes:  703747072
          RX-errors: 0
          RX-nombuf:  0
          TX-packets: %d   TX-errors: 0          TX-bytes:  704069632

          Throughput (since last show)
          Rx-pps:      %d          Rx-bps:   1159539608
          Tx-pps:      2590065          Tx-bps:   1160349464
          ############################################################################
        """
        .formatted(rx0, tx0, rxPps0, rx1, tx1, rxPps1);
  }

  static final String FORWARD =
      """
      Telling cores to stop...
        ---------------------- Forward statistics for port 0  ----------------------
        RX-packets: 17302560       RX-dropped: 0             RX-total: 17302560
        TX-packets: 17312608       TX-dropped: 2232224       TX-total: 19544832
        ----------------------------------------------------------------------------

        ---------------------- Forward statistics for port 1  ----------------------
        RX-packets: 17302368       RX-dropped: 0             RX-total: 17302368
        TX-packets: 17312448       TX-dropped: 2232384       TX-total: 19544832
        ----------------------------------------------------------------------------

        +++++++++++++++ Accumulated forward statistics for all ports+++++++++++++++
        RX-packets: 34604928       RX-dropped: 0             RX-total: 34604928
        TX-packets: 34625056       TX-dropped: 4464608       TX-total: 39089664
        ++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++
      """;

  private static int feed(TestpmdStats p, String text) {
    int completed = 0;
    for (String line : text.split("\n")) {
      if (p.accept(line).isPresent()) {
        completed++;
      }
    }
    return completed;
  }

  @Test
  void parsesPeriodicBlocks() {
    TestpmdStats p = new TestpmdStats(2);
    assertEquals(1, feed(p, block(100, 200, 3_000_000, 300, 400, 1_000_000)));
    TestpmdStats.Block b = p.blocks().getFirst();
    assertEquals(new TestpmdStats.PortSample(100, 200, 3_000_000, 2589987), b.ports().get(0));
    assertEquals(new TestpmdStats.PortSample(300, 400, 1_000_000, 2590065), b.ports().get(1));
    assertEquals(4_000_000, b.rxPps());
  }

  @Test
  void parsesForwardStatisticsAndIgnoresTheAccumulatedSection() {
    TestpmdStats p = new TestpmdStats(2);
    feed(p, block(1, 1, 1, 1, 1, 1) + FORWARD);
    Map<Integer, TestpmdStats.ForwardTotals> f = p.forwardTotals();
    assertEquals(2, f.size());
    assertEquals(new TestpmdStats.ForwardTotals(17302560, 0, 17312608, 2232224), f.get(0));
    assertEquals(new TestpmdStats.ForwardTotals(17302368, 0, 17312448, 2232384), f.get(1));
  }

  @Test
  void incompleteBlockIsNotReported() {
    TestpmdStats p = new TestpmdStats(2);
    String full = block(1, 1, 1, 1, 1, 1);
    String half = full.substring(0, full.indexOf("NIC statistics for port 1"));
    assertEquals(0, feed(p, half));
    assertEquals(1, feed(p, full));
    assertEquals(1, p.blocks().size());
  }

  @Test
  void windowSkipsStartAndWarmupAndUsesCounterDifferences() {
    TestpmdStats p = new TestpmdStats(2);
    // Block 0 at start, then one a second: 1 Mpps per port except the warm-up second.
    feed(p, block(0, 0, 0, 0, 0, 0));
    feed(p, block(100_000, 100_000, 100_000, 100_000, 100_000, 100_000)); // warm-up
    feed(p, block(1_100_000, 1_200_000, 1_000_000, 1_100_000, 1_200_000, 1_000_000));
    feed(p, block(2_100_000, 2_300_000, 1_000_000, 2_100_000, 2_300_000, 1_000_000));
    List<TestpmdStats.Block> blocks = p.blocks();
    TestpmdStats.Window w = TestpmdStats.window(blocks, 1, 2).orElseThrow();
    assertEquals(2.0, w.mpps(), 1e-9);
    assertEquals(2_000_000, w.rxByPort()[0]);
    assertEquals(4_000_000, w.rx());
    assertEquals(4_400_000, w.tx());
    assertEquals(1 - 4.0 / 4.4, w.lossFraction(), 1e-12);
    assertEquals(0.5, w.port0Share(), 1e-12);
    assertEquals(4, w.perSecondMpps().length);
    assertTrue(TestpmdStats.window(blocks, 1, 3).isEmpty(), "not enough blocks");
  }
}
