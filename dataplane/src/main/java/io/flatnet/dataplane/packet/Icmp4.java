package io.flatnet.dataplane.packet;

import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.NativeMemory;

/**
 * ICMP for IPv4 (RFC 792, RFC 1812 4.3), built in the mbuf that provoked it: no new mbuf, no copy
 * to another buffer. An error quotes the offending IP header and its first 8 payload bytes.
 */
public final class Icmp4 {
  private Icmp4() {}

  public static final int PROTOCOL = 1;
  public static final int ECHO_REPLY = 0;
  public static final int DEST_UNREACHABLE = 3;
  public static final int ECHO_REQUEST = 8;
  public static final int TIME_EXCEEDED = 11;
  public static final int CODE_NET_UNREACHABLE = 0;
  public static final int CODE_FRAGMENTATION_NEEDED = 4;

  private static final int IP = Ethernet.HEADER;
  private static final int ICMP_HEADER = 8;

  /**
   * True if RFC 1812 4.3.2.7 allows an error about this packet: not about an ICMP error, not a
   * non-first fragment, not from an unspecified, multicast or broadcast source.
   */
  public static boolean mayReportErrorAbout(long frame) {
    long ip = frame + IP;
    int headerLength = (NativeMemory.getU8(ip) & 0x0F) << 2;
    if ((NativeMemory.getU16Be(ip + 6) & 0x1FFF) != 0) {
      return false;
    }
    int source = NativeMemory.getIntBe(ip + Ipv4Header.SOURCE_OFFSET);
    if (source == 0 || source == -1 || (source >>> 28) == 0xE) {
      return false;
    }
    if (NativeMemory.getU8(ip + 9) == PROTOCOL) {
      int type = NativeMemory.getU8(ip + headerLength);
      return type == ECHO_REQUEST || type == ECHO_REPLY;
    }
    return true;
  }

  /**
   * Rewrites the packet in {@code mbuf} into an ICMP error to its sender, from {@code
   * routerAddress}, to leave by the port it came in on.
   *
   * @param extra the 32-bit "rest of header" (the next-hop MTU for fragmentation-needed, else 0)
   */
  public static void toError(
      long mbuf, int type, int code, int extra, int routerAddress, long portMac) {
    long frame = Mbuf.dataAddress(mbuf);
    long ip = frame + IP;
    int headerLength = (NativeMemory.getU8(ip) & 0x0F) << 2;
    int originalLength = Math.min(NativeMemory.getU16Be(ip + 2), Mbuf.dataLength(mbuf) - IP);
    int quoted = Math.min(originalLength, headerLength + 8);
    int sender = NativeMemory.getIntBe(ip + Ipv4Header.SOURCE_OFFSET);

    // Move the quoted header up to make room for a new IP header and the ICMP header.
    int newHeaders = Ipv4Header.MIN_LENGTH + ICMP_HEADER;
    NativeMemory.move(ip, ip + newHeaders, quoted);
    int total = newHeaders + quoted;
    writeIpHeader(ip, total, routerAddress, sender);
    long icmp = ip + Ipv4Header.MIN_LENGTH;
    NativeMemory.putU8(icmp, type);
    NativeMemory.putU8(icmp + 1, code);
    NativeMemory.putU16Be(icmp + 2, 0);
    NativeMemory.putIntBe(icmp + 4, extra);
    NativeMemory.putU16Be(
        icmp + 2, ~Ipv4Header.onesComplementSum(icmp, ICMP_HEADER + quoted) & 0xFFFF);
    Ethernet.turnAround(frame, portMac);
    Mbuf.setLength(mbuf, IP + total);
  }

  /** True if the IPv4 packet is an ICMP echo request with a whole ICMP header. */
  public static boolean isEchoRequest(long frame, int frameLength) {
    long ip = frame + IP;
    int headerLength = (NativeMemory.getU8(ip) & 0x0F) << 2;
    return NativeMemory.getU8(ip + 9) == PROTOCOL
        && frameLength >= IP + headerLength + ICMP_HEADER
        && NativeMemory.getU8(ip + headerLength) == ECHO_REQUEST
        && (NativeMemory.getU16Be(ip + 6) & 0x3FFF) == 0;
  }

  /** Turns an echo request to one of the router's addresses into the reply, in place. */
  public static void toEchoReply(long mbuf, long portMac) {
    long frame = Mbuf.dataAddress(mbuf);
    long ip = frame + IP;
    int headerLength = (NativeMemory.getU8(ip) & 0x0F) << 2;
    int source = NativeMemory.getIntBe(ip + Ipv4Header.SOURCE_OFFSET);
    int destination = NativeMemory.getIntBe(ip + Ipv4Header.DESTINATION_OFFSET);
    NativeMemory.putIntBe(ip + Ipv4Header.SOURCE_OFFSET, destination);
    NativeMemory.putIntBe(ip + Ipv4Header.DESTINATION_OFFSET, source);
    NativeMemory.putU8(ip + Ipv4Header.TTL_OFFSET, 64);
    Ipv4Header.writeChecksum(ip, headerLength);
    long icmp = ip + headerLength;
    NativeMemory.putU8(icmp, ECHO_REPLY);
    // Type 8 -> 0 lowers the first 16-bit word by 0x0800: RFC 1624 update of the checksum.
    int sum = (~NativeMemory.getU16Be(icmp + 2) & 0xFFFF) + (~0x0800 & 0xFFFF);
    sum = (sum & 0xFFFF) + (sum >>> 16);
    NativeMemory.putU16Be(icmp + 2, ~sum & 0xFFFF);
    Ethernet.turnAround(frame, portMac);
  }

  private static void writeIpHeader(long ip, int totalLength, int source, int destination) {
    NativeMemory.putU8(ip, 0x45);
    NativeMemory.putU8(ip + 1, 0xC0); // internetwork control precedence, as routers send errors
    NativeMemory.putU16Be(ip + 2, totalLength);
    NativeMemory.putU16Be(ip + 4, 0);
    NativeMemory.putU16Be(ip + 6, 0);
    NativeMemory.putU8(ip + Ipv4Header.TTL_OFFSET, 64);
    NativeMemory.putU8(ip + 9, PROTOCOL);
    NativeMemory.putIntBe(ip + Ipv4Header.SOURCE_OFFSET, source);
    NativeMemory.putIntBe(ip + Ipv4Header.DESTINATION_OFFSET, destination);
    Ipv4Header.writeChecksum(ip, Ipv4Header.MIN_LENGTH);
  }
}
