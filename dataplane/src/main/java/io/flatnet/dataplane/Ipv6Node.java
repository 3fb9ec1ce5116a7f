package io.flatnet.dataplane;

import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.NextHops;

/**
 * The IPv6 node: header checks, neighbour discovery for the router's and (on pod and host ports)
 * proxied addresses, one bulk lookup for the routed vector, then forward (hop limit, MTU, rewrite),
 * wait for the neighbour, answer echo, or drop with an ICMPv6 error.
 */
final class Ipv6Node {
  private static final int IP = Ethernet.HEADER;
  private static final int HEADER = Icmp6.IPV6_HEADER;

  private final long[] packets;
  private final long[] destinationHi;
  private final long[] destinationLo;
  private final int[] nextHops;
  private int count;

  private final PacketIo io;
  private final NeighborWait neighbors;
  private final IcmpRateLimiter icmpLimit;
  private final ControlChannel.Writer control;

  Ipv6Node(
      int burst,
      PacketIo io,
      NeighborWait neighbors,
      IcmpRateLimiter icmpLimit,
      ControlChannel.Writer control) {
    this.packets = new long[burst];
    this.destinationHi = new long[burst];
    this.destinationLo = new long[burst];
    this.nextHops = new int[burst];
    this.io = io;
    this.neighbors = neighbors;
    this.icmpLimit = icmpLimit;
    this.control = control;
  }

  void enqueue(long mbuf, ForwardingState state) {
    PortTable ports = state.ports();
    long frame = Mbuf.dataAddress(mbuf);
    long ip = frame + IP;
    int frameLength = Mbuf.dataLength(mbuf);
    if (frameLength < IP + HEADER
        || (NativeMemory.getU8(ip) >>> 4) != 6
        || NativeMemory.getU16Be(ip + 4) + HEADER > Mbuf.packetLength(mbuf) - IP) {
      io.drop(mbuf, DropReason.BAD_IPV6_HEADER);
      return;
    }
    long hi = NativeMemory.getLongBe(ip + 24);
    long lo = NativeMemory.getLongBe(ip + 32);
    if (Icmp6.isMulticast(hi) || hi == PortTable.LINK_LOCAL_HI) {
      onLink(mbuf, state, hi, lo);
      return;
    }
    packets[count] = mbuf;
    destinationHi[count] = hi;
    destinationLo[count] = lo;
    count++;
  }

  void run(ForwardingState state) {
    if (count == 0) {
      return;
    }
    state.ipv6().lookupBulk(destinationHi, destinationLo, nextHops, count);
    NextHops hops = state.nextHops();
    PortTable ports = state.ports();
    for (int i = 0; i < count; i++) {
      long mbuf = packets[i];
      int nextHop = nextHops[i];
      long entry = hops.entry(nextHop); // one read: one decision on one version of the entry
      switch (NextHopTable.kindOf(entry)) {
        case NextHops.KIND_FORWARD -> forward(mbuf, nextHop, entry, hops, ports, true);
        case NextHops.KIND_RESOLVE -> forward(mbuf, nextHop, entry, hops, ports, false);
        case NextHops.KIND_LOCAL -> local(mbuf, ports);
        case NextHops.KIND_NO_ROUTE -> {
          error(mbuf, ports, Icmp6.DEST_UNREACHABLE, 0, 0);
          io.counters.drop(DropReason.NO_ROUTE);
        }
        default -> io.drop(mbuf, DropReason.BLACKHOLE);
      }
    }
    count = 0;
  }

  private void forward(
      long mbuf, int nextHop, long entry, NextHops hops, PortTable ports, boolean resolved) {
    long frame = Mbuf.dataAddress(mbuf);
    long ip = frame + IP;
    if (NativeMemory.getU8(ip + 7) <= 1) {
      error(mbuf, ports, Icmp6.TIME_EXCEEDED, 0, 0);
      io.counters.drop(DropReason.TTL_EXCEEDED);
      return;
    }
    int outPort = NextHopTable.portOf(entry);
    int mtu = ports.mtu(outPort);
    if (NativeMemory.getU16Be(ip + 4) + HEADER > mtu) {
      error(mbuf, ports, Icmp6.PACKET_TOO_BIG, 0, mtu); // IPv6 routers never fragment
      io.counters.drop(DropReason.MTU_EXCEEDED);
      return;
    }
    if (!resolved) {
      neighbors.hold(mbuf, nextHop);
      return;
    }
    rewrite(frame, NextHopTable.dstMacOf(entry), hops.srcMac(nextHop));
    io.send(outPort, mbuf);
  }

  /** As {@link #rewrite(long, long, long)}, with the MACs of the next hop's current entry. */
  static void rewrite(long frame, NextHops hops, int nextHop) {
    rewrite(frame, NextHopTable.dstMacOf(hops.entry(nextHop)), hops.srcMac(nextHop));
  }

  /** Hop limit minus one (IPv6 has no header checksum) and the next hop's MACs. */
  private static void rewrite(long frame, long dstMac, long srcMac) {
    long hopLimit = frame + IP + 7;
    NativeMemory.putU8(hopLimit, NativeMemory.getU8(hopLimit) - 1);
    Ethernet.setAddresses(frame, dstMac, srcMac);
  }

  private void local(long mbuf, PortTable ports) {
    if (isIcmp(mbuf, Icmp6.ECHO_REQUEST)) {
      int port = Mbuf.port(mbuf);
      Icmp6.toEchoReply(mbuf, ports.mac(port));
      io.counters.event(WorkerEvent.ICMP_SENT);
      io.send(port, mbuf);
      return;
    }
    io.drop(mbuf, DropReason.LOCAL_UNHANDLED);
  }

