package io.flatnet.dataplane;

import io.flatnet.dataplane.capture.Tap;
import io.flatnet.dataplane.packet.AddressChecks;
import io.flatnet.dataplane.packet.Ethernet;
import io.flatnet.dataplane.packet.Icmp4;
import io.flatnet.dataplane.packet.Ipv4Header;
import io.flatnet.dataplane.policy.PolicyCheck;
import io.flatnet.dpdk.DpdkLayout;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.route.FlowHash;
import io.flatnet.route.Ipv4Lookup;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.NextHops;
import java.lang.invoke.VarHandle;

/**
 * The IPv4 node: each packet in one pass, as l3fwd does: RFC 1812 checks, lookup, then its
 * disposition: forward (TTL, MTU, rewrite), wait for its neighbour, answer (echo), or drop with an
 * ICMP error. What is the same for the whole burst (tables, the in-port's guards, policy, trace) is
 * read once by {@link #begin}.
 */
final class Ipv4Node {
  private static final int IP = Ethernet.HEADER;
  private static final int CSUM_MASK = DpdkLayout.MBUF_F_RX_IP_CKSUM_MASK;
  private static final int CSUM_GOOD = DpdkLayout.MBUF_F_RX_IP_CKSUM_GOOD;
  private static final int CSUM_BAD = DpdkLayout.MBUF_F_RX_IP_CKSUM_BAD;

  private final PacketIo io;
  private final NeighborWait neighbors;
  private final IcmpRateLimiter icmpLimit;
  private final PolicyCheck policy;

  // The burst's: set by begin, read for each of its packets.
  private Ipv4Lookup fib;
  private NextHops hops;
  private PortTable ports;
  private int inPort;
  private boolean checkSources;
  private boolean policing;
  private boolean fromHost;
  private Tap trace;
  private boolean plain; // no trace, source guard or policy: a FORWARD next hop needs nothing else

  Ipv4Node(PacketIo io, NeighborWait neighbors, IcmpRateLimiter icmpLimit, PolicyCheck policy) {
    this.io = io;
    this.neighbors = neighbors;
    this.icmpLimit = icmpLimit;
    this.policy = policy;
  }

  /**
   * Takes the burst's forwarding state and in-port; after the capture has marked the burst's
   * packets. On a source-guarded port a packet whose source is not the sender's is dropped.
   */
  void begin(ForwardingState state, int port) {
    fib = state.ipv4();
    hops = state.nextHops();
    ports = state.ports();
    inPort = port;
    checkSources = (ports.guards(port) & PortTable.GUARD_SOURCE) != 0;
    policing = policy.active;
    fromHost = ports.role(port) == PortTable.ROLE_HOST;
    Tap tap = io.tap;
    trace = tap != null && tap.tracing() ? tap : null;
    plain = trace == null && !checkSources && !policing;
  }

  /**
   * Checks the header of the frame at {@code frame} ({@code frameLength} bytes, the whole packet in
   * one segment) and sends the packet on its way, or drops it.
   */
  void process(long mbuf, long frame, int frameLength) {
    long ip = frame + IP;
    int ipLength = frameLength - IP;
    if (ipLength < Ipv4Header.MIN_LENGTH) {
      io.drop(mbuf, DropReason.BAD_IPV4_HEADER);
      return;
    }
    // The fixed header in three loads, shared by the checks, the checksum and the lookups.
    long head = NativeMemory.getLongBe(ip); // version+IHL, TOS, total length, id, fragment
    long middle = NativeMemory.getLongBe(ip + 8); // TTL, protocol, checksum, source
    int destination = NativeMemory.getIntBe(ip + Ipv4Header.DESTINATION_OFFSET);
    if (!headerOk(mbuf, ip, ipLength, head, middle, destination)) {
      io.drop(mbuf, DropReason.BAD_IPV4_HEADER);
      return;
    }
    int source = (int) middle;
    if (AddressChecks.martianSource4(source)) {
      io.drop(mbuf, DropReason.MARTIAN_SOURCE);
      return;
    }
    if (AddressChecks.martianDestination4(destination)) {
      io.drop(mbuf, DropReason.MARTIAN_DESTINATION);
      return;
    }
    NextHops hops = this.hops;
    int nextHop = fib.lookup(destination);
    long entry = hops.entry(nextHop); // one read: one decision on one version of the entry
    if (plain && NextHopTable.kindOf(entry) == NextHops.KIND_FORWARD) {
      forward(mbuf, frame, nextHop, entry, hops, ports, true); // decide's first case, nothing else
      return;
    }
    decide(mbuf, frame, source, destination, nextHop, entry);
  }

