package io.flatnet.agent.kube;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.flatnet.agent.config.PeerConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * A Kubernetes Node as a flatnet peer: its name, its node IPs (the first {@code InternalIP} of each
 * family in {@code status.addresses}) and its pod CIDRs ({@code spec.podCIDRs}, else {@code
 * spec.podCIDR}). Pure: the values are checked later, by the agent's validator, like a config
 * file's peers.
 */
public final class NodePeers {

  private NodePeers() {}

  /** The address type that names a node's address on the cluster network. */
  public static final String INTERNAL_IP = "InternalIP";

  /**
   * A Node mapped: {@code peer} if it could be, else {@code problem} says what it lacks.
   *
   * @param name the Node's name
   * @param peer the peer, or null when {@code problem} is set
   * @param problem e.g. "no spec.podCIDRs or spec.podCIDR", or null
   */
  public record Mapped(String name, PeerConfig peer, String problem) {}

  /** Maps one Node. */
  public static Mapped map(Node node) {
    String name = node.getMetadata() == null ? null : node.getMetadata().getName();
    List<String> cidrs = new ArrayList<>();
    if (node.getSpec() != null) {
      List<String> list = node.getSpec().getPodCIDRs();
      if (list != null) {
        list.stream().filter(s -> s != null && !s.isBlank()).forEach(cidrs::add);
      }
      String single = node.getSpec().getPodCIDR();
      if (cidrs.isEmpty() && single != null && !single.isBlank()) {
        cidrs.add(single);
      }
    }
    List<String> ips = new ArrayList<>();
    boolean v4 = false;
    boolean v6 = false;
    if (node.getStatus() != null && node.getStatus().getAddresses() != null) {
      for (NodeAddress a : node.getStatus().getAddresses()) {
        if (a == null || !INTERNAL_IP.equals(a.getType()) || a.getAddress() == null) {
          continue;
        }
        String ip = a.getAddress().trim();
        if (ip.isEmpty()) {
          continue;
        }
        boolean isV6 = ip.indexOf(':') >= 0;
        if (isV6 ? !v6 : !v4) {
          ips.add(ip);
          v6 |= isV6;
          v4 |= !isV6;
        }
      }
    }
    List<String> missing = new ArrayList<>();
    if (cidrs.isEmpty()) {
      missing.add("no spec.podCIDRs or spec.podCIDR (no pod range allocated yet?)");
    }
    if (ips.isEmpty()) {
      missing.add("no " + INTERNAL_IP + " in status.addresses");
    }
    if (name == null || name.isBlank()) {
      missing.add("no metadata.name");
    }
    if (!missing.isEmpty()) {
      return new Mapped(name, null, String.join("; ", missing));
    }
    return new Mapped(name, new PeerConfig(name, ips, cidrs), null);
  }
}
