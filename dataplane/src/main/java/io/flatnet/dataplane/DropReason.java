package io.flatnet.dataplane;

/**
 * Why a packet was dropped. Every drop is counted under exactly one of these, as VPP's error
 * counters are; the names are what operators see in counters and logs.
 */
public enum DropReason {
  /** Not IPv4 (ARP, IPv6 and other ethertypes until their nodes exist). */
  NOT_IP("not-ip"),
  /** RFC 1812 header checks failed: version, IHL, total length, checksum, or a short frame. */
  BAD_IPV4_HEADER("bad-ipv4-header"),
  /** TTL was 0 or 1 on arrival, so forwarding would expire it. */
  TTL_EXCEEDED("ttl-exceeded"),
  /** No route covers the destination. */
  NO_ROUTE("no-route"),
  /** The route points at a next hop whose MAC is not resolved yet. */
  NEIGHBOR_UNRESOLVED("neighbor-unresolved"),
  /** Addressed to the router or its host, and this dataplane has no host path. */
  NO_HOST_PATH("no-host-path"),
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
