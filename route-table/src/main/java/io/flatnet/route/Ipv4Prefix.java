package io.flatnet.route;

/**
 * An IPv4 prefix: address (host order) and length.
 *
 * <p>Host bits must be zero: {@code 10.1.2.3/8} is <em>rejected</em> with an {@link
 * IllegalArgumentException}, not silently normalised to {@code 10.0.0.0/8}, because a route written
 * that way is usually a typo for a longer prefix.
 */
public record Ipv4Prefix(int address, int length) {

  /** The default route, 0.0.0.0/0. */
  public static final Ipv4Prefix DEFAULT = new Ipv4Prefix(0, 0);

  /**
   * @throws IllegalArgumentException if {@code length} is outside [0, 32] or host bits are set
   */
  public Ipv4Prefix {
    check(address, length);
  }

  /** Validates without allocating; the same checks and messages as the constructor. */
  static void check(int address, int length) {
    if (length < 0 || length > 32) {
      throw new IllegalArgumentException(
          "IPv4 prefix length "
              + length
              + " out of range [0, 32] (address "
              + format(address)
              + ")");
    }
    int mask = mask(length);
    if ((address & ~mask) != 0) {
      throw new IllegalArgumentException(
          "IPv4 prefix "
              + format(address)
              + "/"
              + length
              + " has host bits set (rejected, not normalised; did you mean "
              + format(address & mask)
              + "/"
              + length
              + "?)");
    }
  }

  /**
   * Parses {@code "a.b.c.d/len"}.
   *
   * @throws IllegalArgumentException naming the text if it is malformed, the length is out of
   *     range, or host bits are set
   */
  public static Ipv4Prefix parse(String text) {
    if (text == null) {
      throw new IllegalArgumentException("IPv4 prefix is null");
    }
    int slash = text.indexOf('/');
    if (slash < 0 || slash != text.lastIndexOf('/')) {
      throw new IllegalArgumentException(
          "Invalid IPv4 prefix \"" + text + "\": expected a.b.c.d/length");
    }
    int address = parseAddressPart(text, text.substring(0, slash));
    int length = parseLength(text, text.substring(slash + 1), 32);
    try {
      return new Ipv4Prefix(address, length);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "Invalid IPv4 prefix \"" + text + "\": " + e.getMessage(), e);
    }
  }

  /** Parses a dotted-quad address into host order. Leading zeros ("010") are rejected. */
  public static int parseAddress(String text) {
    if (text == null) {
      throw new IllegalArgumentException("IPv4 address is null");
    }
    return parseAddressPart(text, text);
  }

  private static int parseAddressPart(String whole, String s) {
    int result = 0;
    int octets = 0;
    int i = 0;
    int n = s.length();
    while (true) {
      int start = i;
      int v = 0;
      while (i < n && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
        v = v * 10 + (s.charAt(i) - '0');
        i++;
        if (i - start > 3) {
          break;
        }
      }
      int digits = i - start;
      if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && s.charAt(start) == '0')) {
        throw badAddress(whole, s);
      }
      result = (result << 8) | v;
      octets++;
      if (octets == 4) {
        if (i != n) {
          throw badAddress(whole, s);
        }
        return result;
      }
      if (i >= n || s.charAt(i) != '.') {
        throw badAddress(whole, s);
      }
      i++;
    }
  }

  private static IllegalArgumentException badAddress(String whole, String part) {
    return new IllegalArgumentException(
        "Invalid IPv4 address \""
            + part
            + "\""
            + (whole.equals(part) ? "" : " in \"" + whole + "\"")
            + ": expected four decimal octets 0-255 without leading zeros");
  }

  static int parseLength(String whole, String s, int max) {
    if (s.isEmpty() || s.length() > 3) {
      throw new IllegalArgumentException(
          "Invalid prefix length \"" + s + "\" in \"" + whole + "\": expected 0.." + max);
    }
    int v = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        throw new IllegalArgumentException(
            "Invalid prefix length \"" + s + "\" in \"" + whole + "\": expected 0.." + max);
      }
      v = v * 10 + (c - '0');
    }
    if (v > max) {
      throw new IllegalArgumentException(
          "Prefix length " + v + " out of range [0, " + max + "] in \"" + whole + "\"");
    }
    return v;
  }

  /** The network mask for {@code length} in [0, 32]. */
  public static int mask(int length) {
    return length == 0 ? 0 : -1 << (32 - length);
  }

  /** Formats a host-order address as a dotted quad. */
  public static String format(int address) {
    return (address >>> 24)
        + "."
        + ((address >>> 16) & 0xFF)
        + "."
        + ((address >>> 8) & 0xFF)
        + "."
        + (address & 0xFF);
  }

  public boolean contains(int destination) {
    return (destination & mask(length)) == address;
  }

  /** The first address covered (the network address). */
  public int first() {
    return address;
  }

  /** The last address covered. */
  public int last() {
    return address | ~mask(length);
  }

  @Override
  public String toString() {
    return format(address) + "/" + length;
  }
}