  /**
   * The packet's disposition from its route's next hop {@code nextHop} ({@code entry} as read): the
   * trace, the ECMP member, the source guard, policy, then what the next hop's kind says.
   */
  private void decide(long mbuf, long frame, int source, int destination, int nextHop, long entry) {
    NextHops hops = this.hops;
    Tap trace = this.trace;
    if (trace != null) {
      trace.lookup(mbuf, nextHop, hops, 4);
    }
    if (NextHopTable.kindOf(entry) == NextHops.KIND_GROUP) {
      // ECMP: the member the flow hashes to, an ordinary next hop for everything after. The fence
      // orders the lookup's loads before the group's (free on x86).
      VarHandle.acquireFence();
      int hash = flowHash(mbuf, frame, source, destination);
      int member = hops.groupMember(entry, hash);
      if (trace != null) {
        trace.member(mbuf, nextHop, entry, hash, member, hops);
      }
      nextHop = member;
      entry = hops.entry(member);
    }
    if (checkSources
        && !AddressChecks.sourceBelongs(
            hops.entry(fib.lookup(source)), inPort, Ethernet.source(frame))) {
      io.drop(mbuf, DropReason.SPOOFED_SOURCE);
      return;
    }
    int kind = NextHopTable.kindOf(entry);
    PortTable ports = this.ports;
    if (policing
        && (kind == NextHops.KIND_FORWARD || kind == NextHops.KIND_RESOLVE)
        && deniedByPolicy(mbuf, frame, fromHost, trace)) {
      return;
    }
    if (trace != null) {
      trace.decision(mbuf, nextHop, entry, hops, ports);
    }
    switch (kind) {
      case NextHops.KIND_FORWARD -> forward(mbuf, frame, nextHop, entry, hops, ports, true);
      case NextHops.KIND_RESOLVE -> forward(mbuf, frame, nextHop, entry, hops, ports, false);
      case NextHops.KIND_LOCAL -> local(mbuf, ports);
      case NextHops.KIND_NO_ROUTE -> {
        io.noteDrop(mbuf, DropReason.NO_ROUTE);
        error(mbuf, ports, Icmp4.DEST_UNREACHABLE, Icmp4.CODE_NET_UNREACHABLE, 0);
      }
      default -> io.drop(mbuf, DropReason.BLACKHOLE);
    }
  }

  /**
   * The packet's {@link FlowHash}: addresses, protocol, and the ports of an unfragmented TCP, UDP
   * or SCTP packet whose first segment holds them.
   */
  static int flowHash(long mbuf, long frame, int source, int destination) {
    long ip = frame + IP;
    int protocol = NativeMemory.getU8(ip + 9);
    int ports = 0;
    if (FlowHash.hasPorts(protocol) && (NativeMemory.getU16Be(ip + 6) & 0x3FFF) == 0) {
      int headerLength = (NativeMemory.getU8(ip) & 0x0F) << 2;
      if (Mbuf.dataLength(mbuf) >= IP + headerLength + 4) {
        ports = NativeMemory.getIntBe(ip + headerLength);
      }
    }
    return FlowHash.ipv4(source, destination, protocol, ports);
  }

