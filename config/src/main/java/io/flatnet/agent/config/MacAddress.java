package io.flatnet.agent.config;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/** Ethernet MAC addresses as 48-bit longs, written {@code aa:bb:cc:dd:ee:ff}. */
public final class MacAddress {

  private MacAddress() {}

  /**
   * Parses six colon-separated hex octets.
   *
   * @throws IllegalArgumentException naming the text if malformed
   */
  public static long parse(String text) {
    if (text == null) {
      throw new IllegalArgumentException("MAC address is null");
    }
    String[] parts = text.split(":", -1);
    if (parts.length != 6) {
      throw new IllegalArgumentException(
          "Invalid MAC address \"" + text + "\": expected six hex octets like 02:00:00:00:00:01");
    }
    long mac = 0;
    for (String p : parts) {
      if (p.length() != 2
          || Character.digit(p.charAt(0), 16) < 0
          || Character.digit(p.charAt(1), 16) < 0) {
        throw new IllegalArgumentException(
            "Invalid MAC address \"" + text + "\": expected six hex octets like 02:00:00:00:00:01");
      }
      mac = (mac << 8) | Integer.parseInt(p, 16);
    }
    return mac;
  }

  /** True for a multicast (or broadcast) address: the low bit of the first octet. */
  public static boolean isMulticast(long mac) {
    return ((mac >>> 40) & 1) != 0;
  }

  /** Lower-case canonical text. */
  public static String format(long mac) {
    StringBuilder sb = new StringBuilder(17);
    for (int i = 5; i >= 0; i--) {
      sb.append(String.format(Locale.ROOT, "%02x", (mac >>> (8 * i)) & 0xFF));
      if (i > 0) {
        sb.append(':');
      }
    }
    return sb.toString();
  }

  /** Canonical form of a valid MAC text (lower case), or the text unchanged if invalid. */
  public static String canonical(String text) {
    try {
      return format(parse(text));
    } catch (IllegalArgumentException e) {
      return text;
    }
  }

  /**
   * A stable locally-administered unicast MAC derived from {@code seed} (02:xx:xx:xx:xx:xx from
   * SHA-256 of the seed), so the same pod gets the same MAC across restarts.
   */
  public static String derive(String seed) {
    byte[] h;
    try {
      h = MessageDigest.getInstance("SHA-256").digest(seed.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    return "02:" + HexFormat.ofDelimiter(":").formatHex(h, 0, 5);
  }
}
