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
  /**
   * An ARP or NDP packet that is malformed (RFC 4861 7.1: hop limit not 255, code not 0, an option
   * of length 0 or past the end, a bad checksum, a multicast target).
   */
  BAD_NEIGHBOR_PACKET("bad-neighbor-packet"),
  /**
   * An ARP or NDP packet claiming a link-layer address that cannot be a unicast neighbour (zero,
   * broadcast, multicast) or that is not the frame's own source MAC.
   */
  BAD_LINK_LAYER_ADDRESS("bad-link-layer-address"),
  /**
   * From a pod port, a source address (or an ARP/NDP claim) that is not that pod's: strict
   * reverse-path check against the route to the source (port and, on a shared bridge, MAC).
   */
  SPOOFED_SOURCE("spoofed-source"),
  /** A source that no packet may carry: 0/8, 127/8, multicast, class E; ::, ::1, ff00::/8. */
  MARTIAN_SOURCE("martian-source"),
  /**
   * A destination that is never routed: 0/8, 127/8, multicast and broadcast, class E; ::, ::1, and
   * a link-local source or destination that would cross ports.
   */
  MARTIAN_DESTINATION("martian-destination"),
  /** A guarded port received a unicast frame addressed to another MAC (not the router's). */
  NOT_FOR_ROUTER("not-for-router"),
  /**
   * Larger than the ingress port's MTU, or in a chain of mbufs (a frame that did not fit one):
   * jumbo frames beyond {@link PortTable#MAX_MTU} are not taken.
   */
  OVERSIZE("oversize"),
  /** Freed after a worker caught an unexpected exception mid-burst (a bug: please report it). */
  WORKER_EXCEPTION("worker-exception"),
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
  /**
   * Network policy: the destination pod is isolated for ingress and none of its rules allows the
   * packet's flow (or a flow cached as denied in this direction). Counted per pod too.
   */
  POLICY_DENIED_INGRESS("policy-denied-ingress"),
  /**
   * Network policy: the source pod is isolated for egress and none of its rules allows the flow.
   * When both sides deny, the packet counts here (egress is checked first).
   */
  POLICY_DENIED_EGRESS("policy-denied-egress"),
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
