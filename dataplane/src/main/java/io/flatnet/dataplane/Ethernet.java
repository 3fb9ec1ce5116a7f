package io.flatnet.dataplane;

import io.flatnet.dpdk.NativeMemory;

/** Ethernet II header fields (IEEE 802.3). */
final class Ethernet {
  private Ethernet() {}

  static final int HEADER = 14;
  static final int TYPE_OFFSET = 12;
  static final int IPV4 = 0x0800;
  static final int ARP = 0x0806;
  static final int IPV6 = 0x86DD;
  static final long BROADCAST = 0xFFFF_FFFF_FFFFL;

  static int type(long frame) {
    return NativeMemory.getU16Be(frame + TYPE_OFFSET);
  }

  static long destination(long frame) {
    return NativeMemory.getMac(frame);
  }

  static long source(long frame) {
    return NativeMemory.getMac(frame + 6);
  }

  static void setAddresses(long frame, long destination, long source) {
    // Two stores instead of four: bytes 0-7 are the destination and the source's first two.
    NativeMemory.putLongBe(frame, destination << 16 | source >>> 32);
    NativeMemory.putIntBe(frame + 8, (int) source);
  }

  /** Replies go back to where the frame came from, from this port's MAC. */
  static void turnAround(long frame, long portMac) {
    setAddresses(frame, source(frame), portMac);
  }
}
