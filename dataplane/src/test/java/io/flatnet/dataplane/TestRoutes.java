package io.flatnet.dataplane;

import io.flatnet.route.Ipv4Lookup;
import io.flatnet.route.NextHops;

/**
 * A fixed routing state for dataplane tests: 10.1.0.0/16 to next hop 1 (forward on {@code port}),
 * 10.2.0.0/16 to next hop 2 (forward on a port no worker owns), 10.3.0.0/16 to next hop 3 (an
 * unresolved neighbour).
 */
final class TestRoutes {
  private TestRoutes() {}

  static final long NEXT_HOP_MAC = 0x02_00_00_00_cc_01L;
  static final long OUT_PORT_MAC = 0x02_00_00_00_dd_01L;

  static Routes forwardingTo(int port, int unownedPort) {
    Ipv4Lookup lookup =
        destination ->
            switch (destination >>> 16) {
              case 0x0A01 -> 1;
              case 0x0A02 -> 2;
              case 0x0A03 -> 3;
              default -> NextHops.NO_ROUTE;
            };
    NextHops hops =
        new NextHops() {
          @Override
          public int kind(int nextHop) {
            return switch (nextHop) {
              case 1, 2 -> KIND_FORWARD;
              case 3 -> KIND_RESOLVE;
              default -> KIND_NO_ROUTE;
            };
          }

          @Override
          public int port(int nextHop) {
            return nextHop == 2 ? unownedPort : port;
          }

          @Override
          public long dstMac(int nextHop) {
            return NEXT_HOP_MAC;
          }

          @Override
          public long srcMac(int nextHop) {
            return OUT_PORT_MAC;
          }
        };
    return new Routes(lookup, hops);
  }
}
