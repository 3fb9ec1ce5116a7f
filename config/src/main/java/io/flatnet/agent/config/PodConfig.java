package io.flatnet.agent.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.flatnet.control.PodKinds;
import java.util.List;

/**
 * {@code pods[]:} a pod attached to the router. {@code name} is "namespace/name"; {@code kind} is
 * {@code vhost-user} (with {@code socket} and {@code mode} client|server, default client), {@code
 * tap} or {@code af_packet} (with {@code interface}, the host-side interface name, which becomes a
 * DPDK port of its own), or {@code bridge} (with {@code interface}, the pod's host veth end on the
 * shared pod bridge; the router reaches it through its one port on that bridge). {@code mac} is
 * optional (learnt by ARP/NDP if absent).
 */
public record PodConfig(
    String name,
    String kind,
    String socket,
    String mode,
    @JsonProperty("interface") String iface,
    List<String> ips,
    String mac) {

  public static final String VHOST_USER = PodKinds.VHOST_USER;
  public static final String TAP = PodKinds.TAP;
  public static final String AF_PACKET = PodKinds.AF_PACKET;
  public static final String BRIDGE = PodKinds.BRIDGE;

  public PodConfig {
    ips = Lists.of(ips);
  }
}
