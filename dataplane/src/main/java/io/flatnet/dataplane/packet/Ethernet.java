package io.flatnet.dataplane.packet;

import io.flatnet.dpdk.NativeMemory;

/** Ethernet II header fields (IEEE 802.3). */
public final class Ethernet {
  private Ethernet() {}

  public static final int HEADER = 14;
  public static final int TYPE_OFFSET = 12;
  public static final int IPV4 = 0x0800;
  public static final int ARP = 0x0806;
  public static final int IPV6 = 0x86DD;
  public static final long BROADCAST = 0xFFFF_FFFF_FFFFL;

  public static int type(long frame) {
    return NativeMemory.getU16Be(frame + TYPE_OFFSET);
  }

  public static long destination(long frame) {
    return NativeMemory.getMac(frame);
  }

  public static long source(long frame) {
    return NativeMemory.getMac(frame + 6);
  }

  public static void setAddresses(long frame, long destination, long source) {
    // Two stores instead of four: bytes 0-7 are the destination and the source's first two.
    NativeMemory.putLongBe(frame, destination << 16 | source >>> 32);
    NativeMemory.putIntBe(frame + 8, (int) source);
  }

  /** Replies go back to where the frame came from, from this port's MAC. */
  public static void turnAround(long frame, long portMac) {
    setAddresses(frame, source(frame), portMac);
  }
}
