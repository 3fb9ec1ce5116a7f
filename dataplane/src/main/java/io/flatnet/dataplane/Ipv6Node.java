package io.flatnet.dataplane;

import io.flatnet.dataplane.capture.Tap;
import io.flatnet.dataplane.neighbor.NeighborLearning;
import io.flatnet.dataplane.packet.AddressChecks;
import io.flatnet.dataplane.packet.Ethernet;
import io.flatnet.dataplane.packet.Icmp6;
import io.flatnet.dataplane.policy.PolicyCheck;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.route.FlowHash;
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
  private final long[] sourceHi;
  private final long[] sourceLo;
  private final int[] nextHops;
  private final int[] sourceHops;
  private int count;
  private int next; // the first packet of the vector that run has not taken yet

  private final PacketIo io;
  private final NeighborWait neighbors;
  private final IcmpRateLimiter icmpLimit;
  private final NeighborLearning learning;
  private final PolicyCheck policy;

  Ipv6Node(
      int burst,
      PacketIo io,
      NeighborWait neighbors,
      IcmpRateLimiter icmpLimit,
      NeighborLearning learning,
      PolicyCheck policy) {
    this.packets = new long[burst];
    this.destinationHi = new long[burst];
    this.destinationLo = new long[burst];
    this.sourceHi = new long[burst];
    this.sourceLo = new long[burst];
    this.nextHops = new int[burst];
    this.sourceHops = new int[burst];
    this.io = io;
    this.neighbors = neighbors;
    this.icmpLimit = icmpLimit;
    this.learning = learning;
    this.policy = policy;
  }

  void enqueue(long mbuf, ForwardingState state) {
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
    if (AddressChecks.isMulticast6(hi) || AddressChecks.isLinkLocal6(hi)) {
      onLink(mbuf, state, hi, lo);
      return;
    }
    long srcHi = NativeMemory.getLongBe(ip + 8);
    long srcLo = NativeMemory.getLongBe(ip + 16);
    if (AddressChecks.martianSource6(srcHi, srcLo)) {
      io.drop(mbuf, DropReason.MARTIAN_SOURCE);
      return;
    }
    if (AddressChecks.martianDestination6(hi, lo)) {
      io.drop(mbuf, DropReason.MARTIAN_DESTINATION);
      return;
    }
    packets[count] = mbuf;
    destinationHi[count] = hi;
    destinationLo[count] = lo;
    sourceHi[count] = srcHi;
    sourceLo[count] = srcLo;
    count++;
  }

  /** As the IPv4 node's: one bulk lookup, and a second of the sources on a guarded pod port. */
  void run(ForwardingState state, int inPort) {
    if (count == 0) {
      return;
    }
    PortTable ports = state.ports();
    boolean checkSources = (ports.guards(inPort) & PortTable.GUARD_SOURCE) != 0;
    state.ipv6().lookupBulk(destinationHi, destinationLo, nextHops, count);
    if (checkSources) {
      state.ipv6().lookupBulk(sourceHi, sourceLo, sourceHops, count);
    }
    NextHops hops = state.nextHops();
    Tap tap = io.tap;
    Tap trace = tap != null && tap.tracing() ? tap : null; // one branch per vector
    if (trace != null) {
      trace.lookups(packets, nextHops, count, hops, 6);
    }
    if (hops.hasGroups()) { // one volatile read per vector when no route is ECMP
      pickMembers(hops, trace);
    }
    boolean policing = policy.active; // one branch per packet, predicted, when no pod has one
    boolean fromHost = ports.role(inPort) == PortTable.ROLE_HOST;
    for (int i = 0; i < count; i++) {
      next = i + 1;
      long mbuf = packets[i];
      if (checkSources
          && !AddressChecks.sourceBelongs(
              hops.entry(sourceHops[i]), inPort, Ethernet.source(Mbuf.dataAddress(mbuf)))) {
        io.drop(mbuf, DropReason.SPOOFED_SOURCE);
        continue;
      }
      int nextHop = nextHops[i];
      long entry = hops.entry(nextHop); // one read: one decision on one version of the entry
      int kind = NextHopTable.kindOf(entry);
      if (policing
          && (kind == NextHops.KIND_FORWARD || kind == NextHops.KIND_RESOLVE)
          && deniedByPolicy(mbuf, fromHost, trace)) {
        continue;
      }
      if (trace != null) { // loop-invariant: the JIT unswitches the loop
        trace.decision(mbuf, nextHop, entry, hops, ports);
      }
      switch (kind) {
        case NextHops.KIND_FORWARD -> forward(mbuf, nextHop, entry, hops, ports, true);
        case NextHops.KIND_RESOLVE -> forward(mbuf, nextHop, entry, hops, ports, false);
        case NextHops.KIND_LOCAL -> local(mbuf, ports);
        case NextHops.KIND_NO_ROUTE -> {
          io.noteDrop(mbuf, DropReason.NO_ROUTE);
          error(mbuf, ports, Icmp6.DEST_UNREACHABLE, 0, 0);
        }
        default -> io.drop(mbuf, DropReason.BLACKHOLE);
      }
    }
    count = 0;
    next = 0;
  }

  /** As the IPv4 node's: each ECMP group next hop becomes the member its flow hashes to. */
  private void pickMembers(NextHops hops, Tap trace) {
    for (int i = 0; i < count; i++) {
      long entry = hops.entry(nextHops[i]);
      if (NextHopTable.kindOf(entry) == NextHops.KIND_GROUP) {
        int hash =
            flowHash(packets[i], sourceHi[i], sourceLo[i], destinationHi[i], destinationLo[i]);
        int member = hops.groupMember(entry, hash);
        if (trace != null) {
          trace.member(packets[i], nextHops[i], entry, hash, member, hops);
        }
        nextHops[i] = member;
      }
    }
  }

  /**
   * The packet's {@link FlowHash}: addresses, next header, and the ports when the next header is
   * TCP, UDP or SCTP (with an extension header, a fragment header included, no ports). The flow
   * label is not hashed.
   */
  static int flowHash(long mbuf, long srcHi, long srcLo, long dstHi, long dstLo) {
    long ip = Mbuf.dataAddress(mbuf) + IP;
    int protocol = NativeMemory.getU8(ip + 6);
    int ports = 0;
    if (FlowHash.hasPorts(protocol) && Mbuf.dataLength(mbuf) >= IP + HEADER + 4) {
      ports = NativeMemory.getIntBe(ip + HEADER);
    }
    return FlowHash.ipv6(srcHi, srcLo, dstHi, dstLo, protocol, ports);
  }

  /** As the IPv4 node's: true if policy denies the packet about to be forwarded (dropped). */
  private boolean deniedByPolicy(long mbuf, boolean fromHost, Tap trace) {
    if (trace != null) {
      policy.classified = false;
    }
    int verdict = policy.check6(Mbuf.dataAddress(mbuf) + IP, Mbuf.dataLength(mbuf) - IP, fromHost);
    if (trace != null) {
      trace.policy(mbuf, verdict, policy);
    }
    if (verdict == PolicyCheck.PASS) {
      return false;
    }
    io.drop(mbuf, PolicyCheck.dropReason(verdict));
    return true;
  }

  /** After a throw: frees what run had not taken yet and empties the vector. */
  void abandon() {
    io.drop(packets, next, count, DropReason.WORKER_EXCEPTION);
    count = next = 0;
  }

  private void forward(
      long mbuf, int nextHop, long entry, NextHops hops, PortTable ports, boolean resolved) {
    long frame = Mbuf.dataAddress(mbuf);
    long ip = frame + IP;
    if (NativeMemory.getU8(ip + 7) <= 1) {
      io.noteDrop(mbuf, DropReason.TTL_EXCEEDED);
      error(mbuf, ports, Icmp6.TIME_EXCEEDED, 0, 0);
      return;
    }
    int outPort = NextHopTable.portOf(entry);
    long egress = hops.egress(nextHop); // the entry's cache line: MTU and source MAC
    int mtu = NextHopTable.mtuOf(egress);
    if (NativeMemory.getU16Be(ip + 4) + HEADER > mtu) {
      io.noteDrop(mbuf, DropReason.MTU_EXCEEDED);
      error(mbuf, ports, Icmp6.PACKET_TOO_BIG, 0, mtu); // IPv6 routers never fragment
      return;
    }
    if (!resolved) {
      neighbors.hold(mbuf, nextHop);
      return;
    }
    rewrite(frame, NextHopTable.dstMacOf(entry), NextHopTable.srcMacOf(egress));
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
      solicitation(mbuf, state, port, ip);
      return;
    }
    if (isIcmp(mbuf, Icmp6.NEIGHBOR_ADVERTISEMENT)) {
      advertisement(mbuf, state, port, ip);
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
    if (AddressChecks.isMulticast6(hi)) {
      io.consume(mbuf); // MLD reports, router solicitations, all-nodes traffic: not routed
      return;
    }
    io.drop(mbuf, DropReason.LOCAL_UNHANDLED);
  }

  private void solicitation(long mbuf, ForwardingState state, int port, long ip) {
    PortTable ports = state.ports();
    int icmpLength = NativeMemory.getU16Be(ip + 4);
    long icmp = ip + HEADER;
    if (!Icmp6.neighborMessageValid(ip, icmpLength)) {
      io.drop(mbuf, DropReason.BAD_NEIGHBOR_PACKET); // RFC 4861 7.1.1
      return;
    }
    long askerHi = NativeMemory.getLongBe(ip + 8);
    long askerLo = NativeMemory.getLongBe(ip + 16);
    long targetHi = NativeMemory.getLongBe(icmp + 8);
    long targetLo = NativeMemory.getLongBe(icmp + 16);
    boolean fromUnspecified = (askerHi | askerLo) == 0;
    long mac = Icmp6.linkLayerOption(icmp + 24, icmpLength - 24, 1);
    if (mac == Icmp6.OPTIONS_MALFORMED || (fromUnspecified && mac != Icmp6.OPTION_ABSENT)) {
      io.drop(mbuf, DropReason.BAD_NEIGHBOR_PACKET);
      return;
    }
    if (mac != Icmp6.OPTION_ABSENT) {
      if (!claimAllowed(mbuf, state, port, askerHi, askerLo, mac)) {
        return;
      }
      learning.ipv6(port, askerHi, askerLo, mac, false); // a claim, not a confirmation
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

  private void advertisement(long mbuf, ForwardingState state, int port, long ip) {
    int icmpLength = NativeMemory.getU16Be(ip + 4);
    long icmp = ip + HEADER;
    boolean solicited = (NativeMemory.getU8(icmp + 4) & 0x40) != 0;
    if (!Icmp6.neighborMessageValid(ip, icmpLength)
        || (solicited && AddressChecks.isMulticast6(NativeMemory.getLongBe(ip + 24)))) {
      io.drop(mbuf, DropReason.BAD_NEIGHBOR_PACKET); // RFC 4861 7.1.2
      return;
    }
    long mac = Icmp6.linkLayerOption(icmp + 24, icmpLength - 24, 2);
    if (mac == Icmp6.OPTIONS_MALFORMED) {
      io.drop(mbuf, DropReason.BAD_NEIGHBOR_PACKET);
      return;
    }
    if (mac == Icmp6.OPTION_ABSENT) {
      if (!solicited) {
        io.consume(mbuf); // nothing to learn
        return;
      }
      mac = Ethernet.source(Mbuf.dataAddress(mbuf)); // an answer to our unicast probe
    }
    long targetHi = NativeMemory.getLongBe(icmp + 8);
    long targetLo = NativeMemory.getLongBe(icmp + 16);
    if (!claimAllowed(mbuf, state, port, targetHi, targetLo, mac)) {
      return;
    }
    learning.ipv6(port, targetHi, targetLo, mac, solicited);
    io.consume(mbuf);
  }

  /**
   * A neighbour's claim that {@code hi:lo} is at {@code mac}: the MAC must be a unicast one (and,
   * on a source-guarded port, the frame's own), and a routable address must be the pod's own. Drops
   * the packet and returns false otherwise.
   */
  private boolean claimAllowed(
      long mbuf, ForwardingState state, int port, long hi, long lo, long mac) {
    boolean guarded = (state.ports().guards(port) & PortTable.GUARD_SOURCE) != 0;
    if (!AddressChecks.isUnicastMac(mac)
        || (guarded && mac != Ethernet.source(Mbuf.dataAddress(mbuf)))) {
      io.drop(mbuf, DropReason.BAD_LINK_LAYER_ADDRESS);
      return false;
    }
    if (guarded
        && !AddressChecks.isLinkLocal6(hi)
        && !AddressChecks.sourceBelongs(
            state.nextHops().entry(state.ipv6().lookup(hi, lo)), port, mac)) {
      io.drop(mbuf, DropReason.SPOOFED_SOURCE);
      return false;
    }
    return true;
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
    if (AddressChecks.isGroupMac(Ethernet.destination(frame))
        || !Icmp6.mayReportErrorAbout(frame, Mbuf.dataLength(mbuf))
        || !io.canSend(port)) {
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
    io.counters.event(WorkerEvent.ICMP_ERROR_SENT);
    io.send(port, mbuf);
  }
}
