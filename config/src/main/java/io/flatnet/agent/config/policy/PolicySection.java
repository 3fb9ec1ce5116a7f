package io.flatnet.agent.config.policy;

import java.util.List;

/**
 * {@code policy:} the Kubernetes objects network policy is compiled from: namespaces (for their
 * labels), pods of this node and of other nodes (labels, named ports, addresses), and the
 * NetworkPolicies. See docs/config.md, "Network policy in the node config".
 */
public record PolicySection(
    List<NamespaceObject> namespaces, List<PodObject> pods, List<NetworkPolicy> networkPolicies) {

  public static final PolicySection EMPTY = new PolicySection(null, null, null);

  public PolicySection {
    namespaces = Lists.of(namespaces);
    pods = Lists.of(pods);
    networkPolicies = Lists.of(networkPolicies);
  }
}
