package io.flatnet.agent.bgp;

import io.flatnet.agent.config.BgpConfig;
import io.flatnet.agent.config.BgpConfig.BgpNeighbor;
import io.flatnet.agent.config.IfAddress;
import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.config.IpNet;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.config.PortConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * FRR's config for a node's {@code bgp:} section: {@code zebra.conf} (the FPM connection to the
 * agent, next hops resolved through the kernel's default route) and {@code bgpd.conf} (the BGP
 * instance, its neighbours, the advertised prefixes). Pure and deterministic: the same {@link
 * NodeConfig} gives the same bytes, so a reload can tell whether anything changed. The config must
 * be valid ({@link io.flatnet.agent.config.ConfigValidator}).
 *
 * <p>What each line is for (FRR 8.4):
 *
 * <ul>
 *   <li>{@code fpm address A port P} and {@code no fpm use-next-hop-groups} (zebra, module {@code
 *       dplane_fpm_nl}): zebra connects to the agent's FPM server and sends each route with its
 *       next hops inline (RTM_NEWROUTE with RTA_MULTIPATH), not as separate next-hop objects.
 *   <li>{@code ip nht resolve-via-default}, {@code ipv6 nht resolve-via-default}: on a flatnet node
 *       the kernel holds the node's addresses as /32 and /128 on the host TAP and reaches
 *       everything through a default route on it, so a neighbour's address resolves only through
 *       that default.
 *   <li>{@code no bgp ebgp-requires-policy}: announce and accept without route-maps (FRR's default
 *       since 7.4 would hold everything back from eBGP neighbours).
 *   <li>{@code no bgp network import-check}: announce the pod CIDRs although zebra has no route for
 *       them (the pods are behind flatnet, not the kernel).
 *   <li>{@code no bgp default ipv4-unicast}, {@code neighbor X activate} per family: an IPv4
 *       neighbour carries IPv4 routes, an IPv6 neighbour IPv6 routes.
 *   <li>{@code bgp bestpath as-path multipath-relax}, {@code maximum-paths N}: equal routes through
 *       different ToRs (different AS paths) become one ECMP route.
 *   <li>{@code neighbor X ebgp-multihop 2}: the kernel's packets cross flatnet, which routes them
 *       (TTL minus one) from the host port to the uplink, so even a ToR on the uplink's subnet is
 *       two hops away; it also lifts the connected check (the kernel sees only /32s on the TAP, not
 *       the uplink subnet). The ToR needs the same for its side.
 *   <li>{@code neighbor X update-source A}: A is the node's address on the uplink subnet that holds
 *       the neighbour; the kernel holds all the node's addresses on the TAP and would pick one
 *       source for every session (a dual-homed node's second ToR would see the first rack's).
 *   <li>{@code neighbor X timers connect 5}: try a failed connection again after 5 s, not 120 s.
 *   <li>{@code route-map flatnet-ipv6-in} with {@code set ipv6 next-hop prefer-global} on IPv6
 *       neighbours: take the neighbour's global next hop, never its link-local one, which flatnet
 *       cannot use (the kernel's interface is flatnet's TAP, not the uplink).
 * </ul>
 */
public final class FrrConfigWriter {

  /** The route-map that makes received IPv6 routes use the neighbour's global address. */
  public static final String IPV6_IN_ROUTE_MAP = "flatnet-ipv6-in";

  /**
   * The TTL of eBGP packets: the kernel's packets cross flatnet, a router, before the uplink, so a
   * directly connected neighbour is two hops away.
   */
  public static final int EBGP_HOPS = 2;

  /** Seconds between connection attempts to a neighbour (FRR's default is 120). */
  public static final int CONNECT_RETRY_SECONDS = 5;

  private static final Pattern HOSTNAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

  /** The two files, by name in the run directory. */
  public record Files(String zebra, String bgpd) {
    public static final String ZEBRA = "zebra.conf";
    public static final String BGPD = "bgpd.conf";
  }

  private FrrConfigWriter() {}

  /** FRR's config for {@code node}, whose {@code bgp} section must be present and valid. */
  public static Files write(NodeConfig node) {
    BgpConfig bgp = node.bgp();
    if (bgp == null) {
      throw new IllegalArgumentException("the node config has no bgp section");
    }
    return new Files(zebra(node, bgp), bgpd(node, bgp));
  }

  private static String header(NodeConfig node, String daemon) {
    StringBuilder b = new StringBuilder();
    b.append("! ")
        .append(daemon)
        .append(": written by flatnet from the node config's bgp section; edits are overwritten\n");
    String name = node.node() == null ? null : node.node().name();
    if (name != null && HOSTNAME.matcher(name).matches()) {
      b.append("hostname ").append(name).append('\n');
    }
    b.append("!\n");
    return b.toString();
  }

