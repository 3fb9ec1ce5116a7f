package io.flatnet.perf.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.control.CaptureFilter;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The systems' labels and the capture systems' filters against the generators' flows. */
class DutSystemTest {
  /** Of the generators' 1,024 destinations (10.253.0.0 to 10.253.3.255), how many match. */
  private static int destinationsTaken(DutSystem system) {
    CaptureFilter filter = CaptureFilter.parse(system.captureFilter());
    CaptureFilter.Fields f = new CaptureFilter.Fields();
    int taken = 0;
    for (int i = 0; i < 1024; i++) {
      f.clear();
      f.family = 4;
      f.protocol = 17;
      f.srcLo = 0x0AFE_0000L; // 10.254.0.0
      f.dstLo = 0x0AFD_0000L + i;
      f.srcPort = 1000;
      f.dstPort = 1001;
      if (filter.matches(f)) {
        taken++;
      }
    }
    return taken;
  }

  @Test
  void captureSystemsTakeOneTenAndAHundredPercentOfTheFlows() {
    assertEquals(10, destinationsTaken(DutSystem.FLATNET_CAPTURE1));
    assertEquals(102, destinationsTaken(DutSystem.FLATNET_CAPTURE10));
    assertEquals(1024, destinationsTaken(DutSystem.FLATNET_CAPTURE100));
  }

  @Test
  void captureSystemsAreFlatnetWithoutPolicy() {
    for (DutSystem s :
        List.of(
            DutSystem.FLATNET_CAPTURE1,
            DutSystem.FLATNET_CAPTURE10,
            DutSystem.FLATNET_CAPTURE100)) {
      assertTrue(s.flatnet() && s.capture() && s.routes());
      assertFalse(s.policy());
    }
    assertNull(DutSystem.FLATNET.captureFilter());
    assertFalse(DutSystem.FLATNET_POLICY.capture());
  }

  @Test
  void labelsParseInTheOrderGiven() {
    assertEquals(
        List.of(DutSystem.FLATNET_CAPTURE100, DutSystem.FLATNET, DutSystem.FLATNET_CAPTURE1),
        DutSystem.parseList("flatnet-capture100, flatnet,flatnet-capture1"));
  }

  @Test
  void routeChurnIsFlatnetWithTheChurnRate() {
    DutSystem s = DutSystem.parseList("flatnet-routechurn").getFirst();
    assertEquals(DutSystem.FLATNET_ROUTECHURN, s);
    assertTrue(s.flatnet() && s.routes());
    assertFalse(s.policy() || s.capture());
    java.nio.file.Path p = java.nio.file.Path.of("/tmp/x");
    Commands c =
        new Commands(
            "dpdk-testpmd",
            null,
            "java",
            "cp",
            "",
            1,
            0,
            6,
            null,
            null,
            new Commands.PolicyBench(1024, 10, 1000, 0, 2500));
    List<String> dut = c.dut(s, p, p, RouteSet.standard(), p, p, p);
    int i = dut.indexOf("--route-churn-per-second");
    assertTrue(i > 0, dut.toString());
    assertEquals("2500", dut.get(i + 1));
    assertFalse(
        c.dut(DutSystem.FLATNET, p, p, RouteSet.standard(), p, p, p)
            .contains("--route-churn-per-second"));
    assertEquals(10_000, Commands.PolicyBench.DEFAULT.routeChurnPerSecond());
    assertEquals(10_000, new Commands.PolicyBench(1, 1, 1, 0).routeChurnPerSecond());
  }
}
