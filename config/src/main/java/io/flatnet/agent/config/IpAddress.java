package io.flatnet.agent.config;

import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Prefix;

/**
 * An IPv4 or IPv6 address. IPv4 addresses live in the low 32 bits of {@code lo} with {@code hi ==
 * 0}; IPv6 addresses are two big-endian halves. Parsing and formatting use the route table's
 * parsers ({@link Ipv4Prefix#parseAddress}, {@link Ipv6Prefix#parseAddress}), so the messages of a
 * bad address are theirs. Ordered by family, then numerically (unsigned).
 */
public record IpAddress(int family, long hi, long lo) implements Comparable<IpAddress> {

  public IpAddress {
    if (family != 4 && family != 6) {
      throw new IllegalArgumentException("family must be 4 or 6: " + family);
    }
    if (family == 4 && (hi != 0 || (lo >>> 32) != 0)) {
      throw new IllegalArgumentException("IPv4 address out of range");
    }
  }

  /** An IPv4 address from its host-order int. */
  public static IpAddress v4(int address) {
    return new IpAddress(4, 0, address & 0xFFFF_FFFFL);
  }

  /**
   * Parses an IPv4 (dotted quad) or IPv6 (RFC 4291) address; the family is IPv6 when the text has a
   * ':'.
   *
   * @throws IllegalArgumentException naming the text if it is not an address
   */
  public static IpAddress parse(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("empty address");
    }
    if (text.indexOf('/') >= 0) {
      throw new IllegalArgumentException(
          "Invalid address \"" + text + "\": expected an address without a prefix length");
    }
    if (text.indexOf(':') >= 0) {
      long[] a = Ipv6Prefix.parseAddress(text);
      return new IpAddress(6, a[0], a[1]);
    }
    return v4(Ipv4Prefix.parseAddress(text));
  }

  public boolean isV4() {
    return family == 4;
  }

  /** The host-order int of an IPv4 address. */
  public int v4Int() {
    return (int) lo;
  }

  /** Bits in this family's addresses (32 or 128). */
  public int bits() {
    return family == 4 ? 32 : 128;
  }

  /** This address plus {@code n} (may wrap past the family's last address; callers check). */
  public IpAddress plus(long n) {
    if (family == 4) {
      return v4((int) (lo + n));
    }
    long newLo = lo + n;
    long newHi = Long.compareUnsigned(newLo, lo) < 0 && n > 0 ? hi + 1 : hi;
    return new IpAddress(6, newHi, newLo);
  }

  /** This address with the host bits beyond {@code length} cleared. */
  public IpAddress masked(int length) {
    if (family == 4) {
      return v4(v4Int() & Ipv4Prefix.mask(length));
    }
    return new IpAddress(6, hi & Ipv6Prefix.maskHi(length), lo & Ipv6Prefix.maskLo(length));
  }

  /** True for 169.254.0.0/16 and fe80::/10. */
  public boolean isLinkLocal() {
    if (family == 4) {
      return (v4Int() >>> 16) == 0xA9FE;
    }
    return (hi >>> 54) == (0xFE80L >>> 6);
  }

  @Override
  public int compareTo(IpAddress o) {
    if (family != o.family) {
      return Integer.compare(family, o.family);
    }
    int c = Long.compareUnsigned(hi, o.hi);
    return c != 0 ? c : Long.compareUnsigned(lo, o.lo);
  }

  /** Canonical text: dotted quad, or RFC 5952 for IPv6. */
  @Override
  public String toString() {
    return family == 4 ? Ipv4Prefix.format(v4Int()) : Ipv6Prefix.format(hi, lo);
  }
}
