package io.flatnet.agent.config;

/**
 * An interface address with its prefix length, e.g. {@code 192.0.2.10/24}: host bits are expected
 * (it names one address and the on-link subnet).
 */
public record IfAddress(IpAddress address, int length) {

  /**
   * Parses "address/len".
   *
   * @throws IllegalArgumentException naming the text if the address or length is bad
   */
  public static IfAddress parse(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("empty interface address");
    }
    int slash = text.indexOf('/');
    if (slash < 0 || slash != text.lastIndexOf('/')) {
      throw new IllegalArgumentException(
          "Invalid interface address \""
              + text
              + "\": expected address/length, e.g. 192.0.2.10/24");
    }
    IpAddress a = IpAddress.parse(text.substring(0, slash));
    String len = text.substring(slash + 1);
    int length;
    try {
      length = Integer.parseInt(len);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "Invalid prefix length \"" + len + "\" in \"" + text + "\": expected 0.." + a.bits(), e);
    }
    if (length < 0 || length > a.bits() || !len.equals(Integer.toString(length))) {
      throw new IllegalArgumentException(
          "Invalid prefix length \"" + len + "\" in \"" + text + "\": expected 0.." + a.bits());
    }
    return new IfAddress(a, length);
  }

  /** The on-link subnet. */
  public IpNet subnet() {
    return new IpNet(address.masked(length), length);
  }

  @Override
  public String toString() {
    return address + "/" + length;
  }
}
