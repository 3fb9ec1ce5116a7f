package io.flatnet.dataplane.policy;

/**
 * A flow's 5-tuple in canonical order: endpoint A is the smaller of the two (address, then port,
 * unsigned), so both directions of a flow make the same key; {@link #srcIsB} tells which side sent
 * this packet. Mutable and reused (one per worker): no allocation per packet.
 */
public final class FlowKey {
  long aHi;
  long aLo;
  long bHi;
  long bLo;

  /** Ports and protocol as held in an entry's meta word: A port, B port, protocol (bits 24..63). */
  long meta;

  /** The packet's source is endpoint B. */
  boolean srcIsB;

  int protocol;

  /** The destination port of this packet (0 if none). */
  int dstPort;

  void set(long srcHi, long srcLo, int srcPort, long dstHi, long dstLo, int dstPort, int protocol) {
    this.protocol = protocol;
    this.dstPort = dstPort;
    int order = Long.compareUnsigned(srcHi, dstHi);
    if (order == 0) {
      order = Long.compareUnsigned(srcLo, dstLo);
    }
    if (order == 0) {
      order = Integer.compare(srcPort, dstPort);
    }
    srcIsB = order > 0;
    if (srcIsB) {
      aHi = dstHi;
      aLo = dstLo;
      bHi = srcHi;
      bLo = srcLo;
      meta = FlowTable.meta(dstPort, srcPort, protocol);
    } else {
      aHi = srcHi;
      aLo = srcLo;
      bHi = dstHi;
      bLo = dstLo;
      meta = FlowTable.meta(srcPort, dstPort, protocol);
    }
  }

  /**
   * {@link #set} for IPv4 (both addresses as ::ffff:a.b.c.d, so the high words are 0): the same
   * key, without comparing the high words.
   */
  void set4(long srcLo, int srcPort, long dstLo, int dstPort, int protocol) {
    this.protocol = protocol;
    this.dstPort = dstPort;
    aHi = 0;
    bHi = 0;
    boolean b = srcLo != dstLo ? Long.compareUnsigned(srcLo, dstLo) > 0 : srcPort > dstPort;
    srcIsB = b;
    if (b) {
      aLo = dstLo;
      bLo = srcLo;
      meta = FlowTable.meta(dstPort, srcPort, protocol);
    } else {
      aLo = srcLo;
      bLo = dstLo;
      meta = FlowTable.meta(srcPort, dstPort, protocol);
    }
  }

  /**
   * The table index hash: the five words multiplied independently (no chain of dependent
   * multiplies: they issue together), summed, then mixed once so the high bits reach the index.
   */
  int hash() {
    long h =
        aHi * 0x9E37_79B9_7F4A_7C15L
            + aLo * 0xBF58_476D_1CE4_E5B9L
            + bHi * 0x94D0_49BB_1331_11EBL
            + bLo * 0xD6E8_FEB8_6659_FD93L
            + meta * 0xC2B2_AE3D_27D4_EB4FL;
    h = (h ^ (h >>> 32)) * 0x9E37_79B9_7F4A_7C15L;
    return (int) (h >>> 32);
  }

  int aPort() {
    return (int) (meta >>> 48);
  }

  int bPort() {
    return (int) (meta >>> 32) & 0xFFFF;
  }
}
