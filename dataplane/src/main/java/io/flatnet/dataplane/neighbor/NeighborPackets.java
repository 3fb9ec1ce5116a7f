package io.flatnet.dataplane.neighbor;

import io.flatnet.dataplane.PortTable;
import io.flatnet.dataplane.packet.Ethernet;
import io.flatnet.dataplane.packet.Icmp6;
import io.flatnet.dpdk.NativeMemory;

/** Builds the neighbour-resolution requests the control path sends. */
public final class NeighborPackets {
  private NeighborPackets() {}

  /**
   * An ARP request (RFC 826) for {@code target}, broadcast, or unicast to {@code mac} (a
   * reachability probe, as Linux sends) unless it is -1; returns the frame length.
   */
  static int arpRequest(long frame, long portMac, int senderIp, int target, long mac) {
    Ethernet.setAddresses(frame, mac < 0 ? Ethernet.BROADCAST : mac, portMac);
    NativeMemory.putU16Be(frame + Ethernet.TYPE_OFFSET, Ethernet.ARP);
    long arp = frame + Ethernet.HEADER;
    NativeMemory.putU16Be(arp, 1);
    NativeMemory.putU16Be(arp + 2, Ethernet.IPV4);
    NativeMemory.putU16Be(arp + 4, 0x0604);
    NativeMemory.putU16Be(arp + 6, 1);
    NativeMemory.putMac(arp + 8, portMac);
    NativeMemory.putIntBe(arp + 14, senderIp);
    NativeMemory.putMac(arp + 18, 0);
    NativeMemory.putIntBe(arp + 24, target);
    NativeMemory.zero(arp + 28, 60 - Ethernet.HEADER - 28);
    return 60; // minimum frame, zero padded
  }

  /**
   * A neighbour solicitation (RFC 4861 4.3) for {@code hi:lo} from the port's link-local address:
   * to its solicited-node multicast address, or, if {@code mac} is not -1, a unicast probe to the
   * address itself at {@code mac} (RFC 4861 7.3.3); returns the frame length.
   */
  static int solicitation(long frame, long portMac, long hi, long lo, long mac) {
    boolean unicast = mac >= 0;
    Ethernet.setAddresses(frame, unicast ? mac : 0x3333_FF00_0000L | (lo & 0xFF_FFFFL), portMac);
    NativeMemory.putU16Be(frame + Ethernet.TYPE_OFFSET, Ethernet.IPV6);
    long ip = frame + Ethernet.HEADER;
    int icmpLength = 32;
    NativeMemory.putIntBe(ip, 0x6000_0000);
    NativeMemory.putU16Be(ip + 4, icmpLength);
    NativeMemory.putU8(ip + 6, Icmp6.NEXT_HEADER);
    NativeMemory.putU8(ip + 7, 255);
    NativeMemory.putLongBe(ip + 8, PortTable.LINK_LOCAL_HI);
    NativeMemory.putLongBe(ip + 16, PortTable.linkLocalLo(portMac));
    NativeMemory.putLongBe(ip + 24, unicast ? hi : 0xFF02_0000_0000_0000L);
    NativeMemory.putLongBe(ip + 32, unicast ? lo : 0x0000_0001_FF00_0000L | (lo & 0xFF_FFFFL));
    long icmp = ip + Icmp6.IPV6_HEADER;
    NativeMemory.putU8(icmp, Icmp6.NEIGHBOR_SOLICITATION);
    NativeMemory.putU8(icmp + 1, 0);
    NativeMemory.putIntBe(icmp + 4, 0);
    NativeMemory.putLongBe(icmp + 8, hi);
    NativeMemory.putLongBe(icmp + 16, lo);
    NativeMemory.putU8(icmp + 24, 1); // source link-layer address option
    NativeMemory.putU8(icmp + 25, 1);
    NativeMemory.putMac(icmp + 26, portMac);
    Icmp6.writeChecksum(ip, icmp, icmpLength);
    return Ethernet.HEADER + Icmp6.IPV6_HEADER + icmpLength;
  }
}
