package io.flatnet.dataplane;

import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Prefix;

/** Pods as network namespaces for the dataplane's real-port tests, and routes to them. */
final class PodNamespaces {
  private PodNamespaces() {}

  /**
   * A pod: a namespace with eth0 (a veth whose other end, {@code veth}, flatnet opens), a /24 and a
   * /64, and default routes via 10.244.1.1 and fd00:244:1::1.
   */
  static void create(String namespace, String veth, String ipv4, String ipv6) {
    Shell.must("ip", "netns", "add", namespace);
    Shell.must(
        "ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace);
    Shell.must("sysctl", "-qw", "net.ipv6.conf." + veth + ".disable_ipv6=1");
    Shell.must("ip", "link", "set", veth, "up");
    Shell.mustIn(namespace, "ip", "link", "set", "lo", "up");
    Shell.mustIn(namespace, "ip", "link", "set", "eth0", "up");
    // af_packet sees the kernel's frames before checksum offload fills them in.
    Shell.mustIn(namespace, "ethtool", "-K", "eth0", "tx", "off");
    Shell.mustIn(namespace, "ip", "addr", "add", ipv4 + "/24", "dev", "eth0");
    Shell.mustIn(namespace, "ip", "route", "add", "default", "via", "10.244.1.1");
    Shell.mustIn(namespace, "ip", "-6", "addr", "add", ipv6 + "/64", "dev", "eth0", "nodad");
    Shell.mustIn(namespace, "ip", "-6", "route", "add", "default", "via", "fd00:244:1::1");
  }

  /** Routes the pod's /32 and /128 to neighbours on {@code port}, resolved by ARP and NDP. */
  static void routeToNeighbor(Router router, String ipv4, String ipv6, int port) {
    long[] address6 = Ipv6Prefix.parseAddress(ipv6);
    router.routeVia(Ipv4Prefix.parse(ipv4 + "/32"), port, Ipv4Prefix.parseAddress(ipv4));
    router.routeVia(Ipv6Prefix.parse(ipv6 + "/128"), port, address6[0], address6[1]);
  }
}
