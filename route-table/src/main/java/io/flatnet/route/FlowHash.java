package io.flatnet.route;

/**
 * The flow hash that picks an ECMP group's member: one function of the 5-tuple, used by the workers
 * (from the packet) and by {@code ctl trace} (from the command line), so both pick the same member.
 *
 * <p>Inputs: source and destination address (IPv4 in the low 32 bits of {@code lo}, {@code hi} 0),
 * the IP protocol, and for TCP, UDP and SCTP in an unfragmented packet the two ports (0 otherwise,
 * so every fragment of a datagram and every ICMP message of a pair takes one path). The IPv6 flow
 * label is left out: a sender may change it within a flow (Linux does on a TCP retransmit timeout),
 * and the ports already tell flows apart.
 *
 * <p>The mix is two multiply-xorshift rounds (murmur3's fmix64 finaliser) over the folded inputs:
 * no allocation, no table, no per-boot seed (the same flow takes the same member after a restart
 * while the group is the same). The low bits index the buckets.
 */
public final class FlowHash {
  private static final long K1 = 0x9E37_79B9_7F4A_7C15L;
  private static final long K2 = 0xC2B2_AE3D_27D4_EB4FL;
  private static final long K3 = 0x1656_67B1_9E37_79F9L;

  private FlowHash() {}

  /** True for protocols whose first four bytes of payload are two ports (TCP, UDP, SCTP). */
  public static boolean hasPorts(int protocol) {
    return protocol == 6 || protocol == 17 || protocol == 132;
  }

  /** The ports word of a flow: {@code sourcePort << 16 | destinationPort}, or 0 without ports. */
  public static int ports(int protocol, int sourcePort, int destinationPort) {
    return hasPorts(protocol) ? sourcePort << 16 | destinationPort : 0;
  }

  /** An IPv4 flow's hash; {@code ports} is {@code sourcePort << 16 | destinationPort}, or 0. */
  public static int ipv4(int source, int destination, int protocol, int ports) {
    return of(0, source & 0xFFFF_FFFFL, 0, destination & 0xFFFF_FFFFL, protocol, ports);
  }

  /** An IPv6 flow's hash; see {@link #ipv4}. */
  public static int ipv6(
      long sourceHi,
      long sourceLo,
      long destinationHi,
      long destinationLo,
      int protocol,
      int ports) {
    return of(sourceHi, sourceLo, destinationHi, destinationLo, protocol, ports);
  }

  private static int of(long sHi, long sLo, long dHi, long dLo, int protocol, int ports) {
    long h = (sHi * K1) ^ Long.rotateLeft(sLo * K2, 31);
    h = fmix(h ^ (dHi * K3)) ^ Long.rotateLeft(dLo * K1, 27);
    h ^= ((long) protocol << 32 | (ports & 0xFFFF_FFFFL)) * K2;
    h = fmix(h);
    return (int) (h ^ (h >>> 32));
  }

  private static long fmix(long k) {
    k ^= k >>> 33;
    k *= 0xFF51_AFD7_ED55_8CCDL;
    k ^= k >>> 33;
    k *= 0xC4CE_B9FE_1A85_EC53L;
    k ^= k >>> 33;
    return k;
  }
}