  /**
   * Network policy for a packet about to be forwarded (not one to the router, not one the source
   * check dropped): true if policy denies it, and then it is dropped.
   */
  private boolean deniedByPolicy(long mbuf, long frame, boolean fromHost, Tap trace) {
    if (trace != null) {
      policy.classified = false;
    }
    int verdict = policy.check4(frame + IP, Mbuf.dataLength(mbuf) - IP, fromHost);
    if (trace != null) {
      trace.policy(mbuf, verdict, policy);
    }
    if (verdict == PolicyCheck.PASS) {
      return false;
    }
    io.drop(mbuf, PolicyCheck.dropReason(verdict));
    return true;
  }

  private void forward(
      long mbuf,
      long frame,
      int nextHop,
      long entry,
      NextHops hops,
      PortTable ports,
      boolean resolved) {
    long ip = frame + IP;
    int ttlWord = NativeMemory.getIntBe(ip + Ipv4Header.TTL_OFFSET); // TTL, protocol, checksum
    if ((ttlWord >>> 24) <= 1) {
      io.noteDrop(mbuf, DropReason.TTL_EXCEEDED);
      error(mbuf, ports, Icmp4.TIME_EXCEEDED, 0, 0);
      return;
    }
    int outPort = NextHopTable.portOf(entry);
    long egress = hops.egress(nextHop); // the entry's cache line: MTU and source MAC
    int mtu = NextHopTable.mtuOf(egress);
    if (NativeMemory.getU16Be(ip + 2) > mtu) {
      io.noteDrop(mbuf, DropReason.MTU_EXCEEDED);
      boolean dontFragment = (NativeMemory.getU16Be(ip + 6) & 0x4000) != 0;
      if (dontFragment) {
        error(mbuf, ports, Icmp4.DEST_UNREACHABLE, Icmp4.CODE_FRAGMENTATION_NEEDED, mtu);
      } else {
        io.freeUncounted(mbuf); // flatnet does not fragment
      }
      return;
    }
    if (!resolved) {
      neighbors.hold(mbuf, nextHop);
      return;
    }
    rewrite(frame, ttlWord, NextHopTable.dstMacOf(entry), NextHopTable.srcMacOf(egress));
    io.send(outPort, mbuf);
  }

  /**
   * {@link #forward}'s path for a packet to a resolved next hop, alone (for the pipeline
   * benchmarks): the out port of the rewritten packet, or -1 where {@link #forward} would not send
   * it on (not FORWARD, TTL, MTU).
   */
  static int forwardResolved(long frame, int nextHop, NextHops hops) {
    long entry = hops.entry(nextHop);
    if (NextHopTable.kindOf(entry) != NextHops.KIND_FORWARD) {
      return -1;
    }
    long ip = frame + IP;
    int ttlWord = NativeMemory.getIntBe(ip + Ipv4Header.TTL_OFFSET);
    if ((ttlWord >>> 24) <= 1) {
      return -1;
    }
    long egress = hops.egress(nextHop);
    if (NativeMemory.getU16Be(ip + 2) > NextHopTable.mtuOf(egress)) {
      return -1;
    }
    rewrite(frame, ttlWord, NextHopTable.dstMacOf(entry), NextHopTable.srcMacOf(egress));
    return NextHopTable.portOf(entry);
  }

  /** As {@link #rewrite(long, int, long, long)}, with the next hop's current entry. */
  static void rewrite(long frame, NextHops hops, int nextHop) {
    int ttlWord = NativeMemory.getIntBe(frame + IP + Ipv4Header.TTL_OFFSET);
    rewrite(frame, ttlWord, NextHopTable.dstMacOf(hops.entry(nextHop)), hops.srcMac(nextHop));
  }

  /**
   * TTL minus one with the RFC 1624 checksum update ({@code ttlWord}: bytes 8-11 as read), and the
   * next hop's MACs.
   */
  private static void rewrite(long frame, int ttlWord, long dstMac, long srcMac) {
    NativeMemory.putIntBe(
        frame + IP + Ipv4Header.TTL_OFFSET, Ipv4Header.decrementedTtlWord(ttlWord));
    Ethernet.setAddresses(frame, dstMac, srcMac);
  }

