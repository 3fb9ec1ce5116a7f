package io.flatnet.dpdk;

import static io.flatnet.dpdk.DpdkLayout.*;

/**
 * Accessors for {@code struct rte_mbuf} fields, by the mbuf's absolute address. There is no mbuf
 * object: a packet is a {@code long}.
 */
public final class Mbuf {
  private Mbuf() {}

  public static long bufferAddress(long mbuf) {
    return NativeMemory.getLong(mbuf + MBUF_BUF_ADDR);
  }

  public static int dataOffset(long mbuf) {
    return NativeMemory.getU16(mbuf + MBUF_DATA_OFF);
  }

  /** Where the packet's first byte is: {@code buf_addr + data_off}. */
  public static long dataAddress(long mbuf) {
    return bufferAddress(mbuf) + dataOffset(mbuf);
  }

  public static int dataLength(long mbuf) {
    return NativeMemory.getU16(mbuf + MBUF_DATA_LEN);
  }

  public static void setDataLength(long mbuf, int length) {
    NativeMemory.putU16(mbuf + MBUF_DATA_LEN, length);
  }

  public static int packetLength(long mbuf) {
    return NativeMemory.getInt(mbuf + MBUF_PKT_LEN);
  }

  /**
   * {@code pkt_len} and {@code data_len} in one load, for the hot path: they are adjacent ({@code
   * data_len} right after {@code pkt_len}, as {@code LayoutConformanceTest} checks), so on a
   * little-endian CPU {@code pkt_len} is the low 32 bits and {@code data_len} bits 32 to 47.
   */
  public static long lengths(long mbuf) {
    return NativeMemory.getLong(mbuf + MBUF_PKT_LEN);
  }

  /** {@code pkt_len} of a {@link #lengths} value. */
  public static int packetLengthOf(long lengths) {
    return (int) lengths;
  }

  /** {@code data_len} of a {@link #lengths} value. */
  public static int dataLengthOf(long lengths) {
    return (int) (lengths >>> 32) & 0xFFFF;
  }

  public static void setPacketLength(long mbuf, int length) {
    NativeMemory.putInt(mbuf + MBUF_PKT_LEN, length);
  }

  /** Sets both lengths of a single-segment packet. */
  public static void setLength(long mbuf, int length) {
    setDataLength(mbuf, length);
    setPacketLength(mbuf, length);
  }

  public static int port(long mbuf) {
    return NativeMemory.getU16(mbuf + MBUF_PORT);
  }

  /**
   * Sets the port field; flatnet uses it to tell a worker which port a handed-off packet leaves by.
   */
  public static void setPort(long mbuf, int port) {
    NativeMemory.putU16(mbuf + MBUF_PORT, port);
  }

  public static long offloadFlags(long mbuf) {
    return NativeMemory.getLong(mbuf + MBUF_OL_FLAGS);
  }

  public static int packetType(long mbuf) {
    return NativeMemory.getInt(mbuf + MBUF_PACKET_TYPE);
  }

  public static int refCount(long mbuf) {
    return NativeMemory.getU16(mbuf + MBUF_REFCNT);
  }

  public static int segmentCount(long mbuf) {
    return NativeMemory.getU16(mbuf + MBUF_NB_SEGS);
  }

  public static long next(long mbuf) {
    return NativeMemory.getLong(mbuf + MBUF_NEXT);
  }

  public static int bufferLength(long mbuf) {
    return NativeMemory.getU16(mbuf + MBUF_BUF_LEN);
  }

  public static long pool(long mbuf) {
    return NativeMemory.getLong(mbuf + MBUF_POOL);
  }

  /** What {@code rte_pktmbuf_reset} does: an empty single segment with the default headroom. */
  public static void reset(long mbuf) {
    NativeMemory.putLong(mbuf + MBUF_NEXT, 0);
    NativeMemory.putInt(mbuf + MBUF_PKT_LEN, 0);
    NativeMemory.putLong(mbuf + MBUF_TX_OFFLOAD, 0);
    NativeMemory.putU16(mbuf + MBUF_VLAN_TCI, 0);
    NativeMemory.putU16(mbuf + MBUF_VLAN_TCI_OUTER, 0);
    NativeMemory.putU16(mbuf + MBUF_NB_SEGS, 1);
    NativeMemory.putU16(mbuf + MBUF_PORT, MBUF_PORT_INVALID);
    NativeMemory.putLong(mbuf + MBUF_OL_FLAGS, offloadFlags(mbuf) & MBUF_F_EXTERNAL);
    NativeMemory.putInt(mbuf + MBUF_PACKET_TYPE, 0);
    NativeMemory.putU16(mbuf + MBUF_DATA_OFF, Math.min(MBUF_HEADROOM, bufferLength(mbuf)));
    NativeMemory.putU16(mbuf + MBUF_DATA_LEN, 0);
  }
}
