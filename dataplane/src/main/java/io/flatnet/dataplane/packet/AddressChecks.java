package io.flatnet.dataplane.packet;

import io.flatnet.route.NextHopTable;
import io.flatnet.route.NextHops;

/**
 * The address rules of the forwarding decision, written once: the workers apply them to packets and
 * {@code ctl trace} to the addresses it is asked about, so the two cannot disagree.
 */
public final class AddressChecks {
  private AddressChecks() {}

  /** The group (multicast) bit of a MAC held in the low 48 bits of a long. */
  private static final long MAC_GROUP_BIT = 0x0100_0000_0000L;

  /** True for a MAC a neighbour can have: not zero, broadcast or multicast. */
  public static boolean isUnicastMac(long mac) {
    return mac != 0 && (mac & MAC_GROUP_BIT) == 0;
  }

  /** True for broadcast and multicast MACs. */
  public static boolean isGroupMac(long mac) {
    return (mac & MAC_GROUP_BIT) != 0;
  }

  /** RFC 1812 5.3.7 and RFC 5735: 0/8, 127/8, 224/4 (multicast) and 240/4 (with broadcast). */
  public static boolean martianSource4(int source) {
    int top = source >>> 24;
    return top == 0 || top == 127 || top >= 224;
  }

  /**
   * Never routed: 0/8, 127/8, multicast (flatnet routes no multicast), 240/4 and the limited
   * broadcast. No ICMP error is sent about these.
   */
  public static boolean martianDestination4(int destination) {
    return martianSource4(destination);
  }

  /** fe80::/10, by the high 64 bits. */
  public static boolean isLinkLocal6(long hi) {
    return (hi & 0xFFC0_0000_0000_0000L) == 0xFE80_0000_0000_0000L;
  }

  /** ff00::/8, by the high 64 bits. */
  public static boolean isMulticast6(long hi) {
    return (hi >>> 56) == 0xFF;
  }

  /**
   * For a routed (not on-link) packet: the unspecified address, loopback, multicast, or a
   * link-local source that forwarding would carry off its link (RFC 4291 2.5.6).
   */
  public static boolean martianSource6(long hi, long lo) {
    return hi == 0 && (lo == 0 || lo == 1) || isMulticast6(hi) || isLinkLocal6(hi);
  }

  /** The unspecified address and loopback are never routed. */
  public static boolean martianDestination6(long hi, long lo) {
    return hi == 0 && (lo == 0 || lo == 1);
  }

  /**
   * Strict reverse-path check for a guarded pod port: the route back to the source must leave by
   * the port the packet came in on and, once resolved, to the MAC that sent it (a shared pod bridge
   * has many pods behind one port). {@code sourceEntry} is the next-hop entry that the source's
   * lookup found.
   */
  public static boolean sourceBelongs(long sourceEntry, int inPort, long sourceMac) {
    return switch (NextHopTable.kindOf(sourceEntry)) {
      case NextHops.KIND_FORWARD ->
          NextHopTable.portOf(sourceEntry) == inPort
              && NextHopTable.dstMacOf(sourceEntry) == sourceMac;
      case NextHops.KIND_RESOLVE -> NextHopTable.portOf(sourceEntry) == inPort;
      default -> false;
    };
  }
}
