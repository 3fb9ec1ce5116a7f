package io.flatnet.route;

import java.util.HashMap;
import java.util.Map;

/** The obviously-correct IPv4 LPM the FIB is checked against: probe every length, longest first. */
final class RefLpm4 {

  final Map<Ipv4Prefix, Integer> routes;

  RefLpm4() {
    this(new HashMap<>());
  }

  private RefLpm4(Map<Ipv4Prefix, Integer> routes) {
    this.routes = routes;
  }

  RefLpm4 copy() {
    return new RefLpm4(new HashMap<>(routes));
  }

  void put(Ipv4Prefix p, int nh) {
    routes.put(p, nh);
  }

  void remove(Ipv4Prefix p) {
    routes.remove(p);
  }

  int lookup(int address) {
    for (int len = 32; len >= 0; len--) {
      Integer nh = routes.get(new Ipv4Prefix(address & Ipv4Prefix.mask(len), len));
      if (nh != null) {
        return nh;
      }
    }
    return NextHops.NO_ROUTE;
  }
}
