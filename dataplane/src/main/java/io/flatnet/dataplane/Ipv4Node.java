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
import io.flatnet.route.NextHopTable;
import io.flatnet.route.NextHops;

/**
 * The IPv4 node: RFC 1812 checks, one bulk lookup for the vector, then each packet's disposition:
 * forward (TTL, MTU, rewrite), wait for its neighbour, answer (echo), or drop with an ICMP error.
 */
final class Ipv4Node {
  private static final int IP = Ethernet.HEADER;
  private static final int CSUM_MASK = DpdkLayout.MBUF_F_RX_IP_CKSUM_MASK;
  private static final int CSUM_GOOD = DpdkLayout.MBUF_F_RX_IP_CKSUM_GOOD;
  private static final int CSUM_BAD = DpdkLayout.MBUF_F_RX_IP_CKSUM_BAD;

  private final long[] packets;
  private final long[] frames;
  private final int[] destinations;
  private final int[] sources;
  private final int[] nextHops;
  private final int[] sourceHops;
  private int count;
  private int next; // the first packet of the vector that run has not taken yet

  private final PacketIo io;
  private final NeighborWait neighbors;
  private final IcmpRateLimiter icmpLimit;
  private final PolicyCheck policy;

  Ipv4Node(
      int burst,
      PacketIo io,
      NeighborWait neighbors,
      IcmpRateLimiter icmpLimit,
      PolicyCheck policy) {
    this.packets = new long[burst];
    this.frames = new long[burst];
    this.destinations = new int[burst];
    this.sources = new int[burst];
    this.nextHops = new int[burst];
    this.sourceHops = new int[burst];
    this.io = io;
    this.neighbors = neighbors;
    this.icmpLimit = icmpLimit;
    this.policy = policy;
  }

  /**
   * Checks the header of the frame at {@code frame} ({@code frameLength} bytes, the whole packet in
   * one segment); a good packet joins this burst's vector, a bad one is dropped.
   */
  void enqueue(long mbuf, long frame, int frameLength) {
    long ip = frame + IP;
    int ipLength = frameLength - IP;
    if (ipLength < Ipv4Header.MIN_LENGTH) {
      io.drop(mbuf, DropReason.BAD_IPV4_HEADER);
      return;
    }
    // The fixed header in three loads, shared by the checks, the checksum and the vector.
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
    int i = count++;
    packets[i] = mbuf;
    frames[i] = frame;
    destinations[i] = destination;
    sources[i] = source;
  }

  /**
   * Looks up the whole vector at once and sends every packet on its way; on a source-guarded port,
   * the sources are looked up too and a packet whose source is not the sender's is dropped.
   */
  void run(ForwardingState state, int inPort) {
    if (count == 0) {
      return;
    }
    PortTable ports = state.ports();
    boolean checkSources = (ports.guards(inPort) & PortTable.GUARD_SOURCE) != 0;
    state.ipv4().lookupBulk(destinations, nextHops, count);
    if (checkSources) {
      state.ipv4().lookupBulk(sources, sourceHops, count);
    }
    NextHops hops = state.nextHops();
    Tap tap = io.tap;
    Tap trace = tap != null && tap.tracing() ? tap : null; // one branch per vector
    if (trace != null) {
      trace.lookups(packets, nextHops, count, hops, 4);
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
              hops.entry(sourceHops[i]), inPort, Ethernet.source(frames[i]))) {
        io.drop(mbuf, DropReason.SPOOFED_SOURCE);
        continue;
      }
      int nextHop = nextHops[i];
      long entry = hops.entry(nextHop); // one read: one decision on one version of the entry
      int kind = NextHopTable.kindOf(entry);
      if (policing
          && (kind == NextHops.KIND_FORWARD || kind == NextHops.KIND_RESOLVE)
          && deniedByPolicy(mbuf, frames[i], fromHost, trace)) {
        continue;
      }
      if (trace != null) { // loop-invariant: the JIT unswitches the loop
        trace.decision(mbuf, nextHop, entry, hops, ports);
      }
      switch (kind) {
        case NextHops.KIND_FORWARD -> forward(mbuf, frames[i], nextHop, entry, hops, ports, true);
        case NextHops.KIND_RESOLVE -> forward(mbuf, frames[i], nextHop, entry, hops, ports, false);
        case NextHops.KIND_LOCAL -> local(mbuf, ports);
        case NextHops.KIND_NO_ROUTE -> {
          io.noteDrop(mbuf, DropReason.NO_ROUTE);
          error(mbuf, ports, Icmp4.DEST_UNREACHABLE, Icmp4.CODE_NET_UNREACHABLE, 0);
        }
        default -> io.drop(mbuf, DropReason.BLACKHOLE);
      }
    }
    count = 0;
    next = 0;
  }

  /**
   * Replaces each ECMP group next hop of the vector with the member its flow hashes to, so that
   * everything after (policy, neighbour hold, rewrite, traces) sees an ordinary next hop.
   */
  private void pickMembers(NextHops hops, Tap trace) {
    for (int i = 0; i < count; i++) {
      long entry = hops.entry(nextHops[i]);
      if (NextHopTable.kindOf(entry) == NextHops.KIND_GROUP) {
        int hash = flowHash(packets[i], frames[i], sources[i], destinations[i]);
        int member = hops.groupMember(entry, hash);
        if (trace != null) {
          trace.member(packets[i], nextHops[i], entry, hash, member, hops);
        }
        nextHops[i] = member;
      }
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

  /** After a throw: frees what run had not taken yet and empties the vector. */
  void abandon() {
    io.drop(packets, next, count, DropReason.WORKER_EXCEPTION);
    count = next = 0;
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
