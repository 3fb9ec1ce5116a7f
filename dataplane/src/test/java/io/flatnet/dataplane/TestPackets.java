package io.flatnet.dataplane;

import java.nio.ByteBuffer;

/** Builds Ethernet frames for tests, with checksums computed independently of the dataplane. */
public final class TestPackets {
  private TestPackets() {}

  public static final long SENDER_MAC = 0x02_00_00_00_aa_01L;
  public static final long ROUTER_MAC = 0x02_00_00_00_bb_01L;

  public static int ip(int a, int b, int c, int d) {
    return a << 24 | b << 16 | c << 8 | d;
  }

  /** A UDP datagram in IPv4 in Ethernet, with {@code payload} bytes of a recognisable pattern. */
  public static byte[] udp(int source, int destination, int ttl, int payload) {
    return ipv4(source, destination, ttl, 17, udpPayload(payload), true);
  }

  private static byte[] udpPayload(int payload) {
    ByteBuffer udp = ByteBuffer.allocate(8 + payload);
    udp.putShort((short) 1000).putShort((short) 1001).putShort((short) (8 + payload));
    udp.putShort((short) 0);
    for (int i = 0; i < payload; i++) {
      udp.put((byte) (i * 7 + 3));
    }
    return udp.array();
  }

  /** An ICMP echo request (id 0x4242, sequence 7) with {@code payload} bytes. */
  public static byte[] ping(int source, int destination, int ttl, int payload) {
    ByteBuffer icmp = ByteBuffer.allocate(8 + payload);
    icmp.put((byte) 8).put((byte) 0).putShort((short) 0).putShort((short) 0x4242);
    icmp.putShort((short) 7);
    for (int i = 0; i < payload; i++) {
      icmp.put((byte) i);
    }
    byte[] bytes = icmp.array();
    int sum = ~onesSum(bytes, 0, bytes.length, -1) & 0xFFFF;
    bytes[2] = (byte) (sum >>> 8);
    bytes[3] = (byte) sum;
    return ipv4(source, destination, ttl, 1, bytes, false);
  }

  public static byte[] ipv4(
      int source, int destination, int ttl, int protocol, byte[] payload, boolean dontFragment) {
    int ipLength = 20 + payload.length;
    ByteBuffer frame = ByteBuffer.allocate(14 + ipLength);
    putMac(frame, ROUTER_MAC);
    putMac(frame, SENDER_MAC);
    frame.putShort((short) 0x0800);
    frame.put((byte) 0x45).put((byte) 0).putShort((short) ipLength);
    frame.putShort((short) 0x1234).putShort((short) (dontFragment ? 0x4000 : 0));
    frame.put((byte) ttl).put((byte) protocol).putShort((short) 0);
    frame.putInt(source).putInt(destination);
    frame.put(payload);
    byte[] bytes = frame.array();
    int checksum = ipChecksum(bytes, 14, 20);
    bytes[24] = (byte) (checksum >>> 8);
    bytes[25] = (byte) checksum;
    return bytes;
  }

  /** An ARP request from {@code senderIp} asking for {@code targetIp}, to broadcast. */
  public static byte[] arpRequest(int senderIp, int targetIp) {
    ByteBuffer frame = ByteBuffer.allocate(60);
    putMac(frame, 0xFFFF_FFFF_FFFFL);
    putMac(frame, SENDER_MAC);
    frame.putShort((short) 0x0806);
    frame.putShort((short) 1).putShort((short) 0x0800).put((byte) 6).put((byte) 4);
    frame.putShort((short) 1);
    putMac(frame, SENDER_MAC);
    frame.putInt(senderIp);
    putMac(frame, 0);
    frame.putInt(targetIp);
    return frame.array();
  }

  /** An ARP reply telling that {@code senderIp} is at {@code senderMac}. */
  public static byte[] arpReply(int senderIp, long senderMac, int targetIp) {
    byte[] frame = arpRequest(senderIp, targetIp);
    frame[21] = 2;
    setMac(frame, 6, senderMac);
    setMac(frame, 22, senderMac);
    return frame;
  }

  /** Writes {@code mac} (low 48 bits) at {@code offset}. */
  public static void setMac(byte[] frame, int offset, long mac) {
    for (int i = 0; i < 6; i++) {
      frame[offset + i] = (byte) (mac >>> (40 - 8 * i));
    }
  }

  /** The frame, readdressed in place: to {@code dst} from {@code src}. */
  public static byte[] addressed(byte[] frame, long dst, long src) {
    setMac(frame, 0, dst);
    setMac(frame, 6, src);
    return frame;
  }

  /** An IPv6 packet with an ICMPv6 or UDP payload; checksum filled for ICMPv6 (58) and UDP (17). */
  public static byte[] ipv6(
      long[] source, long[] destination, int hopLimit, int nextHeader, byte[] payload) {
    ByteBuffer frame = ByteBuffer.allocate(14 + 40 + payload.length);
    putMac(frame, ROUTER_MAC);
    putMac(frame, SENDER_MAC);
    frame.putShort((short) 0x86DD);
    frame.putInt(0x6000_0000).putShort((short) payload.length).put((byte) nextHeader);
    frame.put((byte) hopLimit);
    frame.putLong(source[0]).putLong(source[1]).putLong(destination[0]).putLong(destination[1]);
    frame.put(payload);
    byte[] bytes = frame.array();
    int checksumOffset = nextHeader == 58 ? 2 : 6;
    int sum = icmp6Checksum(bytes, nextHeader);
    bytes[54 + checksumOffset] = (byte) (sum >>> 8);
    bytes[54 + checksumOffset + 1] = (byte) sum;
    return bytes;
  }

