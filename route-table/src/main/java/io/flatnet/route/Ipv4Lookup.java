package io.flatnet.route;

/**
 * The read side of an IPv4 forwarding table, as a worker sees it. Implementations are lock-free and
 * allocate nothing, so a worker may call them per packet.
 */
public interface Ipv4Lookup {

  /**
   * Longest-prefix match.
   *
   * @param destination the IPv4 address, host order (the value read big-endian from the header)
   * @return the next-hop index, or {@link NextHops#NO_ROUTE} when no prefix covers it
   */
  int lookup(int destination);

  /** Looks up {@code count} addresses (at most 32 per call is the expected use). */
  default void lookupBulk(int[] destinations, int[] nextHops, int count) {
    for (int i = 0; i < count; i++) {
      nextHops[i] = lookup(destinations[i]);
    }
  }
}
