package io.flatnet.route;

/**
 * An IPv6 prefix: the address as two big-endian halves ({@code hi} = bytes 0..7, {@code lo} = bytes
 * 8..15) and a length.
 *
 * <p>Host bits must be zero: {@code fd00::1/64} is <em>rejected</em> with an {@link
 * IllegalArgumentException}, not silently normalised to {@code fd00::/64}.
 */
public record Ipv6Prefix(long hi, long lo, int length) {

  /** The default route, ::/0. */
  public static final Ipv6Prefix DEFAULT = new Ipv6Prefix(0, 0, 0);

  /**
   * @throws IllegalArgumentException if {@code length} is outside [0, 128] or host bits are set
   */
  public Ipv6Prefix {
    if (length < 0 || length > 128) {
      throw new IllegalArgumentException(
          "IPv6 prefix length "
              + length
              + " out of range [0, 128] (address "
              + format(hi, lo)
              + ")");
    }
    long mh = maskHi(length);
    long ml = maskLo(length);
    if ((hi & ~mh) != 0 || (lo & ~ml) != 0) {
      throw new IllegalArgumentException(
          "IPv6 prefix "
              + format(hi, lo)
              + "/"
              + length
              + " has host bits set (rejected, not normalised; did you mean "
              + format(hi & mh, lo & ml)
              + "/"
              + length
              + "?)");
    }
  }

