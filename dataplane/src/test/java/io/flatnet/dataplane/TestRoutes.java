package io.flatnet.dataplane;

import io.flatnet.route.Ipv4Fib;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Fib;
import io.flatnet.route.Ipv6Prefix;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.QsbrDomain;

/**
 * Real route tables for dataplane tests:
 *
 * <ul>
 *   <li>10.1.0.0/16 and fd00:1::/64: forward on {@code out} to {@link #NEXT_HOP_MAC};
 *   <li>10.2.0.0/16: forward on a port no worker owns (port-down);
 *   <li>10.3.0.0/16: via neighbour 10.3.0.254 on {@code out}, unresolved until ARP says;
 *   <li>10.66.0.0/16: an explicit drop route;
 *   <li>10.9.0.1/32 and fd00:9::1/128: the router itself; the router's address on {@code in} is
 *       10.9.0.1 / fd00:9::1.
 * </ul>
 */
final class TestRoutes {
  static final long NEXT_HOP_MAC = 0x02_00_00_00_cc_01L;
  static final long OUT_PORT_MAC = 0x02_00_00_00_dd_01L;
  static final int ROUTER_IP = TestPackets.ip(10, 9, 0, 1);
  static final int NEIGHBOR_IP = TestPackets.ip(10, 3, 0, 254);
  static final long[] ROUTER_IP6 = {0xFD00_0009_0000_0000L, 1};
  static final long[] FORWARDED_IP6 = {0xFD00_0001_0000_0000L, 0x42};
  static final long[] SENDER_IP6 = {0xFD00_0009_0000_0000L, 0x77};

  final QsbrDomain domain = new QsbrDomain();
  final NextHopTable hops = new NextHopTable(64, domain);
  final Ipv4Fib fib4 = new Ipv4Fib(domain, hops, 64);
  final Ipv6Fib fib6 = new Ipv6Fib(domain, hops, 1024);
  final int neighborHop;
  PortTable ports;

  TestRoutes(int in, long inMac, int out, int unownedPort) {
    ports =
        PortTable.empty()
            .with(in, PortTable.ROLE_POD, inMac, 1500, ROUTER_IP, ROUTER_IP6[0], ROUTER_IP6[1])
            .with(out, PortTable.ROLE_UPLINK, OUT_PORT_MAC, 1500, 0, 0, 0);
    int toOut = hops.addForward(out, NEXT_HOP_MAC, OUT_PORT_MAC);
    fib4.batch()
        .add(Ipv4Prefix.parse("10.1.0.0/16"), toOut)
        .add(Ipv4Prefix.parse("10.2.0.0/16"), hops.addForward(unownedPort, NEXT_HOP_MAC, 0))
        .add(Ipv4Prefix.parse("10.9.0.1/32"), hops.addLocal(in))
        .add(Ipv4Prefix.parse("10.66.0.0/16"), hops.addDrop())
        .commit();
    neighborHop = hops.addNeighbourIpv4(out, NEIGHBOR_IP, OUT_PORT_MAC);
    fib4.add(Ipv4Prefix.parse("10.3.0.0/16"), neighborHop);
    fib6.batch()
        .add(Ipv6Prefix.parse("fd00:1::/64"), toOut)
        .add(Ipv6Prefix.parse("fd00:9::1/128"), hops.addLocal(in))
        .add(Ipv6Prefix.parse("fe80::1/128"), hops.addLocal(in))
        .commit();
  }

  /** The state for the worker, with {@link #ports}' MTUs copied into the adjacencies first. */
  ForwardingState state() {
    for (int port = 0; port < io.flatnet.control.Limits.MAX_PORTS; port++) {
      hops.setPortMtu(port, ports.mtu(port));
    }
    return new ForwardingState(fib4, fib6, hops, ports);
  }

  void close() {
    fib4.close();
    fib6.close();
  }
}
