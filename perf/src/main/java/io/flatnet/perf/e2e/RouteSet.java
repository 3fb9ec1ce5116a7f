package io.flatnet.perf.e2e;

import java.util.ArrayList;
import java.util.List;

/**
 * IPv4 routes to port 0 or 1, written out for each routing DUT: flatnet's {@code --route
 * PREFIX=PORT} and DPDK l3fwd's {@code --rule_ipv4} file (the format of {@code lpm_default_v4.cfg}:
 * one {@code R<addr>/<depth> <port>} line per route, {@code #} comments; see {@code
 * lpm_route_parse.c} in DPDK 22.11).
 *
 * <p>Also knows which destinations testpmd's {@code flowgen} sends to (DPDK 22.11 ignores {@code
 * --tx-ip}): 10.253.0.0 to 10.253.3.255, spread evenly, so it can say what share of the traffic
 * each port should get.
 */
public final class RouteSet {

  /** First destination address flowgen sends to (10.253.0.0), host order. */
  public static final int FLOWGEN_FIRST_DST = 0x0AFD0000;

  /** How many consecutive destination addresses flowgen cycles through (four /24s). */
  public static final int FLOWGEN_DST_COUNT = 1024;

  /** One route: {@code address/length} (host order) out of {@code port}. */
  public record Route(int address, int length, int port) {
    public Route {
      if (length < 0 || length > 32) {
        throw new IllegalArgumentException("prefix length " + length);
      }
      if (port < 0 || port > 1) {
        throw new IllegalArgumentException("port " + port + " (the bench has ports 0 and 1)");
      }
      int mask = length == 0 ? 0 : -1 << (32 - length);
      if ((address & ~mask) != 0) {
        throw new IllegalArgumentException("host bits set in " + dotted(address) + "/" + length);
      }
    }

    boolean matches(int addr) {
      int mask = length == 0 ? 0 : -1 << (32 - length);
      return (addr & mask) == address;
    }

    String prefix() {
      return dotted(address) + "/" + length;
    }
  }

  private final List<Route> routes;

  private RouteSet(List<Route> routes) {
    this.routes = List.copyOf(routes);
  }

  /** The benchmark's routes: 10.253.0.0/23 to port 0, 10.253.2.0/23 to port 1 (50/50). */
  public static RouteSet standard() {
    return parse(List.of("10.253.0.0/23=0", "10.253.2.0/23=1"));
  }

  /**
   * The routing check's routes: 10.253.0.0/24 to port 0, the other three /24s to port 1. A router
   * sends 25% of flowgen's packets out of port 0; a DUT that hairpins (sends each packet back out
   * of the port it came in on) or cross-connects returns 50% on each port.
   */
  public static RouteSet check() {
    return parse(List.of("10.253.0.0/24=0", "10.253.1.0/24=1", "10.253.2.0/23=1"));
  }

  /** Parses {@code PREFIX=PORT} entries. */
  public static RouteSet parse(List<String> entries) {
    List<Route> routes = new ArrayList<>();
    for (String entry : entries) {
      int eq = entry.indexOf('=');
      int slash = entry.indexOf('/');
      if (eq < 0 || slash < 0 || slash > eq) {
        throw new IllegalArgumentException("route '" + entry + "': expected A.B.C.D/LEN=PORT");
      }
      try {
        int address = parseDotted(entry.substring(0, slash));
        int length = Integer.parseInt(entry.substring(slash + 1, eq).strip());
        int port = Integer.parseInt(entry.substring(eq + 1).strip());
        routes.add(new Route(address, length, port));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("route '" + entry + "': " + e.getMessage(), e);
      }
    }
    return new RouteSet(routes);
  }

  public List<Route> routes() {
    return routes;
  }

  /** The port of the longest matching route, or -1 if none matches. */
  public int lookup(int address) {
    int best = -1;
    int bestLength = -1;
    for (Route r : routes) {
      if (r.length() > bestLength && r.matches(address)) {
        best = r.port();
        bestLength = r.length();
      }
    }
    return best;
  }

  /** The share of flowgen's destinations routed to port 0 (NaN if some match no route). */
  public double expectedPort0Share() {
    int port0 = 0;
    for (int i = 0; i < FLOWGEN_DST_COUNT; i++) {
      int port = lookup(FLOWGEN_FIRST_DST + i);
      if (port < 0) {
        return Double.NaN;
      }
      if (port == 0) {
        port0++;
      }
    }
    return port0 / (double) FLOWGEN_DST_COUNT;
  }

  /** flatnet run's arguments: {@code --route PREFIX=PORT} for each route. */
  public List<String> flatnetArgs() {
    List<String> args = new ArrayList<>();
    for (Route r : routes) {
      args.add("--route");
      args.add(r.prefix() + "=" + r.port());
    }
    return args;
  }

  /** The text of an l3fwd {@code --rule_ipv4} file. */
  public String l3fwdIpv4Rules() {
    StringBuilder sb = new StringBuilder("# flatnet bench e2e: l3fwd LPM IPv4 routes\n");
    for (Route r : routes) {
      sb.append('R').append(r.prefix()).append(' ').append(r.port()).append('\n');
    }
    return sb.toString();
  }

  /**
   * The text of an l3fwd {@code --rule_ipv6} file. l3fwd 22.11 reads its route files only when both
   * {@code --rule_ipv4} and {@code --rule_ipv6} are given (otherwise it silently uses its built-in
   * 198.18.0.0/24.. table), and refuses a file with no route: so one documentation prefix that the
   * IPv4-only traffic never touches.
   */
  public static String l3fwdIpv6Rules() {
    return "# flatnet bench e2e: unused; l3fwd needs an IPv6 file too\nR2001:db8::/32 0\n";
  }

  /** "10.253.0.0/23=0 10.253.2.0/23=1". */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    for (Route r : routes) {
      sb.append(sb.isEmpty() ? "" : " ").append(r.prefix()).append('=').append(r.port());
    }
    return sb.toString();
  }

  static String dotted(int a) {
    return (a >>> 24) + "." + (a >>> 16 & 0xff) + "." + (a >>> 8 & 0xff) + "." + (a & 0xff);
  }

  public static int parseDotted(String text) {
    String[] parts = text.strip().split("\\.", -1);
    if (parts.length != 4) {
      throw new IllegalArgumentException("bad IPv4 address '" + text + "'");
    }
    int a = 0;
    for (String part : parts) {
      int b;
      try {
        b = Integer.parseInt(part);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad IPv4 address '" + text + "'", e);
      }
      if (b < 0 || b > 255) {
        throw new IllegalArgumentException("bad IPv4 address '" + text + "'");
      }
      a = a << 8 | b;
    }
    return a;
  }
}