  /** Link-local and multicast destinations: neighbour discovery and echo to the router itself. */
  private void onLink(long mbuf, ForwardingState state, long hi, long lo) {
    PortTable ports = state.ports();
    int port = Mbuf.port(mbuf);
    long frame = Mbuf.dataAddress(mbuf);
    long ip = frame + IP;
    if (isIcmp(mbuf, Icmp6.NEIGHBOR_SOLICITATION)) {
      solicitation(mbuf, ports, port, ip);
      return;
    }
    if (isIcmp(mbuf, Icmp6.NEIGHBOR_ADVERTISEMENT)) {
      advertisement(mbuf, port, ip);
      return;
    }
    // Echo to the port's own link-local address, or to one the router owns (a gateway: fe80::1).
    if (hi == PortTable.LINK_LOCAL_HI
        && isIcmp(mbuf, Icmp6.ECHO_REQUEST)
        && (lo == PortTable.linkLocalLo(ports.mac(port))
            || state.nextHops().kind(state.ipv6().lookup(hi, lo)) == NextHops.KIND_LOCAL)) {
      Icmp6.toEchoReply(mbuf, ports.mac(port));
      io.counters.event(WorkerEvent.ICMP_SENT);
      io.send(port, mbuf);
      return;
    }
    if (Icmp6.isMulticast(hi)) {
      io.consume(mbuf); // MLD reports, router solicitations, all-nodes traffic: not routed
      return;
    }
    io.drop(mbuf, DropReason.LOCAL_UNHANDLED);
  }

  private void solicitation(long mbuf, PortTable ports, int port, long ip) {
    int icmpLength = NativeMemory.getU16Be(ip + 4);
    long icmp = ip + HEADER;
    if (icmpLength < 24 || NativeMemory.getU8(ip + 7) != 255) {
      io.drop(mbuf, DropReason.BAD_NEIGHBOR_PACKET); // RFC 4861 7.1.1
      return;
    }
    long askerHi = NativeMemory.getLongBe(ip + 8);
    long askerLo = NativeMemory.getLongBe(ip + 16);
    long targetHi = NativeMemory.getLongBe(icmp + 8);
    long targetLo = NativeMemory.getLongBe(icmp + 16);
    boolean fromUnspecified = (askerHi | askerLo) == 0;
    if (!fromUnspecified) {
      long mac = Icmp6.linkLayerOption(icmp + 24, icmpLength - 24, 1);
      if (mac >= 0) {
        control.neighborV6(port, askerHi, askerLo, mac);
        io.counters.event(WorkerEvent.NEIGHBOR_LEARNED);
      }
    }
    long portMac = ports.mac(port);
    boolean own =
        (targetHi == PortTable.LINK_LOCAL_HI && targetLo == PortTable.linkLocalLo(portMac))
            || (targetHi == ports.ipv6Hi(port) && targetLo == ports.ipv6Lo(port) && targetHi != 0);
    int role = ports.role(port);
    boolean proxy =
        (role == PortTable.ROLE_POD || role == PortTable.ROLE_HOST)
            && !(targetHi == askerHi && targetLo == askerLo);
    if (fromUnspecified || !(own || proxy)) {
      io.consume(mbuf); // duplicate address detection, or not an address we stand for
      return;
    }
    Icmp6.toNeighborAdvertisement(mbuf, targetHi, targetLo, portMac, own);
    io.counters.event(WorkerEvent.ND_ADVERT_SENT);
    io.send(port, mbuf);
  }

  private void advertisement(long mbuf, int port, long ip) {
    int icmpLength = NativeMemory.getU16Be(ip + 4);
    long icmp = ip + HEADER;
    if (icmpLength < 24 || NativeMemory.getU8(ip + 7) != 255) {
      io.drop(mbuf, DropReason.BAD_NEIGHBOR_PACKET);
      return;
    }
    long mac = Icmp6.linkLayerOption(icmp + 24, icmpLength - 24, 2);
    if (mac >= 0) {
      control.neighborV6(
          port, NativeMemory.getLongBe(icmp + 8), NativeMemory.getLongBe(icmp + 16), mac);
      io.counters.event(WorkerEvent.NEIGHBOR_LEARNED);
    }
    io.consume(mbuf);
  }

  private static boolean isIcmp(long mbuf, int type) {
    long ip = Mbuf.dataAddress(mbuf) + IP;
    return NativeMemory.getU8(ip + 6) == Icmp6.NEXT_HEADER
        && Mbuf.dataLength(mbuf) >= IP + HEADER + 8
        && NativeMemory.getU8(ip + HEADER) == type;
  }

  private void error(long mbuf, PortTable ports, int type, int code, int extra) {
    int port = Mbuf.port(mbuf);
    long frame = Mbuf.dataAddress(mbuf);
    if (!Icmp6.mayReportErrorAbout(frame, Mbuf.dataLength(mbuf)) || !io.canSend(port)) {
      io.freeUncounted(mbuf);
      return;
    }
    if (!icmpLimit.tryAcquire()) {
      io.counters.event(WorkerEvent.ICMP_RATE_LIMITED);
      io.freeUncounted(mbuf);
      return;
    }
    long mac = ports.mac(port);
    long routerHi = ports.ipv6Hi(port);
    long routerLo = ports.ipv6Lo(port);
    if ((routerHi | routerLo) == 0) {
      routerHi = PortTable.LINK_LOCAL_HI;
      routerLo = PortTable.linkLocalLo(mac);
    }
    Icmp6.toError(mbuf, type, code, extra, routerHi, routerLo, mac);
    io.counters.event(WorkerEvent.ICMP_SENT);
    io.send(port, mbuf);
  }
}
