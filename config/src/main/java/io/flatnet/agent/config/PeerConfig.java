package io.flatnet.agent.config;

import java.util.List;

/**
 * {@code peers[]:} another node: its pod CIDRs are routed via its node IP of the same family,
 * resolved by ARP/NDP over the uplink port whose subnet holds that IP.
 */
public record PeerConfig(String name, List<String> nodeIPs, List<String> podCIDRs) {

  public PeerConfig {
    nodeIPs = Lists.of(nodeIPs);
    podCIDRs = Lists.of(podCIDRs);
  }
}
