package io.flatnet.dataplane.demo;

import io.flatnet.dataplane.Routes;
import io.flatnet.dpdk.EthDev;
import io.flatnet.route.Ipv4Lookup;
import io.flatnet.route.NextHops;
import java.util.Locale;

/**
 * The demo's routes, chosen to match what testpmd flowgen really sends (10.253.0.0-10.253.3.255,
 * evenly) and to make routing visible: a quarter of the flows go to pod0 and three quarters to
 * pod1, while each pod sends half. A router that hairpinned (sent packets back where they came
 * from) would show 50/50; only real lookups give 25/75.
 */
final class DemoRoutes {
  private static final double[] EXPECTED_SHARE = {0.25, 0.75};
  private static final double TOLERANCE = 0.05;

  private final Routes routes;
  private final int[] ports;

  private DemoRoutes(Routes routes, int[] ports) {
    this.routes = routes;
    this.ports = ports;
  }

  static DemoRoutes install(int[] ports) {
    long[] srcMacs = {EthDev.macAddress(ports[0]), EthDev.macAddress(ports[1])};
    long[] dstMacs = {0x02_00_00_00_00_10L, 0x02_00_00_00_00_11L};
    Ipv4Lookup lookup =
        destination -> {
          if ((destination >>> 8) == 0x0AFD00) {
            return 1;
          }
          if ((destination >>> 8) == 0x0AFD01 || (destination >>> 9) == (0x0AFD0200 >>> 9)) {
            return 2;
          }
          return NextHops.NO_ROUTE;
        };
    NextHops hops =
        new NextHops() {
          @Override
          public int kind(int nextHop) {
            return nextHop == 0 ? KIND_NO_ROUTE : KIND_FORWARD;
          }

          @Override
          public int port(int nextHop) {
            return ports[nextHop - 1];
          }

          @Override
          public long dstMac(int nextHop) {
            return dstMacs[nextHop - 1];
          }

          @Override
          public long srcMac(int nextHop) {
            return srcMacs[nextHop - 1];
          }
        };
    return new DemoRoutes(new Routes(lookup, hops), ports);
  }

  Routes routes() {
    return routes;
  }

  String describe() {
    return "10.253.0.0/24 -> pod0, 10.253.1.0/24 -> pod1, 10.253.2.0/23 -> pod1"
        + " (flowgen sends 10.254.0.0 -> 10.253.0-3.x)";
  }

  boolean sharesMatch(long[] txByPort) {
    long total = txByPort[0] + txByPort[1];
    if (total == 0) {
      return false;
    }
    for (int i = 0; i < ports.length; i++) {
      if (Math.abs((double) txByPort[i] / total - EXPECTED_SHARE[i]) > TOLERANCE) {
        return false;
      }
    }
    return true;
  }

  String checkShares(long[] txByPort) {
    long total = Math.max(1, txByPort[0] + txByPort[1]);
    return String.format(
        Locale.ROOT,
        "routed ports: pod0 took %.1f%% and pod1 %.1f%% of forwarded packets; the routes predict"
            + " 25%% / 75%% -> %s",
        100.0 * txByPort[0] / total,
        100.0 * txByPort[1] / total,
        sharesMatch(txByPort) ? "OK" : "MISMATCH (packets did not leave by their routed port)");
  }
}
