package io.flatnet.dataplane;

/**
 * A flow's 5-tuple in canonical order: endpoint A is the smaller of the two (address, then port,
 * unsigned), so both directions of a flow make the same key; {@link #srcIsB} tells which side sent
 * this packet. Mutable and reused (one per worker): no allocation per packet.
 */
final class FlowKey {
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

  int hash() {
    long h = aHi * 0x9E37_79B9_7F4A_7C15L;
    h = (h ^ aLo) * 0xBF58_476D_1CE4_E5B9L;
    h = (h ^ bHi) * 0x94D0_49BB_1331_11EBL;
    h = (h ^ bLo) * 0x9E37_79B9_7F4A_7C15L;
    h = (h ^ meta) * 0xBF58_476D_1CE4_E5B9L;
    return (int) (h ^ (h >>> 31) ^ (h >>> 47));
  }

  int aPort() {
    return (int) (meta >>> 48);
  }

  int bPort() {
    return (int) (meta >>> 32) & 0xFFFF;
  }
}
