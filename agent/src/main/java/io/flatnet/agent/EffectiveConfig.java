package io.flatnet.agent;

import io.flatnet.agent.config.ConfigError;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.config.PeerConfig;
import io.flatnet.agent.config.RouteConfig;
import io.flatnet.agent.config.policy.PolicySection;
import io.flatnet.control.RouteSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * The node config in effect: the last good config file, followed by the routes added at run time
 * (ctl route add) and the {@link PeerSource} peers in use, with the Kubernetes watch's policy
 * section in place of the file's when there is one. CNI pods are not part of it: they are validated
 * and planned beside it. Not thread-safe: the {@link Agent} serialises.
 */
final class EffectiveConfig {

  private NodeConfig file;
  private List<RouteConfig> runtimeRoutes;
  private List<PeerConfig> sourcePeers = List.of();
  private PolicySection sourcePolicy; // null: the file's own policy section is in effect
  private List<RouteSpec> bgpRoutes = List.of();

  EffectiveConfig(List<RouteConfig> runtimeRoutes) {
    this.runtimeRoutes = List.copyOf(runtimeRoutes);
  }

  /** The last good config file, or null before any. */
  NodeConfig file() {
    return file;
  }

  boolean hasFile() {
    return file != null;
  }

  List<RouteConfig> runtimeRoutes() {
    return runtimeRoutes;
  }

  List<PeerConfig> sourcePeers() {
    return sourcePeers;
  }

  void useFile(NodeConfig config) {
    file = config;
  }

  void useRuntimeRoutes(List<RouteConfig> routes) {
    runtimeRoutes = List.copyOf(routes);
  }

  void useSourcePeers(List<PeerConfig> peers) {
    sourcePeers = peers;
  }

  /** The routes from zebra in use (before precedence: DesiredState drops those others give). */
  List<RouteSpec> bgpRoutes() {
    return bgpRoutes;
  }

  void useBgpRoutes(List<RouteSpec> routes) {
    bgpRoutes = List.copyOf(routes);
  }

  PolicySection sourcePolicy() {
    return sourcePolicy;
  }

  /** The Kubernetes watch's policy section, in place of the file's; null: the file's. */
  void useSourcePolicy(PolicySection section) {
    sourcePolicy = section;
  }

  /**
   * {@code config} plus the runtime routes, which follow its own, and with the watched policy
   * section in place of its own if there is one.
   */
  NodeConfig withRuntimeRoutes(NodeConfig config) {
    return withPolicy(withRoutes(config, runtimeRoutes), sourcePolicy);
  }

  /** The whole config in effect. */
  NodeConfig current() {
    return withRoutes(runtimeRoutes);
  }

  /** The config in effect with {@code routes} as the runtime routes. */
  NodeConfig withRoutes(List<RouteConfig> routes) {
    return withPeers(withPolicy(withRoutes(file, routes), sourcePolicy), sourcePeers);
  }

  /** Whether the config file defines a pod called {@code name}. */
  boolean definesPod(String name) {
    return file != null && file.pods().stream().anyMatch(p -> p != null && name.equals(p.name()));
  }

  /** An error list of the config in effect as one line, naming source peers by name. */
  String describe(List<ConfigError> errors) {
    return PeerMerger.describe(errors, file == null ? 0 : file.peers().size(), sourcePeers);
  }

  static NodeConfig withRoutes(NodeConfig config, List<RouteConfig> extra) {
    if (extra.isEmpty()) {
      return config;
    }
    List<RouteConfig> routes = new ArrayList<>(config.routes());
    routes.addAll(extra);
    return config.withRoutes(routes);
  }

  static NodeConfig withPolicy(NodeConfig config, PolicySection section) {
    return section == null ? config : config.withPolicy(section);
  }

  static NodeConfig withPeers(NodeConfig config, List<PeerConfig> extra) {
    if (extra.isEmpty()) {
      return config;
    }
    List<PeerConfig> peers = new ArrayList<>(config.peers());
    peers.addAll(extra);
    return config.withPeers(peers);
  }
}
