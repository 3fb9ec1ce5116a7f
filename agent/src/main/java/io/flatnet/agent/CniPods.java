package io.flatnet.agent;

import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.config.ConfigError;
import io.flatnet.agent.config.ConfigValidator;
import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.config.IpNet;
import io.flatnet.agent.config.MacAddress;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.config.PodConfig;
import io.flatnet.agent.state.DesiredState;
import io.flatnet.control.DataplaneApi;
import io.flatnet.control.PodSpec;
import io.flatnet.control.PolicySpec;
import io.flatnet.control.State;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The CNI plugin's requests (node-info, pod-add, pod-del, pod-check): a pod is validated together
 * with the config in effect, applied, and kept in {@link RuntimePods} only if that worked. Pods of
 * the config file are not the plugin's to change. Not thread-safe: the {@link Agent} serialises.
 */
final class CniPods {

  private static final System.Logger LOG = System.getLogger(Agent.class.getName());

  private final Path configFile;
  private final Path vhostSocketDir;
  private final EffectiveConfig config;
  private final RuntimePods pods;
  private final ConfigValidator validator;
  private final Reconciler reconciler;
  private final DataplaneApi dataplane;

  CniPods(
      Path configFile,
      Path vhostSocketDir,
      EffectiveConfig config,
      RuntimePods pods,
      ConfigValidator validator,
      Reconciler reconciler,
      DataplaneApi dataplane) {
    this.configFile = configFile;
    this.vhostSocketDir = vhostSocketDir;
    this.config = config;
    this.pods = pods;
    this.validator = validator;
    this.reconciler = reconciler;
    this.dataplane = dataplane;
  }

  AgentProtocol.Response nodeInfo() {
    NodeConfig file = config.file();
    if (file == null) {
      return AgentProtocol.Response.retryLater("the agent has no valid node config yet");
    }
    return AgentProtocol.Response.nodeInfo(
        file.node().podCIDRs().stream().map(s -> IpNet.parse(s.trim()).toString()).toList(),
        file.node().gateways().stream().map(s -> IpAddress.parse(s.trim()).toString()).toList());
  }

  AgentProtocol.Response add(AgentProtocol.Request r) {
    if (!config.hasFile()) {
      return AgentProtocol.Response.retryLater("the agent has no valid node config yet");
    }
    if (r.name() == null || r.name().isBlank()) {
      return AgentProtocol.Response.failure("pod-add: name is required");
    }
    if (config.definesPod(r.name())) {
      return AgentProtocol.Response.failure(
          "pod-add: " + r.name() + " is defined in " + configFile + "; it cannot be added by CNI");
    }
    String kind = r.kind() == null ? "" : r.kind();
    String mac = r.mac() != null ? MacAddress.canonical(r.mac()) : MacAddress.derive(r.name());
    PodConfig pod;
    switch (kind) {
      case PodConfig.VHOST_USER -> {
        String socket = r.socket() != null ? r.socket() : defaultSocket(r.name()).toString();
        pod = new PodConfig(r.name(), kind, socket, "server", null, r.ips(), mac);
      }
      case PodConfig.AF_PACKET, PodConfig.TAP, PodConfig.BRIDGE ->
          pod = new PodConfig(r.name(), kind, null, null, r.ifname(), r.ips(), mac);
      default -> {
        return AgentProtocol.Response.failure(
            "pod-add: kind must be vhost-user, af_packet, tap or bridge, not \"" + kind + "\"");
      }
    }
    Collection<PodConfig> candidate = pods.configsWith(r.name(), pod);
    List<ConfigError> errors = validator.validate(config.current(), candidate);
    if (!errors.isEmpty()) {
      String msg = config.describe(errors);
      LOG.log(System.Logger.Level.ERROR, "pod-add " + r.name() + " rejected: " + msg);
      return AgentProtocol.Response.failure(msg);
    }
    RuntimePods.Entry previous = pods.get(r.name());
    ApplyResult result;
    State desired = DesiredState.from(config.current(), candidate, config.bgpRoutes());
    try {
      // Recorded before applying, so a pod that cannot be recorded is never installed.
      pods.put(new RuntimePods.Entry(r.containerId(), pod));
      try {
        result = reconciler.apply(desired);
      } catch (RuntimeException e) {
        pods.restore(r.name(), previous);
        throw e;
      }
      if (!result.ok()) {
        pods.restore(r.name(), previous);
      }
    } catch (IOException e) {
      return AgentProtocol.Response.failure("pod-add: cannot persist pod state: " + e);
    }
    reconciler.record(result);
    if (result instanceof ApplyResult.Failed f) {
      return AgentProtocol.Response.failure("pod-add: " + f.error());
    }
    reconciler.accept(desired);
    return AgentProtocol.Response.success(pod.socket(), mac);
  }

