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

  /**
   * The ECMP flow hash of the IPv4 packet in {@code mbuf} (addresses, protocol, ports), as the
   * worker computes it to pick a group's member.
   */
  public static int ipv4FlowHash(long mbuf) {
    long frame = io.flatnet.dpdk.Mbuf.dataAddress(mbuf);
    return Ipv4Node.flowHash(
        mbuf,
        frame,
        io.flatnet.dpdk.NativeMemory.getIntBe(frame + Ethernet.HEADER + 12),
        io.flatnet.dpdk.NativeMemory.getIntBe(frame + Ethernet.HEADER + 16));
  }

  /** TTL minus one with the incremental checksum update, and the next hop's MACs. */
  public static void rewriteIpv4(long frame, NextHops hops, int nextHop) {
    Ipv4Node.rewrite(frame, hops, nextHop);
  }
}
