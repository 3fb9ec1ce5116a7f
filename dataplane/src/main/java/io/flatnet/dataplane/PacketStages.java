package io.flatnet.dataplane;

import io.flatnet.route.NextHops;

/**
 * The worker's per-packet stages, one by one, for the pipeline microbenchmarks in {@code perf/}:
 * the same code the worker runs, so what they measure is what forwards.
 */
public final class PacketStages {
  private PacketStages() {}

  /** RFC 1812 checks of the IPv4 packet in {@code mbuf} (Ethernet header first). */
  public static boolean ipv4HeaderOk(long mbuf) {
    return Ipv4Node.wellFormed(mbuf);
  }

  /** TTL minus one with the incremental checksum update, and the next hop's MACs. */
  public static void rewriteIpv4(long frame, NextHops hops, int nextHop) {
    Ipv4Node.rewrite(frame, hops, nextHop);
  }
}
