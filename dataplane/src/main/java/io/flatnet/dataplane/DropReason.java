package io.flatnet.dataplane;

/**
 * Why a packet was dropped. Every drop is counted under exactly one of these, as VPP's error
 * counters are; the names are what operators see in counters and logs.
 */
public enum DropReason {
  /** Neither IPv4, IPv6 nor ARP, or a frame too short for an Ethernet header. */
  NOT_IP("not-ip"),
  /** RFC 1812 header checks failed: version, IHL, total length, checksum, or a short frame. */
  BAD_IPV4_HEADER("bad-ipv4-header"),
  /** IPv6 checks failed: version, payload length against the frame, a short frame. */
  BAD_IPV6_HEADER("bad-ipv6-header"),
  /** An ARP or NDP packet that is malformed. */
  BAD_NEIGHBOR_PACKET("bad-neighbor-packet"),
  /** TTL or hop limit was 0 or 1 on arrival, so forwarding would expire it. */
  TTL_EXCEEDED("ttl-exceeded"),
  /** No route covers the destination. */
  NO_ROUTE("no-route"),
  /** The next hop's MAC did not resolve in time (or its route went away while waiting). */
  NEIGHBOR_UNRESOLVED("neighbor-unresolved"),
  /** Too many packets already wait for this next hop to resolve. */
  NEIGHBOR_QUEUE_FULL("neighbor-queue-full"),
  /** Addressed to the router itself, and not something the router answers (echo, ARP, NDP). */
  LOCAL_UNHANDLED("local-unhandled"),
  /** Larger than the out port's MTU (fragmentation is not done; DF packets get an ICMP error). */
  MTU_EXCEEDED("mtu-exceeded"),
  /** Reserved for network policy. */
  POLICY("policy"),
  /** An explicit drop/unreachable route. */
  BLACKHOLE("blackhole"),
  /** The route's out port is not attached to this worker. */
  PORT_DOWN("port-down"),
  /** The out port's TX queue did not take the packet. */
  TX_FULL("tx-full");

  private final String label;

  DropReason(String label) {
    this.label = label;
  }

  /** The operator-facing name, for example {@code no-route}. */
  public String label() {
    return label;
  }

  static final DropReason[] ALL = values();
}
