package io.flatnet.agent.config;

import java.util.List;

/**
 * {@code node:} this node's name, pod and service CIDRs, optional router MAC and the gateway
 * addresses pods use.
 */
public record NodeSection(
    String name,
    List<String> podCIDRs,
    List<String> serviceCIDRs,
    String routerMac,
    List<String> gateways) {

  public NodeSection {
    podCIDRs = Lists.of(podCIDRs);
    serviceCIDRs = Lists.of(serviceCIDRs);
    gateways = Lists.of(gateways);
  }
}
