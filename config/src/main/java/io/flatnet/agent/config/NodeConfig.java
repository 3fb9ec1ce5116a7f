package io.flatnet.agent.config;

import io.flatnet.agent.config.policy.PolicySection;
import java.util.List;

/**
 * The node config file (YAML), as parsed: {@code node}, {@code ports}, {@code pods}, {@code peers},
 * {@code routes}, {@code workers}, {@code kubernetes}, {@code agent}, {@code policy}, {@code bgp}
 * (null when absent: no BGP). Nothing here is checked beyond its shape; {@link ConfigValidator}
 * checks the values. Missing lists are empty, missing sections get their defaults. See
 * docs/config.md.
 */
public record NodeConfig(
    NodeSection node,
    List<PortConfig> ports,
    List<PodConfig> pods,
    List<PeerConfig> peers,
    List<RouteConfig> routes,
    WorkersConfig workers,
    KubernetesConfig kubernetes,
    AgentSection agent,
    PolicySection policy,
    BgpConfig bgp) {

  public NodeConfig {
    ports = Lists.of(ports);
    pods = Lists.of(pods);
    peers = Lists.of(peers);
    routes = Lists.of(routes);
    workers = workers == null ? WorkersConfig.DEFAULT : workers;
    kubernetes = kubernetes == null ? KubernetesConfig.DEFAULT : kubernetes;
    agent = agent == null ? AgentSection.DEFAULT : agent;
    policy = policy == null ? PolicySection.EMPTY : policy;
  }

  /** This config with {@code pods} replaced. */
  public NodeConfig withPods(List<PodConfig> newPods) {
    return new NodeConfig(
        node, ports, newPods, peers, routes, workers, kubernetes, agent, policy, bgp);
  }

  /** This config with {@code peers} replaced. */
  public NodeConfig withPeers(List<PeerConfig> newPeers) {
    return new NodeConfig(
        node, ports, pods, newPeers, routes, workers, kubernetes, agent, policy, bgp);
  }

  /** This config with {@code routes} replaced. */
  public NodeConfig withRoutes(List<RouteConfig> newRoutes) {
    return new NodeConfig(
        node, ports, pods, peers, newRoutes, workers, kubernetes, agent, policy, bgp);
  }

  /** Whether the node speaks BGP ({@code bgp:} is present). */
  public boolean bgpEnabled() {
    return bgp != null;
  }

  /** This config with {@code policy} replaced. */
  public NodeConfig withPolicy(PolicySection newPolicy) {
    return new NodeConfig(
        node, ports, pods, peers, routes, workers, kubernetes, agent, newPolicy, bgp);
  }
}
