package io.flatnet.dataplane;

import io.flatnet.dpdk.DpdkLayout;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.NativeMemory;
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
  private final int[] destinations;
  private final int[] nextHops;
  private int count;

  private final PacketIo io;
  private final NeighborWait neighbors;
  private final IcmpRateLimiter icmpLimit;

  Ipv4Node(int burst, PacketIo io, NeighborWait neighbors, IcmpRateLimiter icmpLimit) {
    this.packets = new long[burst];
    this.destinations = new int[burst];
    this.nextHops = new int[burst];
    this.io = io;
    this.neighbors = neighbors;
    this.icmpLimit = icmpLimit;
  }

  /** Checks the header; a good packet joins this burst's vector, a bad one is dropped. */
  void enqueue(long mbuf) {
    if (!wellFormed(mbuf)) {
      io.drop(mbuf, DropReason.BAD_IPV4_HEADER);
      return;
    }
    packets[count] = mbuf;
    destinations[count] =
        NativeMemory.getIntBe(Mbuf.dataAddress(mbuf) + IP + Ipv4Header.DESTINATION_OFFSET);
    count++;
  }

  /** Looks up the whole vector at once and sends every packet on its way. */
  void run(ForwardingState state) {
    if (count == 0) {
      return;
    }
    state.ipv4().lookupBulk(destinations, nextHops, count);
    NextHops hops = state.nextHops();
    PortTable ports = state.ports();
    for (int i = 0; i < count; i++) {
      long mbuf = packets[i];
      int nextHop = nextHops[i];
      switch (hops.kind(nextHop)) {
        case NextHops.KIND_FORWARD -> forward(mbuf, nextHop, hops, ports, true);
        case NextHops.KIND_RESOLVE -> forward(mbuf, nextHop, hops, ports, false);
        case NextHops.KIND_LOCAL -> local(mbuf, ports);
        case NextHops.KIND_NO_ROUTE -> {
          error(mbuf, ports, Icmp4.DEST_UNREACHABLE, Icmp4.CODE_NET_UNREACHABLE, 0);
          io.counters.drop(DropReason.NO_ROUTE);
        }
        default -> io.drop(mbuf, DropReason.BLACKHOLE);
      }
    }
    count = 0;
  }

  private void forward(long mbuf, int nextHop, NextHops hops, PortTable ports, boolean resolved) {
    long frame = Mbuf.dataAddress(mbuf);
    long ip = frame + IP;
    if (NativeMemory.getU8(ip + Ipv4Header.TTL_OFFSET) <= 1) {
      error(mbuf, ports, Icmp4.TIME_EXCEEDED, 0, 0);
      io.counters.drop(DropReason.TTL_EXCEEDED);
      return;
    }
    int outPort = hops.port(nextHop);
    int mtu = ports.mtu(outPort);
    if (NativeMemory.getU16Be(ip + 2) > mtu) {
      boolean dontFragment = (NativeMemory.getU16Be(ip + 6) & 0x4000) != 0;
      if (dontFragment) {
        error(mbuf, ports, Icmp4.DEST_UNREACHABLE, Icmp4.CODE_FRAGMENTATION_NEEDED, mtu);
      } else {
        io.freeUncounted(mbuf); // flatnet does not fragment
      }
      io.counters.drop(DropReason.MTU_EXCEEDED);
      return;
    }
    if (!resolved) {
      neighbors.hold(mbuf, nextHop);
      return;
    }
    rewrite(frame, hops, nextHop);
    io.send(outPort, mbuf);
  }

  /** TTL minus one with the RFC 1624 checksum update, and the next hop's MACs. */
  static void rewrite(long frame, NextHops hops, int nextHop) {
    Ipv4Header.decrementTtl(frame + IP);
    Ethernet.setAddresses(frame, hops.dstMac(nextHop), hops.srcMac(nextHop));
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
    if (routerAddress == 0 || !Icmp4.mayReportErrorAbout(frame) || !io.canSend(port)) {
      io.freeUncounted(mbuf);
      return;
    }
    if (!icmpLimit.tryAcquire()) {
      io.counters.event(WorkerEvent.ICMP_RATE_LIMITED);
      io.freeUncounted(mbuf);
      return;
    }
    Icmp4.toError(mbuf, type, code, extra, routerAddress, ports.mac(port));
    io.counters.event(WorkerEvent.ICMP_SENT);
    io.send(port, mbuf);
  }

  /** RFC 1812 5.2.2: length, version, header length, total length, checksum. */
  static boolean wellFormed(long mbuf) {
    int ipLength = Mbuf.dataLength(mbuf) - IP;
    if (ipLength < Ipv4Header.MIN_LENGTH) {
      return false;
    }
    long ip = Mbuf.dataAddress(mbuf) + IP;
    int versionAndLength = NativeMemory.getU8(ip);
    int headerLength = (versionAndLength & 0x0F) << 2;
    if ((versionAndLength >>> 4) != 4
        || headerLength < Ipv4Header.MIN_LENGTH
        || headerLength > ipLength) {
      return false;
    }
    int totalLength = NativeMemory.getU16Be(ip + 2);
    if (totalLength < headerLength || totalLength > Mbuf.packetLength(mbuf) - IP) {
      return false;
    }
    int checksumFlags = (int) Mbuf.offloadFlags(mbuf) & CSUM_MASK;
    return checksumFlags == CSUM_GOOD
        || (checksumFlags != CSUM_BAD && Ipv4Header.checksumValid(ip, headerLength));
  }
}
