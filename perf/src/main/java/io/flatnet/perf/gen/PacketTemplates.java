package io.flatnet.perf.gen;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The generator's frames: UDP 1000 -> 1001 from 10.254.0.0 to {@code FLOWS} consecutive
 * destinations from 10.253.0.0 (10.253.0.0 - 10.253.3.255, four /24s, as testpmd flowgen sends in
 * DPDK 22.11, so the bench's routes and its routing check apply unchanged), TTL 64, IPv4 header
 * checksum filled in, UDP checksum 0. One template per destination, built once, copied into each
 * mbuf; only the probe fields are written per packet.
 *
 * <p>Probe layout, in the UDP payload (all inside the first 60 bytes, so inside the smallest
 * frame): {@code MAGIC} (4 bytes) at {@link #PROBE_MAGIC}, the send time ({@code
 * System.nanoTime()}, 8 bytes) at {@link #PROBE_TIME}, a sequence number (4 bytes) at {@link
 * #PROBE_SEQ}. Ordinary packets carry zeros there.
 */
public final class PacketTemplates {
  private PacketTemplates() {}

  public static final int FLOWS = 1024;
  public static final int FIRST_DST = 0x0AFD0000; // 10.253.0.0
  public static final int SRC = 0x0AFE0000; // 10.254.0.0
  public static final int SRC_PORT = 1000;
  public static final int DST_PORT = 1001;

  public static final int ETH = 14;
  public static final int IP = ETH;
  public static final int IP_DST = IP + 16;
  public static final int UDP = IP + 20;
  public static final int PAYLOAD = UDP + 8;
  public static final int PROBE_MAGIC = PAYLOAD; // 42
  public static final int PROBE_TIME = PAYLOAD + 4; // 46
  public static final int PROBE_SEQ = PAYLOAD + 12; // 54
  public static final int PROBE_END = PAYLOAD + 16; // 58
  public static final int MAGIC = 0x464C4E54; // "FLNT"

  /** Bytes of each template copied into a packet: the headers and the probe fields. */
  public static final int COPY = 64;

  /** The smallest frame (with FCS) that holds the probe fields. */
  public static final int MIN_FRAME = 64;

  /**
   * The simple IMIX, 64, 570 and 1518 B frames (with FCS) 7:4:1, as the frame sizes of 12
   * consecutive packets, interleaved so that every burst of 32 holds about the mix: the generator
   * sends packet {@code n} (of each port) at {@code IMIX_PATTERN[n % 12]}. Mean 353.83 B.
   */
  public static final int[] IMIX_PATTERN = {64, 570, 64, 64, 570, 64, 1518, 64, 570, 64, 64, 570};

  /** The frame sizes of a generator's {@code --frame-size}: one size, or the IMIX pattern. */
  public static int[] pattern(String frameSize) {
    if (frameSize.strip().equalsIgnoreCase("imix")) {
      return IMIX_PATTERN.clone();
    }
    int size;
    try {
      size = Integer.parseInt(frameSize.strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("frame size '" + frameSize + "' is not a number or imix");
    }
    packetLength(size); // validates
    return new int[] {size};
  }

  /** The packet length (no FCS) of a frame size. */
  public static int packetLength(int frameBytes) {
    if (frameBytes < MIN_FRAME || frameBytes > 1518) {
      throw new IllegalArgumentException("frame size " + frameBytes + " is outside 64..1518");
    }
    return frameBytes - 4;
  }

  /**
   * The template of flow {@code flow}, {@link #COPY} bytes (zero past the packet's end).
   *
   * @param srcMac the sending port's MAC, {@code dstMac} the DUT's (low 48 bits)
   */
  public static byte[] template(int flow, int frameBytes, long srcMac, long dstMac) {
    int len = packetLength(frameBytes);
    ByteBuffer b = ByteBuffer.allocate(COPY).order(ByteOrder.BIG_ENDIAN);
    putMac(b, 0, dstMac);
    putMac(b, 6, srcMac);
    b.putShort(12, (short) 0x0800);
    b.put(IP, (byte) 0x45);
    b.putShort(IP + 2, (short) (len - ETH));
    b.putShort(IP + 4, (short) 0);
    b.putShort(IP + 6, (short) 0);
    b.put(IP + 8, (byte) 64);
    b.put(IP + 9, (byte) 17);
    b.putInt(IP + 12, SRC);
    b.putInt(IP + 16, FIRST_DST + (flow % FLOWS));
    b.putShort(IP + 10, (short) ipv4Checksum(b.array(), IP));
    b.putShort(UDP, (short) SRC_PORT);
    b.putShort(UDP + 2, (short) DST_PORT);
    b.putShort(UDP + 4, (short) (len - UDP));
    b.putShort(UDP + 6, (short) 0);
    return b.array();
  }

  /** The one's-complement checksum of the 20-byte IPv4 header at {@code offset}. */
  public static int ipv4Checksum(byte[] frame, int offset) {
    int sum = 0;
    for (int i = 0; i < 20; i += 2) {
      if (i == 10) {
        continue;
      }
      sum += (frame[offset + i] & 0xff) << 8 | (frame[offset + i + 1] & 0xff);
    }
    while ((sum >>> 16) != 0) {
      sum = (sum & 0xffff) + (sum >>> 16);
    }
    return ~sum & 0xffff;
  }

  private static void putMac(ByteBuffer b, int at, long mac) {
    for (int i = 0; i < 6; i++) {
      b.put(at + i, (byte) (mac >>> (40 - 8 * i)));
    }
  }
}
