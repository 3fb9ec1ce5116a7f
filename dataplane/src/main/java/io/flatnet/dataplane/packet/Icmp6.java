package io.flatnet.dataplane.packet;

import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.NativeMemory;

/**
 * ICMPv6 (RFC 4443) and neighbour discovery (RFC 4861) messages, built in the mbuf that provoked
 * them. Checksums cover the RFC 8200 pseudo-header.
 */
public final class Icmp6 {
  private Icmp6() {}

  public static final int NEXT_HEADER = 58;
  public static final int DEST_UNREACHABLE = 1;
  public static final int PACKET_TOO_BIG = 2;
  public static final int TIME_EXCEEDED = 3;
  public static final int ECHO_REQUEST = 128;
  public static final int ECHO_REPLY = 129;
  public static final int ROUTER_SOLICITATION = 133;
  public static final int NEIGHBOR_SOLICITATION = 135;
  public static final int NEIGHBOR_ADVERTISEMENT = 136;

  public static final int IP = Ethernet.HEADER;
  public static final int IPV6_HEADER = 40;
  private static final int ICMP_HEADER = 8;

  /** An error must fit the IPv6 minimum MTU (RFC 4443 2.4 c). */
  private static final int MAX_QUOTE = 1280 - IPV6_HEADER - ICMP_HEADER;

  /** The ICMPv6 checksum over the pseudo-header and {@code length} bytes at {@code icmp}. */
  public static int checksum(long ip, long icmp, int length) {
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

  public static void writeChecksum(long ip, long icmp, int length) {
    NativeMemory.putU16Be(icmp + 2, 0);
    NativeMemory.putU16Be(icmp + 2, checksum(ip, icmp, length));
  }

  /** RFC 4443 2.4 (e): no error about an error, or to an unspecified or multicast source. */
  public static boolean mayReportErrorAbout(long frame, int frameLength) {
    long ip = frame + IP;
    long sourceHi = NativeMemory.getLongBe(ip + 8);
    long sourceLo = NativeMemory.getLongBe(ip + 16);
    if ((sourceHi | sourceLo) == 0 || AddressChecks.isMulticast6(sourceHi)) {
      return false;
    }
    if (NativeMemory.getU8(ip + 6) == NEXT_HEADER && frameLength >= IP + IPV6_HEADER + 1) {
      return NativeMemory.getU8(ip + IPV6_HEADER) >= 128; // informational, not an error
    }
    return true;
  }

  /** Rewrites the packet into an ICMPv6 error to its source, from the router's address. */
  public static void toError(
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
  public static void toEchoReply(long mbuf, long portMac) {
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
  public static void toNeighborAdvertisement(
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

  /** {@link #linkLayerOption}: no option of the type. */
  public static final long OPTION_ABSENT = -1;

  /** {@link #linkLayerOption}: an option of length 0 or past the end (RFC 4861 4.6: discard). */
  public static final long OPTIONS_MALFORMED = -2;

  /**
   * The MAC in the first link-layer address option of {@code type} among the {@code length} bytes
   * of options at {@code options}, {@link #OPTION_ABSENT}, or {@link #OPTIONS_MALFORMED}. Every
   * option is walked, so a bad one after the wanted one still condemns the packet.
   */
  public static long linkLayerOption(long options, int length, int type) {
    long found = OPTION_ABSENT;
    int offset = 0;
    while (offset < length) {
      if (length - offset < 2) {
        return OPTIONS_MALFORMED;
      }
      int optionLength = NativeMemory.getU8(options + offset + 1) * 8;
      if (optionLength == 0 || optionLength > length - offset) {
        return OPTIONS_MALFORMED;
      }
      if (NativeMemory.getU8(options + offset) == type && found == OPTION_ABSENT) {
        found = NativeMemory.getMac(options + offset + 2);
      }
      offset += optionLength;
    }
    return found;
  }

  /**
   * RFC 4861 7.1.1 / 7.1.2 checks common to solicitations and advertisements: hop limit 255, code
   * 0, at least the fixed 24 bytes, a valid checksum, a target that is not multicast.
   */
  public static boolean neighborMessageValid(long ip, int icmpLength) {
    long icmp = ip + IPV6_HEADER;
    return icmpLength >= 24
        && NativeMemory.getU8(ip + 7) == 255
        && NativeMemory.getU8(icmp + 1) == 0
        && !AddressChecks.isMulticast6(NativeMemory.getLongBe(icmp + 8))
        && checksum(ip, icmp, icmpLength) == 0;
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