  AgentProtocol.Response del(AgentProtocol.Request r) {
    if (r.name() == null || r.name().isBlank()) {
      return AgentProtocol.Response.failure("pod-del: name is required");
    }
    if (config.definesPod(r.name())) {
      return AgentProtocol.Response.failure(
          "pod-del: " + r.name() + " is defined in " + configFile + "; remove it there");
    }
    RuntimePods.Entry entry = pods.get(r.name());
    if (entry == null) {
      return AgentProtocol.Response.success(); // unknown: already gone
    }
    if (r.containerId() != null
        && entry.containerId() != null
        && !r.containerId().equals(entry.containerId())) {
      LOG.log(
          System.Logger.Level.INFO,
          "pod-del "
              + r.name()
              + " for container "
              + r.containerId()
              + " ignored: the pod now belongs to "
              + entry.containerId());
      return AgentProtocol.Response.success();
    }
    State desired;
    if (config.hasFile()) {
      desired =
          DesiredState.from(config.current(), pods.configsWith(r.name(), null), config.bgpRoutes());
    } else {
      // No valid config yet: remove just this pod from what is installed.
      State installed = dataplane.installed();
      SortedMap<String, PodSpec> left = new TreeMap<>(installed.pods());
      left.remove(r.name());
      SortedMap<String, PolicySpec> policies = new TreeMap<>(installed.policies());
      policies.remove(r.name());
      desired = new State(0, installed.ports(), left, installed.routes(), policies);
    }
    ApplyResult result = reconciler.record(reconciler.apply(desired));
    if (result instanceof ApplyResult.Failed f) {
      return AgentProtocol.Response.failure("pod-del: " + f.error());
    }
    try {
      pods.remove(r.name());
    } catch (IOException e) {
      return AgentProtocol.Response.failure("pod-del: cannot persist pod state: " + e);
    }
    if (config.hasFile()) {
      reconciler.accept(desired);
    }
    return AgentProtocol.Response.success();
  }

  AgentProtocol.Response check(AgentProtocol.Request r) {
    if (r.name() == null) {
      return AgentProtocol.Response.failure("pod-check: name is required");
    }
    State lastGood = reconciler.lastGood();
    if (lastGood == null) {
      return AgentProtocol.Response.retryLater("the agent has no valid node config yet");
    }
    RuntimePods.Entry entry = pods.get(r.name());
    if (entry == null && !config.definesPod(r.name())) {
      return AgentProtocol.Response.failure("pod-check: unknown pod " + r.name());
    }
    if (entry != null
        && r.containerId() != null
        && entry.containerId() != null
        && !r.containerId().equals(entry.containerId())) {
      return AgentProtocol.Response.failure(
          "pod-check: "
              + r.name()
              + " belongs to container "
              + entry.containerId()
              + ", not "
              + r.containerId());
    }
    PodSpec want = lastGood.pods().get(r.name());
    PodSpec have = dataplane.installed().pods().get(r.name());
    if (have == null) {
      return AgentProtocol.Response.failure(
          "pod-check: " + r.name() + " is not installed in the dataplane");
    }
    if (!have.equals(want)) {
      return AgentProtocol.Response.failure(
          "pod-check: " + r.name() + " is installed as " + have + " but should be " + want);
    }
    List<String> problems = dataplane.podProblems(r.name());
    if (!problems.isEmpty()) {
      return AgentProtocol.Response.failure(
          "pod-check: " + r.name() + ": " + String.join("; ", problems));
    }
    return AgentProtocol.Response.success(have.socket(), have.mac());
  }

  /** The socket path for a CNI vhost-user pod that did not name one. */
  Path defaultSocket(String podName) {
    String readable = podName.replaceAll("[^A-Za-z0-9_.-]", "_") + ".sock";
    Path p = vhostSocketDir.resolve(readable);
    if (p.toString().getBytes(StandardCharsets.UTF_8).length
        <= ConfigValidator.MAX_SOCKET_PATH_BYTES) {
      return p;
    }
    // Too long for sun_path: a short name from the pod name's hash.
    String hash = MacAddress.derive(podName).substring(3).replace(":", "");
    return vhostSocketDir.resolve("pod-" + hash + ".sock");
  }
}
