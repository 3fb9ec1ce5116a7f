package io.flatnet.dataplane.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.route.Ipv4Prefix;
import org.junit.jupiter.api.Test;

/** Parsing of {@code ./flatnet run}'s arguments: bad input gets an error that names it. */
class RunMainTest {

  @Test
  void routeParsesPrefixPortAndOptionalMac() {
    RunMain.StaticRoute route = RunMain.StaticRoute.parse("10.253.0.0/23=1", 2);
    assertEquals(Ipv4Prefix.parse("10.253.0.0/23"), route.prefix());
    assertEquals(1, route.portIndex());
    assertEquals(0x02_00_00_00_00_01L, route.mac());
    assertEquals(
        0x52_54_00_aa_bb_ccL, RunMain.StaticRoute.parse("0.0.0.0/0=0@52:54:00:aa:bb:cc", 1).mac());
  }

  @Test
  void badRoutesNameWhatIsWrong() {
    assertMessage("expected PREFIX=PORT", () -> RunMain.StaticRoute.parse("10.0.0.0/8", 1));
    assertMessage("port 3 does not exist", () -> RunMain.StaticRoute.parse("10.0.0.0/8=3", 2));
    assertMessage("is not a number", () -> RunMain.StaticRoute.parse("10.0.0.0/8=x", 2));
    assertMessage("bad MAC", () -> RunMain.StaticRoute.parse("10.0.0.0/8=0@zz:00", 1));
    assertMessage("10.0.0.1/8", () -> RunMain.StaticRoute.parse("10.0.0.1/8=0", 1));
  }

  @Test
  void pciAddressesAreRecognised() {
    assertTrue(RunMain.isPciAddress("0000:3b:00.0"));
    assertTrue(RunMain.isPciAddress("3b:00.1"));
    assertFalse(RunMain.isPciAddress("net_vhost0"));
  }

  @Test
  void idleStrategiesAreNamed() {
    assertMessage("busy-spin or backoff", () -> IdleStrategies.parse("sleepy"));
  }

  private static void assertMessage(String expected, Runnable action) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, action::run);
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }
}
