package io.flatnet.control;

import java.util.List;

/**
 * A DPDK port: {@code device} (devargs or PCI address), {@code role} ("uplink" or "host"), the
 * node's {@code addresses} on it in canonical "address/length" form, and the {@code mtu}.
 */
public record PortSpec(String name, String device, String role, List<String> addresses, int mtu)
    implements Spec {

  public PortSpec {
    addresses = List.copyOf(addresses);
  }

  @Override
  public Resource resource() {
    return Resource.PORT;
  }

  @Override
  public String key() {
    return name;
  }
}
