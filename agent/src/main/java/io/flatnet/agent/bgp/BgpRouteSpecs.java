package io.flatnet.agent.bgp;

import io.flatnet.agent.config.IfAddress;
import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.config.IpNet;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.config.PortConfig;
import io.flatnet.control.RouteSpec;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Turns zebra's routes ({@link BgpRoutes.Snapshot}) into flatnet routes of origin {@link
 * RouteSpec#ORIGIN_BGP}, for a (valid) node config:
 *
 * <ul>
 *   <li>Taken: unicast routes of the main table made by a routing protocol (BGP, staticd, OSPF,
 *       ...: rtm_protocol above 4). Ignored without a word: the kernel's own routes (connected
 *       subnets and routes zebra read from the kernel, rtm_protocol 0..4): the node's kernel is
 *       flatnet's host side, its routes are not the fabric's. Other tables (VRFs) are left out.
 *   <li>Each next hop's gateway must be on-link on an uplink port (in the subnet of one of its
 *       addresses): that port becomes the path's port. Unusable: no gateway (directly connected),
 *       an IPv6 link-local gateway (zebra names the kernel's interface, the host TAP, not an
 *       uplink), a gateway of the other family, one off-link, the node's own address.
 *   <li>A route with no usable next hop is left out, with the reason; with several it becomes an
 *       ECMP route, weights from the next hops' (rtnh_hops + 1, or the group's), at most {@link
 *       RouteSpec#MAX_PATHS} paths.
 *   <li>Left out too: blackhole/unreachable routes, routes inside the node's own pod CIDRs (its own
 *       advertisements come back from zebra), host routes of the node's addresses, and routes of an
 *       uplink's own subnet.
 * </ul>
 *
 * Which of these routes the node uses is {@link io.flatnet.agent.state.DesiredState}'s decision:
 * other sources win a prefix.
 */
public final class BgpRouteSpecs {

  private BgpRouteSpecs() {}

  /** A route of zebra's that flatnet does not use, and why. */
  public record LeftOut(String prefix, String why) {
    @Override
    public String toString() {
      return prefix + (why.startsWith("via ") ? " " : ": ") + why;
    }
  }

  /**
   * The conversion's outcome.
   *
   * @param routes the usable routes, by prefix
   * @param leftOut routes not used, with reasons
   * @param notes routes used with some next hops dropped, with reasons
   * @param ignored kernel and connected routes ignored
   */
  public record Result(
      List<RouteSpec> routes, List<LeftOut> leftOut, List<LeftOut> notes, int ignored) {
    public static final Result EMPTY = new Result(List.of(), List.of(), List.of(), 0);

    public Result {
      routes = List.copyOf(routes);
      leftOut = List.copyOf(leftOut);
      notes = List.copyOf(notes);
    }

    /**
     * One line for the log: "3 routes from zebra (2 ECMP), 1 left out: 10.9.0.0/16 via fe80::1:
     * link-local gateway".
     */
    public String summary() {
      long ecmp = routes.stream().filter(RouteSpec::isMultipath).count();
      StringBuilder s = new StringBuilder();
      s.append(routes.size()).append(routes.size() == 1 ? " route" : " routes");
      s.append(" from zebra");
      if (ecmp > 0) {
        s.append(" (").append(ecmp).append(" ECMP)");
      }
      if (!leftOut.isEmpty()) {
        s.append(", ").append(leftOut.size()).append(" left out: ");
        s.append(leftOut.stream().map(LeftOut::toString).collect(Collectors.joining("; ")));
      }
      if (!notes.isEmpty()) {
        s.append(", next hops left out: ");
        s.append(notes.stream().map(LeftOut::toString).collect(Collectors.joining("; ")));
      }
      if (ignored > 0) {
        s.append(", ").append(ignored).append(" kernel/connected ignored");
      }
      return s.toString();
    }
  }

  private record Uplink(String port, IpNet subnet, IpAddress address) {}

