package io.flatnet.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/**
 * The routed fabric end to end (docs/routing.md, "The two-rack demo"), as CI runs it: {@code
 * ./flatnet demo fabric --short}. Two FRR top-of-rack routers, four flatnet nodes that speak BGP
 * through their host path, one of them dual-homed: sessions Established, the remote pod CIDRs in
 * every FIB with origin bgp, ECMP on the dual-homed node, every pod reaching every pod over IPv4
 * and IPv6 without NAT, flows spread over both uplinks, and traffic flowing again after a ToR link
 * goes down. The demo checks all of it and exits non-zero on any failure. The nodes' FRR is run by
 * flatnet run from each node's bgp section.
 *
 * <p>Without FRR (zebra, bgpd, vtysh) this fails, it does not skip: CI installs {@code frr}
 * (./flatnet TEST_PKGS).
 *
 * <p>Run: {@code mvn -B -o -pl e2e -am verify -Dtest=FabricDemoTest
 * -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class FabricDemoTest {

  @Test
  @Timeout(value = 6, unit = java.util.concurrent.TimeUnit.MINUTES)
  void twoRacksRouteThroughBgpWithEcmpAndFailover() {
    assertEquals("", FabricDemo.missingTools(), "the fabric demo needs these; CI installs frr");
    long started = System.nanoTime();
    int exit = new CommandLine(new FabricDemo()).execute("--short");
    assertEquals(
        0,
        exit,
        "the fabric demo reported failed checks after "
            + Duration.ofNanos(System.nanoTime() - started).toSeconds()
            + " s (its output, in the surefire report, says which)");
  }
}