  private void local(long mbuf, PortTable ports) {
    long frame = Mbuf.dataAddress(mbuf);
    if (Icmp4.isEchoRequest(frame, Mbuf.dataLength(mbuf))) {
      int port = Mbuf.port(mbuf);
      Icmp4.toEchoReply(mbuf, ports.mac(port));
      io.counters.event(WorkerEvent.ICMP_SENT);
      io.send(port, mbuf);
      return;
    }
    io.drop(mbuf, DropReason.LOCAL_UNHANDLED);
  }

  /**
   * Turns the packet into an ICMP error back out of its arrival port if allowed and within the rate
   * limit; otherwise frees it. The caller counts the drop reason of the original packet.
   */
  private void error(long mbuf, PortTable ports, int type, int code, int extra) {
    int port = Mbuf.port(mbuf);
    long frame = Mbuf.dataAddress(mbuf);
    int routerAddress = ports.ipv4(port);
    if (routerAddress == 0
        || AddressChecks.isGroupMac(Ethernet.destination(frame)) // RFC 1812 4.3.2.7
        || !Icmp4.mayReportErrorAbout(frame)
        || !io.canSend(port)) {
      io.freeUncounted(mbuf);
      return;
    }
    if (!icmpLimit.tryAcquire()) {
      io.counters.event(WorkerEvent.ICMP_RATE_LIMITED);
      io.freeUncounted(mbuf);
      return;
    }
    Icmp4.toError(mbuf, type, code, extra, routerAddress, ports.mac(port));
    io.counters.event(WorkerEvent.ICMP_ERROR_SENT);
    io.send(port, mbuf);
  }

  /**
   * RFC 1812 5.2.2 (version, header length, total length, checksum) of the header at {@code ip}
   * ({@code ipLength} bytes to the packet's end, at least {@link Ipv4Header#MIN_LENGTH}), given its
   * first 20 bytes as read: {@code head} (bytes 0-7), {@code middle} (8-15), {@code destination}.
   */
  static boolean headerOk(
      long mbuf, long ip, int ipLength, long head, long middle, int destination) {
    int versionAndLength = (int) (head >>> 56);
    int headerLength = (versionAndLength & 0x0F) << 2;
    if ((versionAndLength >>> 4) != 4
        || headerLength < Ipv4Header.MIN_LENGTH
        || headerLength > ipLength) {
      return false;
    }
    int totalLength = (int) (head >>> 32) & 0xFFFF;
    if (totalLength < headerLength || totalLength > ipLength) {
      return false;
    }
    int checksumFlags = (int) Mbuf.offloadFlags(mbuf) & CSUM_MASK;
    return checksumFlags == CSUM_GOOD
        || (checksumFlags != CSUM_BAD
            && Ipv4Header.checksumValid(ip, headerLength, head, middle, destination));
  }

  /**
   * RFC 1812 5.2.2 checks of the IPv4 packet in {@code mbuf}, as the worker makes them (a packet in
   * more than one segment is not forwarded).
   */
  static boolean wellFormed(long mbuf) {
    long lengths = Mbuf.lengths(mbuf);
    int frameLength = Mbuf.dataLengthOf(lengths);
    if (frameLength != Mbuf.packetLengthOf(lengths) || frameLength < IP + Ipv4Header.MIN_LENGTH) {
      return false;
    }
    long ip = Mbuf.dataAddress(mbuf) + IP;
    return headerOk(
        mbuf,
        ip,
        frameLength - IP,
        NativeMemory.getLongBe(ip),
        NativeMemory.getLongBe(ip + 8),
        NativeMemory.getIntBe(ip + Ipv4Header.DESTINATION_OFFSET));
  }
}