  public static Result convert(NodeConfig config, BgpRoutes.Snapshot snapshot) {
    List<Uplink> uplinks = new ArrayList<>();
    for (PortConfig p : config.ports()) {
      if ("uplink".equals(p.role())) {
        for (String a : p.addresses()) {
          IfAddress address = IfAddress.parse(a.trim());
          uplinks.add(new Uplink(p.name(), address.subnet(), address.address()));
        }
      }
    }
    List<IpNet> podCidrs =
        config.node().podCIDRs().stream().map(s -> IpNet.parse(s.trim())).toList();
    List<RouteSpec> routes = new ArrayList<>();
    List<LeftOut> leftOut = new ArrayList<>();
    List<LeftOut> notes = new ArrayList<>();
    int ignored = 0;
    List<FpmMessage.Route> sorted = new ArrayList<>(snapshot.routes());
    sorted.sort(
        Comparator.comparing((FpmMessage.Route r) -> IpNet.parse(r.prefix()).network())
            .thenComparingInt(r -> IpNet.parse(r.prefix()).length())
            .thenComparingInt(FpmMessage.Route::table));
    for (FpmMessage.Route r : sorted) {
      if (r.protocol() <= FpmMessage.PROTOCOL_KERNEL_MAX) {
        ignored++;
        continue;
      }
      String why = unusablePrefix(r, uplinks, podCidrs);
      if (why != null) {
        leftOut.add(new LeftOut(r.prefix(), why));
        continue;
      }
      List<FpmMessage.NextHop> hops = new ArrayList<>();
      why = nextHops(r, snapshot, hops);
      if (why != null) {
        leftOut.add(new LeftOut(r.prefix(), why));
        continue;
      }
      Map<IpAddress, RouteSpec.Path> paths = new LinkedHashMap<>();
      List<String> dropped = new ArrayList<>();
      for (FpmMessage.NextHop hop : hops) {
        String problem = unusableGateway(r, hop, uplinks);
        if (problem != null) {
          dropped.add(problem);
        } else if (paths.size() == RouteSpec.MAX_PATHS) {
          dropped.add("via " + hop.gateway() + ": more than " + RouteSpec.MAX_PATHS + " paths");
        } else {
          paths.putIfAbsent(
              hop.gateway(),
              new RouteSpec.Path(
                  hop.gateway().toString(),
                  uplinkOf(hop.gateway(), uplinks).port(),
                  Math.min(hop.weight(), RouteSpec.MAX_WEIGHT)));
        }
      }
      if (paths.isEmpty()) {
        leftOut.add(new LeftOut(r.prefix(), String.join("; ", dropped)));
        continue;
      }
      if (!dropped.isEmpty()) {
        notes.add(new LeftOut(r.prefix(), String.join("; ", dropped)));
      }
      routes.add(
          RouteSpec.multipath(r.prefix(), List.copyOf(paths.values()), RouteSpec.ORIGIN_BGP));
    }
    return new Result(routes, leftOut, notes, ignored);
  }

  private static String unusablePrefix(
      FpmMessage.Route r, List<Uplink> uplinks, List<IpNet> podCidrs) {
    if (r.table() != FpmMessage.TABLE_MAIN) {
      return "table " + r.table() + ", not the main table";
    }
    if (r.type() != FpmMessage.TYPE_UNICAST) {
      return routeType(r.type()) + " route, not unicast";
    }
    IpNet prefix = IpNet.parse(r.prefix());
    for (IpNet own : podCidrs) {
      if (own.family() == prefix.family()
          && own.length() <= prefix.length()
          && own.contains(prefix.network())) {
        return "inside this node's pod CIDR " + own;
      }
    }
    for (Uplink u : uplinks) {
      if (prefix.length() == prefix.network().bits() && prefix.network().equals(u.address())) {
        return "this node's own address (" + u.port() + ")";
      }
      if (prefix.equals(u.subnet())) {
        return "the subnet of uplink " + u.port();
      }
    }
    return null;
  }

  /** Fills {@code hops} with the route's next hops; gives why there are none. */
  private static String nextHops(
      FpmMessage.Route r, BgpRoutes.Snapshot snapshot, List<FpmMessage.NextHop> hops) {
    if (r.nexthopId() == 0) {
      hops.addAll(r.nextHops());
      return hops.isEmpty() ? "no next hop" : null;
    }
    FpmMessage.Nexthop object = snapshot.nexthops().get(r.nexthopId());
    if (object == null) {
      return "next-hop object " + r.nexthopId() + " unknown (zebra has not sent it)";
    }
    if (object.group().isEmpty()) {
      hops.add(single(object, 1));
      return object.blackhole() ? "blackhole next hop" : null;
    }
    for (FpmMessage.GroupMember m : object.group()) {
      FpmMessage.Nexthop member = snapshot.nexthops().get(m.id());
      if (member == null) {
        return "next-hop group " + r.nexthopId() + ": member " + m.id() + " unknown";
      }
      if (!member.blackhole()) {
        hops.add(single(member, m.weight()));
      }
    }
    return hops.isEmpty() ? "next-hop group " + r.nexthopId() + " has no usable member" : null;
  }

  private static FpmMessage.NextHop single(FpmMessage.Nexthop object, int weight) {
    return new FpmMessage.NextHop(object.gateway(), object.ifindex(), weight);
  }

  private static String unusableGateway(
      FpmMessage.Route r, FpmMessage.NextHop hop, List<Uplink> uplinks) {
    IpAddress gateway = hop.gateway();
    if (gateway == null) {
      return "no gateway (directly connected on ifindex " + hop.ifindex() + ")";
    }
    String via = "via " + gateway + ": ";
    if (gateway.family() != IpNet.parse(r.prefix()).family()) {
      return via + "gateway of the other address family";
    }
    if (gateway.isLinkLocal()) {
      return via + "link-local gateway";
    }
    for (Uplink u : uplinks) {
      if (u.address().equals(gateway)) {
        return via + "this node's own address";
      }
    }
    if (uplinkOf(gateway, uplinks) == null) {
      return via + "not on-link on an uplink port";
    }
    return null;
  }

  private static Uplink uplinkOf(IpAddress gateway, List<Uplink> uplinks) {
    for (Uplink u : uplinks) {
      if (u.subnet().contains(gateway)) {
        return u;
      }
    }
    return null;
  }

  private static String routeType(int type) {
    return switch (type) {
      case 2 -> "local";
      case 3 -> "broadcast";
      case 6 -> "blackhole";
      case 7 -> "unreachable";
      case 8 -> "prohibit";
      default -> "type " + type;
    };
  }
}
