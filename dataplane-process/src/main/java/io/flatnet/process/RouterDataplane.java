package io.flatnet.process;

import io.flatnet.control.DataplaneApi;
import io.flatnet.control.PodKinds;
import io.flatnet.control.PodSpec;
import io.flatnet.control.PolicySpec;
import io.flatnet.control.PortSpec;
import io.flatnet.control.RouteBatchException;
import io.flatnet.control.RouteChange;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.State;
import io.flatnet.dataplane.PortTable;
import io.flatnet.dataplane.Router;
import io.flatnet.dataplane.policy.PolicyTable;
import io.flatnet.dpdk.EthDev;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Prefix;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.NextHops;
import io.flatnet.vhost.VhostMode;
import io.flatnet.vhost.VhostPortSpec;
import io.flatnet.vhost.VhostPorts;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@link DataplaneApi} over a running {@link Router}, in the dataplane process; the agent
 * drives it through the command channel. Each call changes the router at once (ports and pods come
 * and go while the workers forward; a route is one FIB update); {@link #commit} records the
 * generation. What it installed is kept here, so {@link #installed()} tells the truth after a
 * failed plan.
 *
 * <p>Addresses the router owns: the pods' gateways (it answers ARP/NDP and echo for them), and the
 * node's uplink addresses (answered on the uplink; delivered to the host port if there is one, else
 * answered by the router itself). A route via a neighbour also routes the neighbour's own address
 * (/32 or /128) via itself, so a remote node's IP is reachable, not only its pods.
 *
 * <p>Pods of kind {@code bridge} (netns pods on the shared pod bridge {@value PodKinds#POD_BRIDGE})
 * have no port of their own: the first one makes the router's one af_packet port on the segment
 * ({@value PodKinds#SEGMENT_PORT}, pod role, the gateways as its addresses; the agent makes the
 * bridge and its veth pair before it adds the first bridge pod), and each routes its addresses to
 * that port, to its MAC. Pod-to-pod traffic on the node then leaves by the port it came in on. The
 * port stays when the last bridge pod goes (no hot-plug churn); it goes with the router.
 */
public final class RouterDataplane implements DataplaneApi {
  private final Router router;
  private final int workers;
  private final Map<String, PortSpec> ports = new LinkedHashMap<>();
  private final Map<String, Integer> portIds = new HashMap<>();
  private final Map<String, PodSpec> pods = new LinkedHashMap<>();
  private final Map<String, RouteSpec> routes = new LinkedHashMap<>();
  private final Map<String, Integer> ownedAddresses = new HashMap<>();
  private final Map<String, Integer> neighborHostRoutes = new HashMap<>();
  private final Map<String, Integer> neighborHostPorts = new HashMap<>();
  private final Set<Object> routePrefixes = new HashSet<>(); // parsed prefixes of `routes`
  private final Map<String, PolicySpec> policies = new LinkedHashMap<>();
  private boolean policiesStaged;
  private final VhostPorts vhostPorts;
  private Integer segmentPort;
  private int devices;
  private long generation;

  /**
   * @param vhostPorts creates, checks and watches vhost-user pod ports (socket permissions, the
   *     state machine, {@code vhost-ports.json})
   */
  public RouterDataplane(Router router, int workers, VhostPorts vhostPorts) {
    this.router = router;
    this.workers = workers;
    this.vhostPorts = vhostPorts;
  }

  /** The router's port on the shared pod bridge, if a bridge pod made it. */
  public synchronized Integer segmentPort() {
    return segmentPort;
  }

  @Override
  public synchronized State installed() {
    return State.of(generation, ports.values(), pods.values(), routes.values(), policies.values());
  }

  /**
   * Stages a pod's compiled policy; it is published (one new table, all pods at once) at the next
   * {@link #commit} or before the next {@link #addPod}, whichever comes first. A bad spec (or one
   * whose addresses another pod's spec claims) is refused and nothing changes.
   */
  private boolean compilerWarm;

  @Override
  public synchronized void setPolicy(PolicySpec policy) {
    PolicyTable.validate(policy); // addresses are canonical from here: text compares
    for (PolicySpec other : policies.values()) {
      if (!other.pod().equals(policy.pod())) {
        for (String address : policy.addresses()) {
          if (other.addresses().contains(address)) {
            throw new IllegalArgumentException(
                "policy of pod "
                    + policy.pod()
                    + ": address "
                    + address
                    + " is also pod "
                    + other.pod()
                    + "'s");
          }
        }
      }
    }
    if (!policy.equals(policies.put(policy.pod(), policy))) {
      policiesStaged = true;
    }
  }

  @Override
  public synchronized void removePolicy(String pod) {
    if (policies.remove(pod) != null) {
      policiesStaged = true;
    }
  }

  /** Publishes the staged policies, if any changed, as one new table. */
  private void publishPolicies() {
    if (policiesStaged) {
      router.setPolicies(policies.values());
      policiesStaged = false;
      if (!policies.isEmpty() && !compilerWarm) {
        // The next publishes then take a few ms, not tens of interpreted ones, on the control CPUs.
        compilerWarm = true;
        Thread.ofPlatform()
            .daemon()
            .name("flatnet-policy-warm-up")
            .start(() -> PolicyTable.warmUpUntilQuiet(PolicyTable.WARM_UP_LIMIT_NANOS));
      }
    }
  }

  @Override
  public synchronized void addPort(PortSpec port) {
    int role = "host".equals(port.role()) ? PortTable.ROLE_HOST : PortTable.ROLE_UPLINK;
    Router.PortSpec spec =
        withAddresses(
            new Router.PortSpec(port.name(), port.device(), role, port.mtu(), 0, 0, 0)
                .withGuards(PortTable.GUARD_DESTINATION_MAC),
            port.addresses());
    portIds.put(port.name(), router.addPort(spec));
    ports.put(port.name(), port);
    if (role == PortTable.ROLE_UPLINK) {
      for (String address : port.addresses()) {
        own(hostPrefix(address.substring(0, address.indexOf('/'))), true);
      }
    } else {
      rehomeNodeAddresses();
    }
  }

  /** The node's own addresses go to the host port when there is one, else to the router. */
  private void rehomeNodeAddresses() {
    for (PortSpec uplink : ports.values()) {
      if ("uplink".equals(uplink.role())) {
        for (String address : uplink.addresses()) {
          Object prefix = hostPrefix(address.substring(0, address.indexOf('/')));
          if (ownedAddresses.containsKey(prefix.toString())) {
            removePrefix(prefix);
            home(prefix, true);
          }
        }
      }
    }
  }

  @Override
  public synchronized void removePort(String name) {
    PortSpec port = ports.remove(name);
    if (port == null) {
      return;
    }
    if ("uplink".equals(port.role())) {
      for (String address : port.addresses()) {
        disown(hostPrefix(address.substring(0, address.indexOf('/'))));
      }
    }
    router.removePort(portIds.remove(name));
    if ("host".equals(port.role())) {
      rehomeNodeAddresses();
    }
  }

  @Override
  public synchronized void addPod(PodSpec pod) {
    publishPolicies(); // a new pod never forwards before the policy planned for it
    if (PodKinds.BRIDGE.equals(pod.kind())) {
      int port = segmentPort(pod.gateways());
      pods.put(pod.name(), pod);
      routePod(pod, port);
      return;
    }
    List<String> gatewayPrefixes = new ArrayList<>();
    for (String gateway : pod.gateways()) {
      gatewayPrefixes.add(gateway + (gateway.contains(":") ? "/128" : "/32"));
    }
    if (PodKinds.VHOST_USER.equals(pod.kind())) {
      VhostMode mode = "client".equals(pod.mode()) ? VhostMode.CLIENT : VhostMode.SERVER;
      int port =
          vhostPorts.add(
              new VhostPortSpec(pod.name(), Path.of(pod.socket()), mode, workers),
              spec -> withAddresses(spec.withGuards(PortTable.GUARD_ALL), gatewayPrefixes));
      portIds.put(pod.name(), port);
      pods.put(pod.name(), pod);
      routePod(pod, port);
      return;
    }
    String devargs =
        switch (pod.kind()) {
          case "af_packet" ->
              "net_af_packet_fn" + (devices++) + ",iface=" + pod.iface() + ",qpairs=" + workers;
          case "tap" -> "net_tap_fn" + (devices++) + ",iface=" + pod.iface();
          default ->
              throw new IllegalArgumentException(
                  "pod " + pod.name() + ": unknown kind " + pod.kind());
        };
    Router.PortSpec spec =
        withAddresses(
            new Router.PortSpec(pod.name(), devargs, PortTable.ROLE_POD, 1500, 0, 0, 0)
                .withGuards(PortTable.GUARD_ALL),
            gatewayPrefixes);
    int port = router.addPort(spec);
    portIds.put(pod.name(), port);
    pods.put(pod.name(), pod);
    routePod(pod, port);
  }

  /** Owns the pod's gateways and routes its addresses to {@code port} (to its MAC if known). */
  private void routePod(PodSpec pod, int port) {
    for (String gateway : pod.gateways()) {
      own(hostPrefix(gateway), false);
    }
    long mac = pod.mac() == null ? -1 : parseMac(pod.mac());
    for (String ip : pod.ips()) {
      Object prefix = hostPrefix(ip);
      if (mac >= 0) {
        routeDirect(prefix, port, mac);
      } else {
        routeVia(prefix, port, ip);
      }
    }
  }

  @Override
  public synchronized void removePod(String name) {
    PodSpec pod = pods.remove(name);
    if (pod == null) {
      return;
    }
    for (String ip : pod.ips()) {
      removePrefix(hostPrefix(ip));
    }
    for (String gateway : pod.gateways()) {
      disown(hostPrefix(gateway));
    }
    if (PodKinds.VHOST_USER.equals(pod.kind())) {
      portIds.remove(name);
      vhostPorts.remove(name);
    } else if (!PodKinds.BRIDGE.equals(pod.kind())) {
      router.removePort(portIds.remove(name));
    }
  }

  /**
   * The router's port on the pod bridge; the first call adds it (af_packet on {@value
   * PodKinds#SEGMENT_ROUTER_END}, the veth end the agent made), with the gateways as its addresses.
   */
  private int segmentPort(List<String> gateways) {
    if (segmentPort != null) {
      return segmentPort;
    }
    List<String> gatewayPrefixes = new ArrayList<>();
    for (String gateway : gateways) {
      gatewayPrefixes.add(gateway + (gateway.contains(":") ? "/128" : "/32"));
    }
    String devargs =
        "net_af_packet_fn"
            + (devices++)
            + ",iface="
            + PodKinds.SEGMENT_ROUTER_END
            + ",qpairs="
            + workers;
    segmentPort =
        router.addPort(
            withAddresses(
                new Router.PortSpec(
                        PodKinds.SEGMENT_PORT, devargs, PortTable.ROLE_POD, 1500, 0, 0, 0)
                    .withGuards(PortTable.GUARD_ALL),
                gatewayPrefixes));
    return segmentPort;
  }

  /**
   * What is wrong with an installed pod in the live router: its port is gone or down (kernel
   * interfaces only: a vhost-user port is down until its peer comes), an address is not routed to
   * that port, or not to the pod's MAC.
   */
  @Override
  public synchronized List<String> podProblems(String name) {
    PodSpec pod = pods.get(name);
    if (pod == null) {
      return List.of("not installed in the dataplane");
    }
    List<String> problems = new ArrayList<>();
    boolean bridged = PodKinds.BRIDGE.equals(pod.kind());
    Integer port = bridged ? segmentPort : portIds.get(name);
    String portName = bridged ? PodKinds.SEGMENT_PORT : name;
    if (port == null || !router.ports().contains(port)) {
      return List.of("the router has no port " + portName);
    }
    if (!PodKinds.VHOST_USER.equals(pod.kind()) && !EthDev.link(port).up()) {
      problems.add(
          "port "
              + portName
              + " is down (its interface "
              + (bridged ? PodKinds.SEGMENT_ROUTER_END : pod.iface())
              + " has no carrier)");
    }
    Map<Object, Integer> routes = router.routes();
    NextHopTable hops = router.nextHops();
    for (String ip : pod.ips()) {
      Object prefix = hostPrefix(ip);
      Integer nh = routes.get(prefix);
      if (nh == null) {
        problems.add(prefix + " is not routed");
        continue;
      }
      int kind = hops.kind(nh);
      if (kind != NextHops.KIND_FORWARD && kind != NextHops.KIND_RESOLVE) {
        problems.add(prefix + " is not routed to a port (next hop kind " + kind + ")");
      } else if (hops.port(nh) != port) {
        problems.add(prefix + " is routed out of port #" + hops.port(nh) + ", not " + portName);
      } else if (pod.mac() != null
          && (kind != NextHops.KIND_FORWARD || hops.dstMac(nh) != parseMac(pod.mac()))) {
        problems.add(prefix + " is not routed to the pod's MAC " + pod.mac());
      }
    }
    return problems;
  }

  /**
   * Installs a route: one neighbour (a FIB entry to it) or, for an ECMP route, a next-hop group
   * over its paths. A route for a prefix that is installed already replaces it ({@link
   * #replaceRoute}).
   */
  @Override
  public synchronized void addRoute(RouteSpec route) {
    RouteSpec installed = routes.get(route.prefix());
    if (installed != null) {
      replaceRoute(installed, route);
      return;
    }
    Object prefix = parsePrefix(route.prefix());
    List<Hop> hops = hops(route, prefix);
    install(prefix, hops);
    touch(prefix);
    routePrefixes.add(prefix);
    try {
      addHostRoutes(prefix, hops);
    } catch (RuntimeException e) { // a full table: the route goes again, nothing changed
      removePrefix(prefix);
      routePrefixes.remove(prefix);
      restoreHostRoute(prefix);
      throw e;
    }
    touch(route.prefix());
    routes.put(route.prefix(), route);
  }

  /**
   * Replaces the route for {@code after}'s prefix without a window where the prefix has no route:
   * an ECMP route that stays ECMP keeps its group, changed in place (paths added, removed or
   * reweighted; flows of the paths that stay do not move, nothing is lost on them, the FIB is not
   * touched); any other change is one FIB update. Neighbour host routes follow (new ones first).
   */
  @Override
  public synchronized void replaceRoute(RouteSpec before, RouteSpec after) {
    RouteSpec installed = routes.get(after.prefix());
    if (installed == null) {
      addRoute(after);
      return;
    }
    Object prefix = parsePrefix(after.prefix());
    List<Hop> hops = hops(after, prefix); // validates before anything changes
    List<Hop> old = hops(installed, prefix);
    install(prefix, hops);
    try {
      addHostRoutes(prefix, hops);
    } catch (RuntimeException e) { // a full table: the installed route comes back
      install(prefix, old);
      throw e;
    }
    removeHostRoutes(prefix, old);
    touch(after.prefix());
    routes.put(after.prefix(), after);
  }

  @Override
  public synchronized void removeRoute(RouteSpec route) {
    touch(route.prefix());
    RouteSpec installed = routes.remove(route.prefix());
    if (installed == null) {
      return;
    }
    Object prefix = parsePrefix(installed.prefix());
    removePrefix(prefix);
    touch(prefix);
    routePrefixes.remove(prefix);
    removeHostRoutes(prefix, hops(installed, prefix));
    restoreHostRoute(prefix);
  }

  /**
   * Applies a batch of route changes atomically, as {@link #installed()} reports it: every change
   * is checked first (its prefix, its ports and neighbours); then they are applied in order, and if
   * one fails (a full table), those before it are undone, so the batch is applied whole or not at
   * all. Commits {@code nextGeneration} with it unless it is negative. The command thread applies
   * the whole batch before it reads the next command, so no query sees half of it.
   *
   * @throws RouteBatchException naming the change that was refused or failed
   */
  @Override
  public synchronized void applyRoutes(List<RouteChange> changes, long nextGeneration) {
    if (nextGeneration >= 0 && nextGeneration < generation) {
      throw new RouteBatchException(
          -1,
          true,
          "generation " + nextGeneration + " is older than installed " + generation,
          null);
    }
    for (int i = 0; i < changes.size(); i++) {
      RouteChange c = changes.get(i);
      try {
        Object prefix = parsePrefix(c.route().prefix());
        if (c.kind() != RouteChange.Kind.REMOVE) {
          hops(c.route(), prefix);
        }
      } catch (RuntimeException e) {
        throw RouteBatchException.at(i, c, e);
      }
    }
    if (changes.size() > 1 && changes.stream().noneMatch(c -> c.route().isMultipath())) {
      // The fast way: one FIB commit for the whole batch. If it fails, nothing of it was published
      // and this object's maps go back; the one-at-a-time way below then finds which change fails.
      journal = new Journal();
      try {
        router.routeBatch(
            () -> {
              for (RouteChange c : changes) {
                c.applyTo(this);
              }
            });
        journal = null;
        if (nextGeneration >= 0) {
          commit(nextGeneration);
        }
        return;
      } catch (RuntimeException e) {
        journal.restore();
        journal = null;
      }
    }
    List<RouteSpec> before = new ArrayList<>(changes.size());
    int applied = 0;
    try {
      for (; applied < changes.size(); applied++) {
        RouteChange c = changes.get(applied);
        before.add(routes.get(c.route().prefix()));
        c.applyTo(this);
      }
    } catch (RuntimeException e) {
      String undone = undo(changes, before, applied);
      RouteBatchException failed = RouteBatchException.at(applied, changes.get(applied), e);
      throw new RouteBatchException(
          failed.index(), failed.refused(), failed.getMessage() + "; " + undone, e);
    }
    if (nextGeneration >= 0) {
      commit(nextGeneration);
    }
  }

  /**
   * What a route batch changed in this object's route maps: each key's value before it, to put back
   * if the batch is not published.
   */
  private final class Journal {
    private final Map<Object, RouteSpec> routesBefore = new HashMap<>();
    private final Map<Object, Boolean> prefixesBefore = new HashMap<>();
    private final Map<String, Integer> countsBefore = new HashMap<>();
    private final Map<String, Integer> portsBefore = new HashMap<>();

    void restore() {
      routesBefore.forEach(
          (k, v) -> {
            if (v == null) {
              routes.remove((String) k);
            } else {
              routes.put((String) k, v);
            }
          });
      prefixesBefore.forEach(
          (k, v) -> {
            if (v) {
              routePrefixes.add(k);
            } else {
              routePrefixes.remove(k);
            }
          });
      restoreMap(countsBefore, neighborHostRoutes);
      restoreMap(portsBefore, neighborHostPorts);
    }

    private static void restoreMap(Map<String, Integer> saved, Map<String, Integer> map) {
      saved.forEach(
          (k, v) -> {
            if (v == null) {
              map.remove(k);
            } else {
              map.put(k, v);
            }
          });
    }
  }

  /** The open batch's journal, or null. */
  private Journal journal;

  /** A route batch is about to change route {@code key} (prefix text) or parsed prefix. */
  private void touch(Object key) {
    if (journal != null) {
      if (key instanceof String text) {
        if (!journal.routesBefore.containsKey(text)) {
          journal.routesBefore.put(text, routes.get(text));
        }
      } else if (!journal.prefixesBefore.containsKey(key)) {
        journal.prefixesBefore.put(key, routePrefixes.contains(key));
      }
    }
  }

  /** A route batch is about to change neighbour {@code via}'s host-route count. */
  private void touchNeighbor(String via) {
    if (journal != null && !journal.countsBefore.containsKey(via)) {
      journal.countsBefore.put(via, neighborHostRoutes.get(via));
      journal.portsBefore.put(via, neighborHostPorts.get(via));
    }
  }

  /**
   * Puts back what the first {@code applied} changes replaced, last first (removing what a change
   * added, re-adding what it removed or replaced); says how that went.
   */
  private String undo(List<RouteChange> changes, List<RouteSpec> before, int applied) {
    try {
      for (int j = before.size() - 1; j >= 0; j--) { // the failed change too, if it did a part
        String prefix = changes.get(j).route().prefix();
        RouteSpec was = before.get(j);
        RouteSpec now = routes.get(prefix);
        if (was == null) {
          if (now != null) {
            removeRoute(now);
          }
        } else if (!was.equals(now)) {
          addRoute(was); // replaces whatever the prefix has now
        }
      }
      return "the batch's " + applied + " changes before it were undone";
    } catch (RuntimeException e) {
      return "undoing the batch's "
          + applied
          + " changes before it failed too ("
          + e.getMessage()
          + "): installed() tells what the dataplane holds";
    }
  }

  /**
   * A route given for a neighbour's own address (/32, /128) was removed while other routes still go
   * through that neighbour: its host route comes back.
   */
  private void restoreHostRoute(Object prefix) {
    String key = prefix.toString();
    String via = key.substring(0, key.indexOf('/'));
    Integer port = neighborHostPorts.get(via);
    if (port != null && hostPrefix(via).equals(prefix)) {
      routeVia(prefix, port, via);
    }
  }

  /** The route spec installed for {@code prefix} (canonical text), or null. */
  public synchronized RouteSpec route(String prefix) {
    return routes.get(prefix);
  }

  /** One path of a route: a neighbour address on a router port, with its weight. */
  private record Hop(String via, int port, int weight) {}

  /** A route's paths, checked: each port exists and each neighbour is of the prefix's family. */
  private List<Hop> hops(RouteSpec route, Object prefix) {
    boolean v6 = prefix instanceof Ipv6Prefix;
    List<Hop> hops = new ArrayList<>();
    if (!route.isMultipath()) {
      Integer port = portIds.get(route.port());
      if (port == null) {
        throw new IllegalArgumentException("route " + route.prefix() + ": no port " + route.port());
      }
      String via = route.via();
      if (via == null) {
        if (!isHostPrefix(prefix)) {
          throw new IllegalArgumentException(
              "route "
                  + route.prefix()
                  + ": an on-link route needs a next hop (via) unless it is a"
                  + " host route");
        }
        via = route.prefix().substring(0, route.prefix().indexOf('/'));
      }
      checkVia(route, via, v6);
      hops.add(new Hop(via, port, 1));
      return hops;
    }
    for (RouteSpec.Path path : route.paths()) {
      Integer port = portIds.get(path.port());
      if (port == null) {
        throw new IllegalArgumentException(
            "route "
                + route.prefix()
                + ": path via "
                + path.via()
                + ": no port "
                + path.port()
                + " (ports: "
                + portIds.keySet()
                + ")");
      }
      checkVia(route, path.via(), v6);
      hops.add(new Hop(path.via(), port, path.weight()));
    }
    return hops;
  }

  private static void checkVia(RouteSpec route, String via, boolean v6) {
    if (via.contains(":") != v6) {
      throw new IllegalArgumentException(
          "route "
              + route.prefix()
              + ": next hop "
              + via
              + " is not an IPv"
              + (v6 ? "6" : "4")
              + " address");
    }
    try {
      hostPrefix(via);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "route " + route.prefix() + ": next hop " + via + ": " + e.getMessage());
    }
  }

  /** One neighbour: a FIB entry to it; several: a group (changed in place if there is one). */
  private void install(Object prefix, List<Hop> hops) {
    if (hops.size() == 1) {
      routeVia(prefix, hops.get(0).port(), hops.get(0).via());
      return;
    }
    int n = hops.size();
    int[] ports = new int[n];
    int[] weights = new int[n];
    for (int i = 0; i < n; i++) {
      ports[i] = hops.get(i).port();
      weights[i] = hops.get(i).weight();
    }
    if (prefix instanceof Ipv4Prefix v4) {
      int[] neighbors = new int[n];
      for (int i = 0; i < n; i++) {
        neighbors[i] = Ipv4Prefix.parseAddress(hops.get(i).via());
      }
      router.routeMultipath(v4, ports, neighbors, weights);
    } else {
      long[] hi = new long[n];
      long[] lo = new long[n];
      for (int i = 0; i < n; i++) {
        long[] address = Ipv6Prefix.parseAddress(hops.get(i).via());
        hi[i] = address[0];
        lo[i] = address[1];
      }
      router.routeMultipath((Ipv6Prefix) prefix, ports, hi, lo, weights);
    }
  }

  /**
   * Each neighbour's own address (/32, /128) is routed via itself, counted over the routes through
   * it; a node address as the next hop (service CIDRs to the kernel) already has its own route.
   */
  private void addHostRoutes(Object prefix, List<Hop> hops) {
    for (int k = 0; k < hops.size(); k++) {
      try {
        addHostRoute(prefix, hops.get(k));
      } catch (RuntimeException e) { // a full table: those added go again
        removeHostRoutes(prefix, hops.subList(0, k + 1));
        throw e;
      }
    }
  }

  private void addHostRoute(Object prefix, Hop hop) {
    Object viaPrefix = hostPrefix(hop.via());
    touchNeighbor(hop.via());
    if (!viaPrefix.equals(prefix)
        && !ownedAddresses.containsKey(viaPrefix.toString())
        && neighborHostRoutes.merge(hop.via(), 1, Integer::sum) == 1) {
      neighborHostPorts.put(hop.via(), hop.port());
      if (!routePrefixes.contains(viaPrefix)) { // a route given for the address itself wins
        routeVia(viaPrefix, hop.port(), hop.via());
      }
    }
  }

  private void removeHostRoutes(Object prefix, List<Hop> hops) {
    for (Hop hop : hops) {
      String via = hop.via();
      touchNeighbor(via);
      if (!hostPrefix(via).equals(prefix)
          && neighborHostRoutes.containsKey(via)
          && neighborHostRoutes.merge(via, -1, Integer::sum) == 0) {
        neighborHostRoutes.remove(via);
        neighborHostPorts.remove(via);
        if (!routePrefixes.contains(hostPrefix(via))) { // not the route given for the address
          removePrefix(hostPrefix(via));
        }
      }
    }
  }

  @Override
  public synchronized void commit(long nextGeneration) {
    if (nextGeneration < generation) {
      throw new IllegalArgumentException(
          "generation " + nextGeneration + " is older than installed " + generation);
    }
    publishPolicies();
    generation = nextGeneration;
  }

  /** The router routes (or answers for) an address it owns; counted, as pods share gateways. */
  private void own(Object hostPrefix, boolean toHost) {
    String key = hostPrefix.toString();
    if (ownedAddresses.merge(key, 1, Integer::sum) > 1) {
      return;
    }
    home(hostPrefix, toHost);
  }

  private void home(Object hostPrefix, boolean toHost) {
    String key = hostPrefix.toString();
    Integer hostPort = hostPort();
    if (toHost && hostPort != null) {
      routeVia(hostPrefix, hostPort, key.substring(0, key.indexOf('/')));
    } else if (hostPrefix instanceof Ipv4Prefix v4) {
      router.addLocalAddress(v4);
    } else {
      router.addLocalAddress((Ipv6Prefix) hostPrefix);
    }
  }

  private void disown(Object hostPrefix) {
    String key = hostPrefix.toString();
    if (ownedAddresses.merge(key, -1, Integer::sum) <= 0) {
      ownedAddresses.remove(key);
      removePrefix(hostPrefix);
    }
  }

  private Integer hostPort() {
    for (PortSpec port : ports.values()) {
      if ("host".equals(port.role())) {
        return portIds.get(port.name());
      }
    }
    return null;
  }

  private void routeVia(Object prefix, int port, String neighbor) {
    if (prefix instanceof Ipv4Prefix v4) {
      router.routeVia(v4, port, Ipv4Prefix.parseAddress(neighbor));
    } else {
      long[] address = Ipv6Prefix.parseAddress(neighbor);
      router.routeVia((Ipv6Prefix) prefix, port, address[0], address[1]);
    }
  }

  private void routeDirect(Object prefix, int port, long mac) {
    if (prefix instanceof Ipv4Prefix v4) {
      router.routeDirect(v4, port, mac);
    } else {
      router.routeDirect((Ipv6Prefix) prefix, port, mac);
    }
  }

  private void removePrefix(Object prefix) {
    if (prefix instanceof Ipv4Prefix v4) {
      router.removeRoute(v4);
    } else {
      router.removeRoute((Ipv6Prefix) prefix);
    }
  }

  /** Sets the router's IPv4 and IPv6 address on a port from "address/length" strings. */
  private static Router.PortSpec withAddresses(Router.PortSpec spec, List<String> addresses) {
    Router.PortSpec result = spec;
    for (String address : addresses) {
      String ip = address.substring(0, address.indexOf('/'));
      if (ip.contains(":")) {
        long[] v6 = Ipv6Prefix.parseAddress(ip);
        result = result.withIpv6(v6[0], v6[1]);
      } else {
        result = result.withIpv4(Ipv4Prefix.parseAddress(ip));
      }
    }
    return result;
  }

  private static Object hostPrefix(String ip) {
    return ip.contains(":") ? Ipv6Prefix.parse(ip + "/128") : Ipv4Prefix.parse(ip + "/32");
  }

  private static Object parsePrefix(String prefix) {
    return prefix.contains(":") ? Ipv6Prefix.parse(prefix) : Ipv4Prefix.parse(prefix);
  }

  private static boolean isHostPrefix(Object prefix) {
    return prefix instanceof Ipv4Prefix v4
        ? v4.length() == 32
        : ((Ipv6Prefix) prefix).length() == 128;
  }

  private static long parseMac(String mac) {
    long value = 0;
    for (String part : mac.split(":")) {
      value = value << 8 | Integer.parseInt(part, 16);
    }
    return value;
  }
}
