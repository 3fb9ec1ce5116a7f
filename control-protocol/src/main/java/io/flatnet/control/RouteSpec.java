package io.flatnet.control;

/**
 * A route: canonical {@code prefix} ("10.244.2.0/24", "fd00:2::/64") out of port {@code port} (a
 * port name) to next hop {@code via} (resolved by ARP/NDP on that port), or on-link when {@code
 * via} is null. Peers' pod CIDRs and static routes both become routes; pods' own addresses do not
 * (they come with {@link PodSpec}).
 */
public record RouteSpec(String prefix, String via, String port) implements Spec {

  @Override
  public Resource resource() {
    return Resource.ROUTE;
  }

  @Override
  public String key() {
    return prefix;
  }
}
