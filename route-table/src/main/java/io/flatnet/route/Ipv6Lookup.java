package io.flatnet.route;

/**
 * The read side of an IPv6 forwarding table, as a worker sees it. Lock-free and allocation-free. An
 * address is passed as two longs: {@code hi} = bytes 0..7 and {@code lo} = bytes 8..15, each read
 * big-endian from the header.
 */
public interface Ipv6Lookup {

  /**
   * Longest-prefix match.
   *
   * @return the next-hop index, or {@link NextHops#NO_ROUTE} when no prefix covers the address
   */
  int lookup(long hi, long lo);

  /** Looks up {@code count} addresses (at most 32 per call is the expected use). */
  default void lookupBulk(long[] hi, long[] lo, int[] nextHops, int count) {
    for (int i = 0; i < count; i++) {
      nextHops[i] = lookup(hi[i], lo[i]);
    }
  }
}
