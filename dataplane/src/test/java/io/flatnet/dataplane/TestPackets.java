package io.flatnet.dataplane;

import java.nio.ByteBuffer;

/** Builds Ethernet/IPv4/UDP frames for tests, with a checksum computed independently. */
final class TestPackets {
  private TestPackets() {}

  static final long SENDER_MAC = 0x02_00_00_00_aa_01L;
  static final long ROUTER_MAC = 0x02_00_00_00_bb_01L;

  static int ip(int a, int b, int c, int d) {
    return a << 24 | b << 16 | c << 8 | d;
  }

  /** A UDP datagram in IPv4 in Ethernet, with {@code payload} bytes of a recognisable pattern. */
  static byte[] udp(int source, int destination, int ttl, int payload) {
    int ipLength = 20 + 8 + payload;
    ByteBuffer frame = ByteBuffer.allocate(14 + ipLength);
    putMac(frame, ROUTER_MAC);
    putMac(frame, SENDER_MAC);
    frame.putShort((short) 0x0800);
    frame.put((byte) 0x45).put((byte) 0).putShort((short) ipLength);
    frame.putShort((short) 0x1234).putShort((short) 0x4000);
    frame.put((byte) ttl).put((byte) 17).putShort((short) 0);
    frame.putInt(source).putInt(destination);
    frame.putShort((short) 1000).putShort((short) 1001).putShort((short) (8 + payload));
    frame.putShort((short) 0);
    for (int i = 0; i < payload; i++) {
      frame.put((byte) (i * 7 + 3));
    }
    byte[] bytes = frame.array();
    int checksum = ipChecksum(bytes, 14, 20);
    bytes[24] = (byte) (checksum >>> 8);
    bytes[25] = (byte) checksum;
    return bytes;
  }

  /** The RFC 791 header checksum of bytes[offset, offset+length) with the checksum field as is. */
  static int ipChecksum(byte[] bytes, int offset, int length) {
    int sum = 0;
    for (int i = 0; i < length; i += 2) {
      if (i == 10) {
        continue;
      }
      sum += ((bytes[offset + i] & 0xFF) << 8) | (bytes[offset + i + 1] & 0xFF);
    }
    while ((sum >>> 16) != 0) {
      sum = (sum & 0xFFFF) + (sum >>> 16);
    }
    return ~sum & 0xFFFF;
  }

  static long mac(byte[] bytes, int offset) {
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
