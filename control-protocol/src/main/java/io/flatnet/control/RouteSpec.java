package io.flatnet.control;

import java.util.List;

/**
 * A route: canonical {@code prefix} ("10.244.2.0/24", "fd00:2::/64") out of port {@code port} (a
 * port name) to next hop {@code via} (resolved by ARP/NDP on that port), or on-link when {@code
 * via} is null. Peers' pod CIDRs, static routes, Service CIDRs and BGP routes all become routes;
 * pods' own addresses do not (they come with {@link PodSpec}).
 *
 * <p>An ECMP route has no {@code via} or {@code port} of its own: it has two or more {@code paths},
 * each a neighbour, a port and a weight. The workers spread flows over them by a hash of the
 * 5-tuple, in proportion to the weights; {@link #effectivePaths()} gives every route's paths.
 *
 * <p>{@code origin} names the source that wanted the route ({@link #ORIGIN_STATIC}, ...). It does
 * not change forwarding; {@code ctl show routes} prints it.
 */
public record RouteSpec(String prefix, String via, String port, List<Path> paths, String origin)
    implements Spec {

  /** A {@code routes[]} entry of the node config. */
  public static final String ORIGIN_STATIC = "static";

  /** A peer node's pod CIDR, from the config's {@code peers[]}. */
  public static final String ORIGIN_PEER = "peer";

  /** A peer node's pod CIDR, from the Kubernetes Node objects. */
  public static final String ORIGIN_KUBERNETES = "kubernetes";

  /** A Service CIDR, sent to the node's kernel. */
  public static final String ORIGIN_SERVICE = "service";

  /** A route that FRR selected (BGP), learned over zebra's FPM socket. */
  public static final String ORIGIN_BGP = "bgp";

  /** A BGP neighbour's own address (/32, /128), so that its session can come up. */
  public static final String ORIGIN_BGP_NEIGHBOR = "bgp-neighbor";

  /** Largest weight of one path. */
  public static final int MAX_WEIGHT = 255;

  /** Most paths of one route. */
  public static final int MAX_PATHS = 16;

  /**
   * One path of an ECMP route: neighbour {@code via} on port {@code port}, with a weight 1..255.
   */
  public record Path(String via, String port, int weight) {
    public Path {
      if (via == null || port == null) {
        throw new IllegalArgumentException("an ECMP path needs a neighbour and a port");
      }
      if (weight < 1 || weight > MAX_WEIGHT) {
        throw new IllegalArgumentException(
            "path weight " + weight + " is outside 1.." + MAX_WEIGHT + " (via " + via + ")");
      }
    }
  }

  public RouteSpec {
    paths = paths == null ? List.of() : List.copyOf(paths);
    if (origin == null || origin.isEmpty()) {
      origin = ORIGIN_STATIC;
    }
    if (!paths.isEmpty()) {
      if (paths.size() < 2 || paths.size() > MAX_PATHS) {
        throw new IllegalArgumentException(
            "route "
                + prefix
                + ": an ECMP route has 2.."
                + MAX_PATHS
                + " paths, not "
                + paths.size()
                + " (one path is a plain route)");
      }
      if (via != null || port != null) {
        throw new IllegalArgumentException(
            "route " + prefix + ": an ECMP route gives its neighbours in paths, not in via/port");
      }
      if (paths.stream().map(Path::via).distinct().count() != paths.size()) {
        throw new IllegalArgumentException(
            "route " + prefix + ": the same neighbour appears twice in its paths " + paths);
      }
    }
  }

  /** A single-path route of origin {@link #ORIGIN_STATIC}. */
  public RouteSpec(String prefix, String via, String port) {
    this(prefix, via, port, List.of(), ORIGIN_STATIC);
  }

  /** A single-path route. */
  public RouteSpec(String prefix, String via, String port, String origin) {
    this(prefix, via, port, List.of(), origin);
  }

  /** An ECMP route over {@code paths}, or a plain route when there is only one. */
  public static RouteSpec multipath(String prefix, List<Path> paths, String origin) {
    if (paths.size() == 1) {
      Path only = paths.get(0);
      return new RouteSpec(prefix, only.via(), only.port(), List.of(), origin);
    }
    return new RouteSpec(prefix, null, null, paths, origin);
  }

  /** Whether the workers spread this route's flows over several paths. */
  public boolean isMultipath() {
    return !paths.isEmpty();
  }

  /** This route's paths: its {@link #paths}, or its one via/port with weight 1. */
  public List<Path> effectivePaths() {
    if (isMultipath()) {
      return paths;
    }
    return via == null ? List.of() : List.of(new Path(via, port, 1));
  }

  @Override
  public Resource resource() {
    return Resource.ROUTE;
  }

  @Override
  public String key() {
    return prefix;
  }
}