  public static byte[] udp6(long[] source, long[] destination, int hopLimit, int payload) {
    return ipv6(source, destination, hopLimit, 17, udpPayload(payload));
  }

  public static byte[] ping6(long[] source, long[] destination, int hopLimit) {
    byte[] icmp = {(byte) 128, 0, 0, 0, 0x42, 0x42, 0, 7, 1, 2, 3, 4};
    return ipv6(source, destination, hopLimit, 58, icmp);
  }

  /** A neighbour solicitation for {@code target} with a source link-layer address option. */
  public static byte[] neighborSolicitation(long[] source, long[] target) {
    ByteBuffer icmp = ByteBuffer.allocate(32);
    icmp.put((byte) 135).put((byte) 0).putShort((short) 0).putInt(0);
    icmp.putLong(target[0]).putLong(target[1]);
    icmp.put((byte) 1).put((byte) 1);
    putMac(icmp, SENDER_MAC);
    long[] group = {0xFF02_0000_0000_0000L, 0x0000_0001_FF00_0000L | (target[1] & 0xFF_FFFFL)};
    return ipv6(source, group, 255, 58, icmp.array());
  }

  /**
   * A neighbour solicitation (135) or advertisement (136) with every field the RFC 4861 checks look
   * at under the caller's control; {@code options} are appended as they are.
   */
  public static byte[] neighborMessage(
      int type,
      int code,
      int flags,
      long[] source,
      long[] destination,
      int hopLimit,
      long[] target,
      byte[] options) {
    ByteBuffer icmp = ByteBuffer.allocate(24 + options.length);
    icmp.put((byte) type).put((byte) code).putShort((short) 0).putInt(flags);
    icmp.putLong(target[0]).putLong(target[1]);
    icmp.put(options);
    return ipv6(source, destination, hopLimit, 58, icmp.array());
  }

  /** A link-layer address option (1: source, 2: target) carrying {@code mac}. */
  public static byte[] linkLayerOption(int type, long mac) {
    ByteBuffer option = ByteBuffer.allocate(8);
    option.put((byte) type).put((byte) 1);
    putMac(option, mac);
    return option.array();
  }

  /** The ICMPv6/UDP checksum of an IPv6 frame as it stands, with its checksum field taken as 0. */
  public static int icmp6Checksum(byte[] frame, int nextHeader) {
    int payloadLength = ((frame[18] & 0xFF) << 8) | (frame[19] & 0xFF);
    int checksumOffset = 54 + (nextHeader == 58 ? 2 : 6);
    int sum = onesSum(frame, 22, 32, -1);
    sum += payloadLength + nextHeader;
    sum = onesSum(frame, 54, payloadLength, checksumOffset - 54) + sum;
    while ((sum >>> 16) != 0) {
      sum = (sum & 0xFFFF) + (sum >>> 16);
    }
    return ~sum & 0xFFFF;
  }

  /** The RFC 791 header checksum of bytes[offset, offset+length) with the checksum field as 0. */
  public static int ipChecksum(byte[] bytes, int offset, int length) {
    return ~onesSum(bytes, offset, length, 10) & 0xFFFF;
  }

  /** The one's-complement sum, folded, skipping the 16-bit word at relative offset {@code skip}. */
  public static int onesSum(byte[] bytes, int offset, int length, int skip) {
    int sum = 0;
    for (int i = 0; i < length; i += 2) {
      if (i == skip) {
        continue;
      }
      int high = bytes[offset + i] & 0xFF;
      int low = i + 1 < length ? bytes[offset + i + 1] & 0xFF : 0;
      sum += (high << 8) | low;
    }
    while ((sum >>> 16) != 0) {
      sum = (sum & 0xFFFF) + (sum >>> 16);
    }
    return sum;
  }

  public static int u16(byte[] bytes, int offset) {
    return ((bytes[offset] & 0xFF) << 8) | (bytes[offset + 1] & 0xFF);
  }

  public static int u32(byte[] bytes, int offset) {
    return (u16(bytes, offset) << 16) | u16(bytes, offset + 2);
  }

  public static long u64(byte[] bytes, int offset) {
    return ((long) u32(bytes, offset) << 32) | (u32(bytes, offset + 4) & 0xFFFF_FFFFL);
  }

  public static long mac(byte[] bytes, int offset) {
    long mac = 0;
    for (int i = 0; i < 6; i++) {
      mac = mac << 8 | (bytes[offset + i] & 0xFF);
    }
    return mac;
  }

  private static void putMac(ByteBuffer frame, long mac) {
    for (int shift = 40; shift >= 0; shift -= 8) {
      frame.put((byte) (mac >>> shift));
    }
  }
}
