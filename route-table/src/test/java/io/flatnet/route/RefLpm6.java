package io.flatnet.route;

import java.util.HashMap;
import java.util.Map;

/** The obviously-correct IPv6 LPM: probe every length, longest first. */
final class RefLpm6 {

  final Map<Ipv6Prefix, Integer> routes;

  RefLpm6() {
    this(new HashMap<>());
  }

  private RefLpm6(Map<Ipv6Prefix, Integer> routes) {
    this.routes = routes;
  }

  RefLpm6 copy() {
    return new RefLpm6(new HashMap<>(routes));
  }

  void put(Ipv6Prefix p, int nh) {
    routes.put(p, nh);
  }

  void remove(Ipv6Prefix p) {
    routes.remove(p);
  }

  int lookup(long hi, long lo) {
    for (int len = 128; len >= 0; len--) {
      Integer nh =
          routes.get(new Ipv6Prefix(hi & Ipv6Prefix.maskHi(len), lo & Ipv6Prefix.maskLo(len), len));
      if (nh != null) {
        return nh;
      }
    }
    return NextHops.NO_ROUTE;
  }
}
