package io.flatnet.dataplane.packet;

import io.flatnet.dpdk.NativeMemory;

/** IPv4 header checks and rewrites on native memory (RFC 791, RFC 1812 section 5.2.2). */
public final class Ipv4Header {
  private Ipv4Header() {}

  public static final int ETHERTYPE = 0x0800;
  public static final int MIN_LENGTH = 20;
  public static final int TTL_OFFSET = 8;
  public static final int CHECKSUM_OFFSET = 10;
  public static final int SOURCE_OFFSET = 12;
  public static final int DESTINATION_OFFSET = 16;

  /** The one's-complement sum of {@code words} 16-bit words, folded to 16 bits. */
  public static int onesComplementSum(long address, int length) {
    long sum = 0;
    int i = 0;
    for (; i + 4 <= length; i += 4) {
      sum += NativeMemory.getIntBe(address + i) & 0xFFFF_FFFFL;
    }
    if (i + 2 <= length) {
      sum += NativeMemory.getU16Be(address + i);
      i += 2;
    }
    if (i < length) {
      sum += (long) NativeMemory.getU8(address + i) << 8;
    }
    while ((sum >>> 16) != 0) {
      sum = (sum & 0xFFFF) + (sum >>> 16);
    }
    return (int) sum;
  }

  /**
   * The one's-complement sum check of a header whose first 16 bytes are {@code head} and {@code
   * middle} and whose destination address is {@code destination} (all read big-endian), plus any
   * option words after byte 20. A valid header sums to 0xFFFF.
   */
  public static boolean checksumValid(
      long ip, int headerLength, long head, long middle, int destination) {
    long sum =
        (head >>> 32)
            + (head & 0xFFFF_FFFFL)
            + (middle >>> 32)
            + (middle & 0xFFFF_FFFFL)
            + (destination & 0xFFFF_FFFFL);
    for (int i = MIN_LENGTH; i < headerLength; i += 4) {
      sum += NativeMemory.getIntBe(ip + i) & 0xFFFF_FFFFL;
    }
    sum = (sum & 0xFFFF_FFFFL) + (sum >>> 32);
    sum = (sum & 0xFFFF) + (sum >>> 16);
    sum = (sum & 0xFFFF) + (sum >>> 16);
    return sum == 0xFFFF;
  }

  /**
   * The header's TTL/protocol/checksum word (bytes 8-11, big-endian) after a TTL decrement, with
   * the checksum patched incrementally (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')). The TTL is the
   * high byte of its 16-bit word, so m' = m - 0x0100 and ~m + m' = 0xFEFF. One load and one store
   * for both fields.
   */
  public static int decrementedTtlWord(int ttlWord) {
    int sum = (~ttlWord & 0xFFFF) + 0xFEFF;
    sum = (sum & 0xFFFF) + (sum >>> 16);
    return ((ttlWord - 0x0100_0000) & 0xFFFF_0000) | (~sum & 0xFFFF);
  }

  /** Computes and stores the header checksum (for packets flatnet builds). */
  public static void writeChecksum(long ip, int headerLength) {
    NativeMemory.putU16Be(ip + CHECKSUM_OFFSET, 0);
    NativeMemory.putU16Be(ip + CHECKSUM_OFFSET, ~onesComplementSum(ip, headerLength) & 0xFFFF);
  }
}
