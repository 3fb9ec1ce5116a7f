package io.flatnet.dataplane;

import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.NativeMemory;

/**
 * ICMPv6 (RFC 4443) and neighbour discovery (RFC 4861) messages, built in the mbuf that provoked
 * them. Checksums cover the RFC 8200 pseudo-header.
 */
final class Icmp6 {
  private Icmp6() {}

  static final int NEXT_HEADER = 58;
  static final int DEST_UNREACHABLE = 1;
  static final int PACKET_TOO_BIG = 2;
  static final int TIME_EXCEEDED = 3;
  static final int ECHO_REQUEST = 128;
  static final int ECHO_REPLY = 129;
  static final int ROUTER_SOLICITATION = 133;
  static final int NEIGHBOR_SOLICITATION = 135;
  static final int NEIGHBOR_ADVERTISEMENT = 136;

  static final int IP = Ethernet.HEADER;
  static final int IPV6_HEADER = 40;
  private static final int ICMP_HEADER = 8;

  /** An error must fit the IPv6 minimum MTU (RFC 4443 2.4 c). */
  private static final int MAX_QUOTE = 1280 - IPV6_HEADER - ICMP_HEADER;

  /** The ICMPv6 checksum over the pseudo-header and {@code length} bytes at {@code icmp}. */
  static int checksum(long ip, long icmp, int length) {
    long sum = 0;
    for (int i = 8; i < 40; i += 4) {
      sum += NativeMemory.getIntBe(ip + i) & 0xFFFF_FFFFL; // source and destination
    }
    sum += length;
    sum += NEXT_HEADER;
    sum += Ipv4Header.onesComplementSum(icmp, length);
    while ((sum >>> 16) != 0) {
      sum = (sum & 0xFFFF) + (sum >>> 16);
    }
    return ~(int) sum & 0xFFFF;
  }

  static void writeChecksum(long ip, long icmp, int length) {
    NativeMemory.putU16Be(icmp + 2, 0);
    NativeMemory.putU16Be(icmp + 2, checksum(ip, icmp, length));
  }

  static boolean isMulticast(long hi) {
    return (hi >>> 56) == 0xFF;
  }

  /** RFC 4443 2.4 (e): no error about an error, or to an unspecified or multicast source. */
  static boolean mayReportErrorAbout(long frame, int frameLength) {
    long ip = frame + IP;
    long sourceHi = NativeMemory.getLongBe(ip + 8);
    long sourceLo = NativeMemory.getLongBe(ip + 16);
    if ((sourceHi | sourceLo) == 0 || isMulticast(sourceHi)) {
      return false;
    }
    if (NativeMemory.getU8(ip + 6) == NEXT_HEADER && frameLength >= IP + IPV6_HEADER + 1) {
      return NativeMemory.getU8(ip + IPV6_HEADER) >= 128; // informational, not an error
    }
    return true;
  }

  /** Rewrites the packet into an ICMPv6 error to its source, from the router's address. */
  static void toError(
      long mbuf, int type, int code, int extra, long routerHi, long routerLo, long portMac) {
    long frame = Mbuf.dataAddress(mbuf);
    long ip = frame + IP;
    int quoted = Math.min(Mbuf.dataLength(mbuf) - IP, MAX_QUOTE);
    long senderHi = NativeMemory.getLongBe(ip + 8);
    long senderLo = NativeMemory.getLongBe(ip + 16);
    NativeMemory.move(ip, ip + IPV6_HEADER + ICMP_HEADER, quoted);
    int icmpLength = ICMP_HEADER + quoted;
    writeHeader(ip, icmpLength, 64, routerHi, routerLo, senderHi, senderLo);
    long icmp = ip + IPV6_HEADER;
    NativeMemory.putU8(icmp, type);
    NativeMemory.putU8(icmp + 1, code);
    NativeMemory.putIntBe(icmp + 4, extra);
    writeChecksum(ip, icmp, icmpLength);
    Ethernet.turnAround(frame, portMac);
    Mbuf.setLength(mbuf, IP + IPV6_HEADER + icmpLength);
  }