  static String zebra(NodeConfig node, BgpConfig bgp) {
    StringBuilder b = new StringBuilder(header(node, "zebra"));
    b.append("ip nht resolve-via-default\n");
    b.append("ipv6 nht resolve-via-default\n");
    b.append("!\n");
    IpAddress fpm = IpAddress.parse(bgp.fpm().address().trim());
    b.append("fpm address ").append(fpm).append(" port ").append(bgp.fpm().port()).append('\n');
    b.append("no fpm use-next-hop-groups\n");
    b.append("!\n");
    return b.toString();
  }

  static String bgpd(NodeConfig node, BgpConfig bgp) {
    List<IpNet> v4 = new ArrayList<>();
    List<IpNet> v6 = new ArrayList<>();
    for (String text : bgp.advertiseFor(node)) {
      IpNet n = IpNet.parse(text.trim());
      (n.family() == 4 ? v4 : v6).add(n);
    }
    List<IpAddress> n4 = new ArrayList<>();
    List<IpAddress> n6 = new ArrayList<>();
    StringBuilder b = new StringBuilder(header(node, "bgpd"));
    b.append("router bgp ").append(bgp.asn()).append('\n');
    b.append(" bgp router-id ").append(bgp.routerIdFor(node)).append('\n');
    b.append(" no bgp ebgp-requires-policy\n");
    b.append(" no bgp default ipv4-unicast\n");
    b.append(" no bgp network import-check\n");
    b.append(" bgp bestpath as-path multipath-relax\n");
    b.append(" timers bgp ").append(bgp.keepalive()).append(' ').append(bgp.hold()).append('\n');
    for (BgpNeighbor n : bgp.neighbors()) {
      IpAddress a = IpAddress.parse(n.address().trim());
      (a.isV4() ? n4 : n6).add(a);
      String p = " neighbor " + a + " ";
      b.append(p).append("remote-as ").append(n.asn()).append('\n');
      if (n.description() != null) {
        b.append(p).append("description ").append(n.description().strip()).append('\n');
      }
      if (!n.asn().equals(bgp.asn())) {
        b.append(p).append("ebgp-multihop ").append(EBGP_HOPS).append('\n');
      }
      IfAddress own = ownAddressFacing(node, a);
      if (own != null) {
        b.append(p).append("update-source ").append(own.address()).append('\n');
      }
      b.append(p).append("timers connect ").append(CONNECT_RETRY_SECONDS).append('\n');
    }
    family(b, "ipv4", v4, n4, bgp, null);
    family(b, "ipv6", v6, n6, bgp, IPV6_IN_ROUTE_MAP);
    b.append("exit\n");
    b.append("!\n");
    if (!n6.isEmpty()) {
      b.append("route-map ").append(IPV6_IN_ROUTE_MAP).append(" permit 10\n");
      b.append(" set ipv6 next-hop prefer-global\n");
      b.append("exit\n");
      b.append("!\n");
    }
    return b.toString();
  }

  /**
   * The node's address on the uplink subnet that holds {@code neighbor}, or null (the validator
   * makes sure there is one).
   */
  static IfAddress ownAddressFacing(NodeConfig node, IpAddress neighbor) {
    for (PortConfig port : node.ports()) {
      if (!"uplink".equals(port.role())) {
        continue;
      }
      for (String text : port.addresses()) {
        IfAddress a = IfAddress.parse(text.trim());
        if (a.subnet().contains(neighbor)) {
          return a;
        }
      }
    }
    return null;
  }

  private static void family(
      StringBuilder b,
      String afi,
      List<IpNet> networks,
      List<IpAddress> neighbors,
      BgpConfig bgp,
      String routeMapIn) {
    if (networks.isEmpty() && neighbors.isEmpty()) {
      return;
    }
    b.append(" !\n");
    b.append(" address-family ").append(afi).append(" unicast\n");
    for (IpNet n : networks) {
      b.append("  network ").append(n).append('\n');
    }
    b.append("  maximum-paths ").append(bgp.maximumPaths()).append('\n');
    b.append("  maximum-paths ibgp ").append(bgp.maximumPaths()).append('\n');
    for (IpAddress a : neighbors) {
      b.append("  neighbor ").append(a).append(" activate\n");
      if (routeMapIn != null) {
        b.append("  neighbor ").append(a).append(" route-map ").append(routeMapIn).append(" in\n");
      }
    }
    b.append(" exit-address-family\n");
  }
}
