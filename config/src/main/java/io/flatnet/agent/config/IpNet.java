package io.flatnet.agent.config;

import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Prefix;

/**
 * An IPv4 or IPv6 prefix (CIDR). {@link #parse} goes through {@link Ipv4Prefix#parse} / {@link
 * Ipv6Prefix#parse}, which reject host bits ("10.1.2.3/8") with a message that suggests the
 * intended network.
 */
public record IpNet(IpAddress network, int length) {

  public IpNet {
    if (length < 0 || length > network.bits()) {
      throw new IllegalArgumentException("prefix length " + length + " out of range");
    }
    if (!network.masked(length).equals(network)) {
      throw new IllegalArgumentException(network + "/" + length + " has host bits set");
    }
  }

  /**
   * Parses "a.b.c.d/len" or "v6addr/len".
   *
   * @throws IllegalArgumentException with the route table parser's message
   */
  public static IpNet parse(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("empty prefix");
    }
    if (text.indexOf(':') >= 0) {
      Ipv6Prefix p = Ipv6Prefix.parse(text);
      return new IpNet(new IpAddress(6, p.hi(), p.lo()), p.length());
    }
    Ipv4Prefix p = Ipv4Prefix.parse(text);
    return new IpNet(IpAddress.v4(p.address()), p.length());
  }

  public int family() {
    return network.family();
  }

  public boolean contains(IpAddress a) {
    return a.family() == family() && a.masked(length).equals(network);
  }

  /** True when the two prefixes share an address (one contains the other). */
  public boolean overlaps(IpNet o) {
    if (o.family() != family()) {
      return false;
    }
    int shorter = Math.min(length, o.length);
    return network.masked(shorter).equals(o.network.masked(shorter));
  }

  /** The last address covered (the IPv4 broadcast address). */
  public IpAddress last() {
    if (family() == 4) {
      return IpAddress.v4(network.v4Int() | ~Ipv4Prefix.mask(length));
    }
    return new IpAddress(
        6, network.hi() | ~Ipv6Prefix.maskHi(length), network.lo() | ~Ipv6Prefix.maskLo(length));
  }

  /** Number of addresses, saturated at {@link Long#MAX_VALUE}. */
  public long size() {
    int hostBits = network.bits() - length;
    return hostBits >= 63 ? Long.MAX_VALUE : 1L << hostBits;
  }

  @Override
  public String toString() {
    return network + "/" + length;
  }
}