  /** Turns an echo request into its reply, in place. */
  static void toEchoReply(long mbuf, long portMac) {
    long frame = Mbuf.dataAddress(mbuf);
    long ip = frame + IP;
    long sourceHi = NativeMemory.getLongBe(ip + 8);
    long sourceLo = NativeMemory.getLongBe(ip + 16);
    NativeMemory.putLongBe(ip + 8, NativeMemory.getLongBe(ip + 24));
    NativeMemory.putLongBe(ip + 16, NativeMemory.getLongBe(ip + 32));
    NativeMemory.putLongBe(ip + 24, sourceHi);
    NativeMemory.putLongBe(ip + 32, sourceLo);
    NativeMemory.putU8(ip + 7, 64);
    long icmp = ip + IPV6_HEADER;
    NativeMemory.putU8(icmp, ECHO_REPLY);
    writeChecksum(ip, icmp, NativeMemory.getU16Be(ip + 4));
    Ethernet.turnAround(frame, portMac);
  }

  /**
   * Answers a neighbour solicitation for {@code target} with an advertisement from this port's MAC
   * (solicited, router; override only for the router's own addresses), in place.
   */
  static void toNeighborAdvertisement(
      long mbuf, long targetHi, long targetLo, long portMac, boolean override) {
    long frame = Mbuf.dataAddress(mbuf);
    long ip = frame + IP;
    long askerHi = NativeMemory.getLongBe(ip + 8);
    long askerLo = NativeMemory.getLongBe(ip + 16);
    int icmpLength = 32;
    writeHeader(ip, icmpLength, 255, targetHi, targetLo, askerHi, askerLo);
    long icmp = ip + IPV6_HEADER;
    NativeMemory.putU8(icmp, NEIGHBOR_ADVERTISEMENT);
    NativeMemory.putU8(icmp + 1, 0);
    NativeMemory.putIntBe(icmp + 4, override ? 0xE000_0000 : 0xC000_0000); // R, S, (O)
    NativeMemory.putLongBe(icmp + 8, targetHi);
    NativeMemory.putLongBe(icmp + 16, targetLo);
    NativeMemory.putU8(icmp + 24, 2); // target link-layer address option
    NativeMemory.putU8(icmp + 25, 1);
    NativeMemory.putMac(icmp + 26, portMac);
    writeChecksum(ip, icmp, icmpLength);
    Ethernet.turnAround(frame, portMac);
    Mbuf.setLength(mbuf, IP + IPV6_HEADER + icmpLength);
  }

  /** The MAC in the first link-layer address option of {@code type}, or -1. */
  static long linkLayerOption(long options, int length, int type) {
    int offset = 0;
    while (offset + 8 <= length) {
      int optionType = NativeMemory.getU8(options + offset);
      int optionLength = NativeMemory.getU8(options + offset + 1) * 8;
      if (optionLength == 0) {
        return -1;
      }
      if (optionType == type) {
        return NativeMemory.getMac(options + offset + 2);
      }
      offset += optionLength;
    }
    return -1;
  }

  private static void writeHeader(
      long ip, int payloadLength, int hopLimit, long srcHi, long srcLo, long dstHi, long dstLo) {
    NativeMemory.putIntBe(ip, 0x6000_0000);
    NativeMemory.putU16Be(ip + 4, payloadLength);
    NativeMemory.putU8(ip + 6, NEXT_HEADER);
    NativeMemory.putU8(ip + 7, hopLimit);
    NativeMemory.putLongBe(ip + 8, srcHi);
    NativeMemory.putLongBe(ip + 16, srcLo);
    NativeMemory.putLongBe(ip + 24, dstHi);
    NativeMemory.putLongBe(ip + 32, dstLo);
  }
}
