package io.flatnet.agent.config;

import java.util.List;

/**
 * {@code ports[]:} a DPDK port: {@code device} is devargs or a PCI address, {@code role} is {@code
 * uplink} or {@code host}, {@code addresses} are the node's addresses on it with their prefix
 * length, {@code mtu} defaults to {@value #DEFAULT_MTU}, {@code kernel} (host ports only) says what
 * the agent does to the kernel's end of the TAP.
 */
public record PortConfig(
    String name,
    String device,
    String role,
    List<String> addresses,
    Integer mtu,
    HostKernel kernel) {

  public static final int DEFAULT_MTU = 1500;

  public PortConfig {
    addresses = Lists.of(addresses);
    mtu = mtu == null ? DEFAULT_MTU : mtu;
  }
}
