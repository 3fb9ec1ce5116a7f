package io.flatnet.dataplane;

import io.flatnet.control.Limits;
import java.util.Arrays;

/**
 * What the workers know about each port: its role, MAC, MTU and the router's own addresses on it.
 * Immutable once built; the control path publishes a new one in a {@link ForwardingState}.
 */
public final class PortTable {
  /** Not a flatnet port. */
  public static final int ROLE_NONE = 0;

  /** A pod's port: the router answers ARP/NDP for every address but the asker's (proxy). */
  public static final int ROLE_POD = 1;

  /** A node-facing NIC port: the router answers only for its own addresses (the node IP). */
  public static final int ROLE_UPLINK = 2;

  /** The TAP into the node's kernel: proxy like a pod port, so the host reaches every pod. */
  public static final int ROLE_HOST = 3;

  public static final int DEFAULT_MTU = Limits.DEFAULT_MTU;

  /** Guard: drop unicast frames not addressed to the port's MAC ({@code not-for-router}). */
  public static final int GUARD_DESTINATION_MAC = 1;

  /**
   * Guard: a pod port's sources must route back to the same port and MAC ({@code spoofed-source}),
   * for forwarded packets and for ARP/NDP claims alike.
   */
  public static final int GUARD_SOURCE = 2;

  /** What the agent sets on the ports of a node config: pods get both, uplinks the MAC guard. */
  public static final int GUARD_ALL = GUARD_DESTINATION_MAC | GUARD_SOURCE;

  private static final int PORTS = Limits.MAX_PORTS;

  final int[] role = new int[PORTS];
  final long[] mac = new long[PORTS];
  final int[] mtu = new int[PORTS];
  final int[] ipv4 = new int[PORTS];
  final long[] ipv6Hi = new long[PORTS];
  final long[] ipv6Lo = new long[PORTS];
  final int[] guards = new int[PORTS];

  private PortTable() {
    Arrays.fill(mtu, DEFAULT_MTU);
  }

  public static PortTable empty() {
    return new PortTable();
  }

  /** A copy with one port set. IPv6 address 0/0 means none (the link-local one is always there). */
  public PortTable with(
      int port, int portRole, long portMac, int portMtu, int v4, long v6Hi, long v6Lo) {
    return with(port, portRole, portMac, portMtu, v4, v6Hi, v6Lo, 0);
  }

  /** As {@link #with(int, int, long, int, int, long, long)}, with the port's guards. */
  public PortTable with(
      int port,
      int portRole,
      long portMac,
      int portMtu,
      int v4,
      long v6Hi,
      long v6Lo,
      int portGuards) {
    if (port < 0 || port >= PORTS) {
      throw new IllegalArgumentException("port " + port + " out of range 0.." + (PORTS - 1));
    }
    String mtuProblem = Limits.mtuProblem(portMtu);
    if (mtuProblem != null) {
      throw new IllegalArgumentException("port " + port + ": " + mtuProblem);
    }
    PortTable copy = new PortTable();
    System.arraycopy(role, 0, copy.role, 0, PORTS);
    System.arraycopy(mac, 0, copy.mac, 0, PORTS);
    System.arraycopy(mtu, 0, copy.mtu, 0, PORTS);
    System.arraycopy(ipv4, 0, copy.ipv4, 0, PORTS);
    System.arraycopy(ipv6Hi, 0, copy.ipv6Hi, 0, PORTS);
    System.arraycopy(ipv6Lo, 0, copy.ipv6Lo, 0, PORTS);
    System.arraycopy(guards, 0, copy.guards, 0, PORTS);
    copy.role[port] = portRole;
    copy.mac[port] = portMac;
    copy.mtu[port] = portMtu;
    copy.ipv4[port] = v4;
    copy.ipv6Hi[port] = v6Hi;
    copy.ipv6Lo[port] = v6Lo;
    copy.guards[port] = portGuards;
    return copy;
  }

  /** A copy without the port. */
  public PortTable without(int port) {
    return with(port, ROLE_NONE, 0, DEFAULT_MTU, 0, 0, 0, 0);
  }

  public int role(int port) {
    return role[port];
  }

  public long mac(int port) {
    return mac[port];
  }

  public int mtu(int port) {
    return mtu[port];
  }

  /** {@link #GUARD_DESTINATION_MAC} and {@link #GUARD_SOURCE} bits. */
  public int guards(int port) {
    return guards[port];
  }

  /** The router's IPv4 address on the port (a pod gateway or the node IP), or 0. */
  public int ipv4(int port) {
    return ipv4[port];
  }

  public long ipv6Hi(int port) {
    return ipv6Hi[port];
  }

  public long ipv6Lo(int port) {
    return ipv6Lo[port];
  }

  /** The EUI-64 link-local address's low half for a MAC (fe80::/64 is the high half). */
  public static long linkLocalLo(long mac) {
    long oui = (mac >>> 24) ^ 0x02_0000L;
    return oui << 40 | 0xFF_FEL << 24 | (mac & 0xFF_FFFFL);
  }

  public static final long LINK_LOCAL_HI = 0xFE80_0000_0000_0000L;
}
