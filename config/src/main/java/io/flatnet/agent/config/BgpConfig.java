package io.flatnet.agent.config;

import java.util.List;

/**
 * {@code bgp:} the node speaks BGP to its fabric through FRR, and takes the routes FRR selects from
 * zebra's FPM socket (docs/routing.md). Absent: no BGP, peers come from {@code peers} and the
 * Kubernetes Node objects only (host-gw).
 *
 * @param asn this node's AS number (1..4294967295)
 * @param routerId the BGP router id (an IPv4 address); default: the node's first IPv4 address
 * @param neighbors the BGP sessions, usually the node's top-of-rack switches
 * @param advertise prefixes to announce; default: the node's {@code node.podCIDRs}
 * @param maximumPaths how many equal paths FRR may select for one prefix (ECMP), 1..16, default 8
 * @param keepalive BGP keepalive seconds, default 3
 * @param hold BGP hold time seconds, default 9 (0 or at least 3)
 * @param fpm where flatnet's agent listens for zebra's FPM connection
 * @param frr how FRR is run: by flatnet's agent ({@code manage: true}, the default) or by the
 *     operator
 */
public record BgpConfig(
    Long asn,
    String routerId,
    List<BgpNeighbor> neighbors,
    List<String> advertise,
    Integer maximumPaths,
    Integer keepalive,
    Integer hold,
    FpmConfig fpm,
    FrrConfig frr) {

  public BgpConfig {
    neighbors = Lists.of(neighbors);
    advertise = Lists.of(advertise);
    maximumPaths = maximumPaths == null ? 8 : maximumPaths;
    keepalive = keepalive == null ? 3 : keepalive;
    hold = hold == null ? 9 : hold;
    fpm = fpm == null ? FpmConfig.DEFAULT : fpm;
    frr = frr == null ? FrrConfig.DEFAULT : frr;
  }

  /** The highest 4-byte AS number. */
  public static final long MAX_ASN = 4_294_967_295L;

  /**
   * The router id to use: {@link #routerId}, or else the node's first IPv4 address, uplink ports
   * first (in {@code ports} order), then the other ports; null if there is none.
   */
  public String routerIdFor(NodeConfig node) {
    if (routerId != null) {
      return routerId.trim();
    }
    IpAddress first = firstIpv4(node, true);
    if (first == null) {
      first = firstIpv4(node, false);
    }
    return first == null ? null : first.toString();
  }

  private static IpAddress firstIpv4(NodeConfig node, boolean uplinks) {
    for (PortConfig port : node.ports()) {
      if (port == null || "uplink".equals(port.role()) != uplinks) {
        continue;
      }
      for (String text : port.addresses()) {
        try {
          IfAddress a = IfAddress.parse(text == null ? null : text.trim());
          if (a.address().isV4()) {
            return a.address();
          }
        } catch (IllegalArgumentException e) {
          // reported by the validator
        }
      }
    }
    return null;
  }

  /** The prefixes to announce: {@link #advertise}, or else the node's {@code node.podCIDRs}. */
  public List<String> advertiseFor(NodeConfig node) {
    if (!advertise.isEmpty() || node.node() == null) {
      return advertise;
    }
    return node.node().podCIDRs();
  }

  /**
   * One BGP session.
   *
   * @param address the neighbour's address (IPv4 or IPv6), on-link on one of the node's uplinks
   * @param asn the neighbour's AS number
   * @param description free text, shown by FRR
   */
  public record BgpNeighbor(String address, Long asn, String description) {}

  /**
   * zebra's Forwarding Plane Manager connection ({@code dplane_fpm_nl}): zebra connects to {@code
   * address}:{@code port}, where the agent listens.
   */
  public record FpmConfig(String address, Integer port) {
    public static final FpmConfig DEFAULT = new FpmConfig(null, null);

    public FpmConfig {
      address = address == null ? "127.0.0.1" : address;
      port = port == null ? 2620 : port;
    }
  }

  /**
   * How FRR runs.
   *
   * @param manage whether the agent writes FRR's config and runs zebra and bgpd itself (default
   *     true); false: the operator runs FRR with {@code dplane_fpm_nl} pointed at {@link #fpm}
   * @param binDir where zebra and bgpd are (default /usr/lib/frr)
   * @param runDir FRR's config, sockets, pid files and logs (default: {@code <agent stateDir>/frr})
   */
  public record FrrConfig(Boolean manage, String binDir, String runDir) {
    public static final FrrConfig DEFAULT = new FrrConfig(null, null, null);

    public FrrConfig {
      manage = manage == null || manage;
      binDir = binDir == null ? "/usr/lib/frr" : binDir;
    }
  }
}