  /**
   * Parses {@code "addr/len"}, e.g. {@code "fd00::/64"}.
   *
   * @throws IllegalArgumentException naming the text if it is malformed, the length is out of
   *     range, or host bits are set
   */
  public static Ipv6Prefix parse(String text) {
    if (text == null) {
      throw new IllegalArgumentException("IPv6 prefix is null");
    }
    int slash = text.indexOf('/');
    if (slash < 0 || slash != text.lastIndexOf('/')) {
      throw new IllegalArgumentException(
          "Invalid IPv6 prefix \"" + text + "\": expected address/length, e.g. fd00::/64");
    }
    long[] a = parseAddressPart(text, text.substring(0, slash));
    int length = Ipv4Prefix.parseLength(text, text.substring(slash + 1), 128);
    try {
      return new Ipv6Prefix(a[0], a[1], length);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "Invalid IPv6 prefix \"" + text + "\": " + e.getMessage(), e);
    }
  }

  /**
   * Parses an IPv6 address (RFC 4291 text: hex groups, one "::", optional trailing dotted quad).
   * Zone ids and brackets are rejected.
   *
   * @return {hi, lo}
   */
  public static long[] parseAddress(String text) {
    if (text == null) {
      throw new IllegalArgumentException("IPv6 address is null");
    }
    return parseAddressPart(text, text);
  }

  private static long[] parseAddressPart(String whole, String s) {
    int[] groups = new int[8];
    int n = s.length();
    int count = 0;
    int gap = -1; // group index where "::" sits
    int i = 0;
    if (s.startsWith("::")) {
      gap = 0;
      i = 2;
      if (n == 2) {
        return new long[] {0, 0};
      }
    } else if (s.startsWith(":")) {
      throw badAddress(whole, s, "leading single ':'");
    }
    while (i < n) {
      if (count == 8) {
        throw badAddress(whole, s, "more than 8 groups");
      }
      int start = i;
      int v = 0;
      while (i < n && Character.digit(s.charAt(i), 16) >= 0 && i - start < 5) {
        v = (v << 4) | Character.digit(s.charAt(i), 16);
        i++;
      }
      if (i < n && s.charAt(i) == '.') {
        // Embedded IPv4 in the last 32 bits.
        if (count > 6) {
          throw badAddress(whole, s, "embedded IPv4 address in the wrong place");
        }
        int v4;
        try {
          v4 = Ipv4Prefix.parseAddress(s.substring(start));
        } catch (IllegalArgumentException e) {
          throw badAddress(whole, s, "bad embedded IPv4 address");
        }
        groups[count++] = v4 >>> 16;
        groups[count++] = v4 & 0xFFFF;
        i = n;
        break;
      }
      int digits = i - start;
      if (digits == 0 && i < n && s.charAt(i) != ':') {
        throw badAddress(whole, s, "unexpected character '" + s.charAt(i) + "'");
      }
      if (digits == 0 || digits > 4) {
        throw badAddress(whole, s, digits == 0 ? "empty group" : "group longer than 4 hex digits");
      }
      groups[count++] = v;
      if (i == n) {
        break;
      }
      if (s.charAt(i) != ':') {
        throw badAddress(whole, s, "unexpected character '" + s.charAt(i) + "'");
      }
      i++;
      if (i < n && s.charAt(i) == ':') {
        if (gap >= 0) {
          throw badAddress(whole, s, "more than one \"::\"");
        }
        gap = count;
        i++;
      } else if (i == n) {
        throw badAddress(whole, s, "trailing single ':'");
      }
    }
    if (gap < 0 && count != 8) {
      throw badAddress(whole, s, "expected 8 groups, got " + count);
    }
    if (gap >= 0 && count > 7) {
      throw badAddress(whole, s, "\"::\" with 8 groups");
    }
    int[] full = new int[8];
    if (gap < 0) {
      full = groups;
    } else {
      int tail = count - gap;
      System.arraycopy(groups, 0, full, 0, gap);
      System.arraycopy(groups, gap, full, 8 - tail, tail);
    }
    long hi = 0;
    long lo = 0;
    for (int g = 0; g < 4; g++) {
      hi = (hi << 16) | full[g];
      lo = (lo << 16) | full[g + 4];
    }
    return new long[] {hi, lo};
  }

  private static IllegalArgumentException badAddress(String whole, String part, String why) {
    return new IllegalArgumentException(
        "Invalid IPv6 address \""
            + part
            + "\""
            + (whole.equals(part) ? "" : " in \"" + whole + "\"")
            + ": "
            + why);
  }

  /** The mask of the high half for {@code length} in [0, 128]. */
  public static long maskHi(int length) {
    return length == 0 ? 0 : length >= 64 ? -1L : -1L << (64 - length);
  }

  /** The mask of the low half for {@code length} in [0, 128]. */
  public static long maskLo(int length) {
    return length <= 64 ? 0 : length == 128 ? -1L : -1L << (128 - length);
  }

  /** Formats an address per RFC 5952 (lower case, longest zero run as "::"). */
  public static String format(long hi, long lo) {
    int[] g = new int[8];
    for (int i = 0; i < 4; i++) {
      g[i] = (int) (hi >>> (48 - 16 * i)) & 0xFFFF;
      g[i + 4] = (int) (lo >>> (48 - 16 * i)) & 0xFFFF;
    }
    int bestAt = -1;
    int bestLen = 1; // a single zero group is not compressed
    for (int i = 0; i < 8; ) {
      if (g[i] != 0) {
        i++;
        continue;
      }
      int j = i;
      while (j < 8 && g[j] == 0) {
        j++;
      }
      if (j - i > bestLen) {
        bestAt = i;
        bestLen = j - i;
      }
      i = j;
    }
    StringBuilder sb = new StringBuilder(39);
    for (int i = 0; i < 8; i++) {
      if (i == bestAt) {
        sb.append("::");
        i += bestLen - 1;
        continue;
      }
      if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
        sb.append(':');
      }
      sb.append(Integer.toHexString(g[i]));
    }
    return sb.toString();
  }

  public boolean contains(long dstHi, long dstLo) {
    return (dstHi & maskHi(length)) == hi && (dstLo & maskLo(length)) == lo;
  }

  /** High half of the last address covered. */
  public long lastHi() {
    return hi | ~maskHi(length);
  }

  /** Low half of the last address covered. */
  public long lastLo() {
    return lo | ~maskLo(length);
  }

  @Override
  public String toString() {
    return format(hi, lo) + "/" + length;
  }
}
