package io.flatnet.dataplane.demo;

import io.flatnet.dataplane.Router;
import io.flatnet.dpdk.EthDev;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.NextHopTable;
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

  private final int[] ports;

  private DemoRoutes(int[] ports) {
    this.ports = ports;
  }

  static DemoRoutes install(Router router) {
    int[] ports = router.ports().stream().mapToInt(Integer::intValue).toArray();
    NextHopTable hops = router.nextHops();
    // The pods' MACs are not known to the demo; testpmd accepts any destination MAC.
    int toPod0 = hops.addForward(ports[0], 0x02_00_00_00_00_10L, EthDev.macAddress(ports[0]));
    int toPod1 = hops.addForward(ports[1], 0x02_00_00_00_00_11L, EthDev.macAddress(ports[1]));
    router
        .fib()
        .batch()
        .add(Ipv4Prefix.parse("10.253.0.0/24"), toPod0)
        .add(Ipv4Prefix.parse("10.253.1.0/24"), toPod1)
        .add(Ipv4Prefix.parse("10.253.2.0/23"), toPod1)
        .commit();
    return new DemoRoutes(ports);
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
        "routed ports: the worker sent %.1f%% of routed packets to pod0 and %.1f%% to pod1 (taken"
            + " or tx-full); the routes predict 25%% / 75%% -> %s",
        100.0 * txByPort[0] / total,
        100.0 * txByPort[1] / total,
        sharesMatch(txByPort) ? "OK" : "MISMATCH (packets did not leave by their routed port)");
  }
}
