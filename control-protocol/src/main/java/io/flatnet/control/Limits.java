package io.flatnet.control;

/**
 * The limits the agent's validator, the CNI plugin and the dataplane's port table all enforce,
 * written once. The dataplane checks them against the installed DPDK's headers ({@code
 * LimitsMatchDpdkTest}), so a DPDK with other sizes fails the build, not a node.
 */
public final class Limits {
  private Limits() {}

  /** Ethernet ports one router holds: DPDK's {@code RTE_MAX_ETHPORTS}. */
  public static final int MAX_PORTS = 32;

  /** Bytes a frame may use in one mbuf: {@code RTE_MBUF_DEFAULT_DATAROOM}. */
  public static final int FRAME_ROOM = 2048;

  /** The smallest MTU IPv4 allows (RFC 791). */
  public static final int MIN_MTU = 68;

  public static final int DEFAULT_MTU = 1500;

  /**
   * The largest MTU: a frame (14-byte Ethernet header, payload, room for one 4-byte VLAN tag) must
   * fit one mbuf, because workers drop chained mbufs.
   */
  public static final int MAX_MTU = FRAME_ROOM - 14 - 4;

  /** Why {@code mtu} cannot be a port's MTU, or null if it can. */
  public static String mtuProblem(int mtu) {
    if (mtu < MIN_MTU || mtu > MAX_MTU) {
      return "MTU "
          + mtu
          + " out of range "
          + MIN_MTU
          + ".."
          + MAX_MTU
          + " (a frame must fit one "
          + FRAME_ROOM
          + "-byte mbuf data room: jumbo frames are not supported)";
    }
    return null;
  }
}
