package io.flatnet.agent.state;

import io.flatnet.agent.config.BgpConfig;
import io.flatnet.agent.config.IfAddress;
import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.config.IpNet;
import io.flatnet.agent.config.MacAddress;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.config.PeerConfig;
import io.flatnet.agent.config.PodConfig;
import io.flatnet.agent.config.PortConfig;
import io.flatnet.agent.config.RouteConfig;
import io.flatnet.agent.policy.PolicyCompiler;
import io.flatnet.control.PodSpec;
import io.flatnet.control.PolicySpec;
import io.flatnet.control.PortSpec;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.State;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Turns a <em>validated</em> config (see {@link io.flatnet.agent.config.ConfigValidator}) into the
 * {@link State} the dataplane should have. Every address and prefix is canonicalised (so
 * "fd00:0::1" and "fd00::1" are the same spec), MACs are lower case, and a vhost-user pod without a
 * mode gets "client".
 *
 * <ul>
 *   <li>Ports: one {@link PortSpec} per {@code ports[]} entry.
 *   <li>Pods: one {@link PodSpec} per {@code pods[]} entry and per pod the CNI plugin added, with
 *       the node gateways of the pod's address families.
 *   <li>Routes: one {@link RouteSpec} per peer pod CIDR, via the peer's node IP of that family, out
 *       of the uplink port whose subnet holds that IP; one per {@code routes[]} entry; and one per
 *       service CIDR to the host port ({@link #serviceRoutes}); then the BGP routes from zebra for
 *       the prefixes that none of these gives (see {@link #from(NodeConfig, Collection, List)}).
 *   <li>Policies: one {@link PolicySpec} per attached pod (config or CNI) that a NetworkPolicy of
 *       the {@code policy} section selects ({@link PolicyCompiler}).
 * </ul>
 */
public final class DesiredState {

  private DesiredState() {}

  /**
   * The state without BGP routes.
   *
   * @throws IllegalArgumentException if the config was not valid
   */
  public static State from(NodeConfig config, Collection<PodConfig> runtimePods) {
    return from(config, runtimePods, List.of());
  }

  /**
   * The state with {@code bgpRoutes} (routes of origin bgp, already checked against the config's
   * uplinks: {@link io.flatnet.agent.bgp.BgpRouteSpecs}). Precedence (docs/routing.md): a prefix
   * that the config's {@code routes[]} or {@code peers[]}, the Kubernetes Node peers (merged into
   * {@code peers}) or the Service routes give is theirs; a BGP route adds only a prefix nobody else
   * gave.
   *
   * @throws IllegalArgumentException if the config was not valid
   */
  public static State from(
      NodeConfig config, Collection<PodConfig> runtimePods, List<RouteSpec> bgpRoutes) {
    List<PortSpec> ports = new ArrayList<>();
    for (PortConfig p : config.ports()) {
      List<String> addrs = new ArrayList<>();
      for (String a : p.addresses()) {
        addrs.add(IfAddress.parse(a.trim()).toString());
      }
      ports.add(new PortSpec(p.name(), p.device(), p.role(), addrs, p.mtu()));
    }
    List<IpAddress> gateways = new ArrayList<>();
    for (String g : config.node().gateways()) {
      gateways.add(IpAddress.parse(g.trim()));
    }
    List<PodSpec> pods = new ArrayList<>();
    List<PodConfig> allPods = new ArrayList<>(config.pods());
    allPods.addAll(runtimePods);
    for (PodConfig p : allPods) {
      pods.add(pod(p, gateways));
    }
    List<RouteSpec> routes = new ArrayList<>();
    for (PeerConfig peer : config.peers()) {
      for (String cidr : peer.podCIDRs()) {
        IpNet net = IpNet.parse(cidr.trim());
        IpAddress via =
            peer.nodeIPs().stream()
                .map(s -> IpAddress.parse(s.trim()))
                .filter(a -> a.family() == net.family())
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no node IP for " + net));
        routes.add(
            new RouteSpec(
                net.toString(), via.toString(), uplinkFor(config, via), RouteSpec.ORIGIN_PEER));
      }
    }
    for (RouteConfig r : config.routes()) {
      routes.add(
          new RouteSpec(
              IpNet.parse(r.prefix().trim()).toString(),
              r.via() == null ? null : IpAddress.parse(r.via().trim()).toString(),
              r.port(),
              RouteSpec.ORIGIN_STATIC));
    }
    routes.addAll(serviceRoutes(config));
    Set<String> given = new HashSet<>();
    routes.forEach(r -> given.add(r.prefix()));
    for (RouteSpec r : bgpNeighborRoutes(config)) {
      if (given.add(r.prefix())) {
        routes.add(r);
      }
    }
    for (RouteSpec r : bgpRoutes) {
      if (given.add(r.prefix())) {
        routes.add(r);
      }
    }
    return State.of(0, ports, pods, routes, policies(config, allPods));
  }

  /**
   * Each BGP neighbour's own address (/32, /128) via itself out of the uplink it is on-link on:
   * flatnet routes only what it has routes for (no connected routes for an uplink's subnet), and
   * the session must come up before BGP has taught any route through the neighbour. A route the
   * config gives for the same prefix wins.
   */
  static List<RouteSpec> bgpNeighborRoutes(NodeConfig config) {
    List<RouteSpec> routes = new ArrayList<>();
    if (!config.bgpEnabled()) {
      return routes;
    }
    for (BgpConfig.BgpNeighbor n : config.bgp().neighbors()) {
      IpAddress address = IpAddress.parse(n.address().trim());
      String host = IpNet.parse(address + (address.isV4() ? "/32" : "/128")).toString();
      routes.add(
          new RouteSpec(
              host, address.toString(), uplinkFor(config, address), RouteSpec.ORIGIN_BGP_NEIGHBOR));
    }
    return routes;
  }

  /** The compiled policies of the attached pods {@code allPods}. */
  static List<PolicySpec> policies(NodeConfig config, List<PodConfig> allPods) {
    List<PolicyCompiler.AttachedPod> attached =
        allPods.stream().map(p -> new PolicyCompiler.AttachedPod(p.name(), p.ips())).toList();
    return PolicyCompiler.compile(config.policy(), attached);
  }

  /**
   * Service CIDRs go to the node's kernel, where kube-proxy's rules DNAT them: one route per
   * service CIDR out of the host port, via the node's own uplink address of that family (the kernel
   * holds it on the TAP and answers ARP/NDP for it). None without a host port or without a node
   * address of the family. See docs/services.md.
   */
  static List<RouteSpec> serviceRoutes(NodeConfig config) {
    List<RouteSpec> routes = new ArrayList<>();
    String hostPort =
        config.ports().stream()
            .filter(p -> "host".equals(p.role()))
            .map(PortConfig::name)
            .findFirst()
            .orElse(null);
    if (hostPort == null) {
      return routes;
    }
    for (String cidr : config.node().serviceCIDRs()) {
      IpNet net = IpNet.parse(cidr.trim());
      nodeAddress(config, net.family())
          .ifPresent(
              a ->
                  routes.add(
                      new RouteSpec(
                          net.toString(), a.toString(), hostPort, RouteSpec.ORIGIN_SERVICE)));
    }
    return routes;
  }

  /** The first address of {@code family} on an uplink port: the node IP the kernel keeps. */
  private static Optional<IpAddress> nodeAddress(NodeConfig config, int family) {
    for (PortConfig p : config.ports()) {
      if ("uplink".equals(p.role())) {
        for (String a : p.addresses()) {
          IfAddress address = IfAddress.parse(a.trim());
          if (address.address().family() == family) {
            return Optional.of(address.address());
          }
        }
      }
    }
    return Optional.empty();
  }

  static PodSpec pod(PodConfig p, List<IpAddress> gateways) {
    List<String> ips = new ArrayList<>();
    List<String> gws = new ArrayList<>();
    for (String s : p.ips()) {
      IpAddress a = IpAddress.parse(s.trim());
      ips.add(a.toString());
      gateways.stream()
          .filter(g -> g.family() == a.family())
          .findFirst()
          .ifPresent(g -> gws.add(g.toString()));
    }
    boolean vhost = PodConfig.VHOST_USER.equals(p.kind());
    return new PodSpec(
        p.name(),
        p.kind(),
        vhost ? p.socket() : null,
        vhost ? (p.mode() == null ? "client" : p.mode()) : null,
        vhost ? null : p.iface(),
        ips,
        p.mac() == null ? null : MacAddress.canonical(p.mac()),
        gws);
  }

  private static String uplinkFor(NodeConfig config, IpAddress nodeIp) {
    for (PortConfig p : config.ports()) {
      if (!"uplink".equals(p.role())) {
        continue;
      }
      for (String a : p.addresses()) {
        if (IfAddress.parse(a.trim()).subnet().contains(nodeIp)) {
          return p.name();
        }
      }
    }
    throw new IllegalArgumentException(nodeIp + " is not on-link on an uplink port");
  }
}
