package io.flatnet.process;

import io.flatnet.control.CaptureFile;
import io.flatnet.control.CaptureFilter;
import io.flatnet.control.CommandServer;
import io.flatnet.control.JsonText;
import io.flatnet.control.PodKinds;
import io.flatnet.control.PodSpec;
import io.flatnet.control.PolicySpec;
import io.flatnet.control.QueryNames;
import io.flatnet.control.RouteSpec;
import io.flatnet.dataplane.DropReason;
import io.flatnet.dataplane.PortTable;
import io.flatnet.dataplane.Router;
import io.flatnet.dataplane.capture.CaptureSpec;
import io.flatnet.dataplane.neighbor.NeighborView;
import io.flatnet.dataplane.packet.AddressChecks;
import io.flatnet.dataplane.policy.PolicyTable;
import io.flatnet.dpdk.EthDev;
import io.flatnet.route.FlowHash;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Prefix;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.NextHops;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The dataplane's answers to {@code ctl} queries, from the live router: ports, pods, routes,
 * neighbours, and a trace of one forwarding decision taken with the workers' own checks. The agent
 * asks over the command channel and passes the JSON on to {@code ctl}.
 */
public final class RouterQueries implements CommandServer.Queries {
  private final Router router;
  private final RouterDataplane dataplane;
  private final VhostStates vhost;

  /** The vhost-user ports' states by pod name (the port monitor's), for {@code show pods}. */
  public interface VhostStates {
    Map<String, String> states();
  }

  public RouterQueries(Router router, RouterDataplane dataplane, VhostStates vhost) {
    this.router = router;
    this.dataplane = dataplane;
    this.vhost = vhost;
  }

  /**
   * A pod's state: for vhost-user, the monitor's state if the status file has it, else from the
   * ethdev link (up: running; down: waiting-for-peer, i.e. no peer or not ready yet); for kernel
   * interfaces, the link of its port (a bridge pod: the segment port's).
   */
  private static String podState(PodSpec pod, Integer port, Map<String, String> vhost) {
    boolean isVhost = PodKinds.VHOST_USER.equals(pod.kind());
    if (isVhost && vhost.containsKey(pod.name())) {
      return vhost.get(pod.name());
    }
    if (port == null) {
      return "no-port";
    }
    boolean up = EthDev.link(port).up();
    if (isVhost) {
      return up ? "running" : "waiting-for-peer";
    }
    return up ? "up" : "down";
  }

  @Override
  public String answer(String op, Map<String, String> args) {
    return switch (op) {
      case QueryNames.SHOW_PORTS -> ports().toString();
      case QueryNames.SHOW_PODS -> pods().toString();
      case QueryNames.SHOW_ROUTES -> routes().toString();
      case QueryNames.SHOW_NEIGHBORS -> neighbors().toString();
      case QueryNames.TRACE ->
          trace(
                  args.get("src"),
                  args.get("dst"),
                  args.get("inPort"),
                  args.get("proto"),
                  args.get("sport"),
                  args.get("dport"))
              .toString();
      case QueryNames.SHOW_POLICIES -> policies().toString();
      case QueryNames.CAPTURE_START -> captureStart(args).toString();
      case QueryNames.CAPTURE_STOP -> captureStop(args).toString();
      default -> throw new IllegalArgumentException("unknown query " + op);
    };
  }

  private static JsonText.Obj object() {
    return JsonText.object();
  }

  private static JsonText.Arr array() {
    return JsonText.array();
  }

  private Map<Integer, String> portNames() {
    List<Integer> ids = router.ports();
    List<String> names = router.portNames();
    Map<Integer, String> m = new HashMap<>();
    for (int i = 0; i < Math.min(ids.size(), names.size()); i++) {
      m.put(ids.get(i), names.get(i));
    }
    return m;
  }

  private int portId(String name) {
    for (Map.Entry<Integer, String> e : portNames().entrySet()) {
      if (e.getValue().equals(name)) {
        return e.getKey();
      }
    }
    throw new IllegalArgumentException(
        "no port " + name + " (ports: " + portNames().values() + ")");
  }

  static String role(int role) {
    return switch (role) {
      case PortTable.ROLE_POD -> "pod";
      case PortTable.ROLE_UPLINK -> "uplink";
      case PortTable.ROLE_HOST -> "host";
      default -> "none";
    };
  }

  static String mac(long mac) {
    StringBuilder b = new StringBuilder();
    for (int shift = 40; shift >= 0; shift -= 8) {
      if (b.length() > 0) {
        b.append(':');
      }
      b.append(String.format(Locale.ROOT, "%02x", (mac >>> shift) & 0xFF));
    }
    return b.toString();
  }

  JsonText.Arr ports() {
    PortTable table = router.portTable();
    JsonText.Arr out = array();
    for (Map.Entry<Integer, String> e : new TreeMap<>(portNames()).entrySet()) {
      int id = e.getKey();
      JsonText.Obj p = out.addObject();
      p.put("id", id);
      p.put("name", e.getValue());
      p.put("role", role(table.role(id)));
      p.put("mac", mac(table.mac(id)));
      p.put("mtu", table.mtu(id));
      if (table.ipv4(id) != 0) {
        p.put("ipv4", Ipv4Prefix.format(table.ipv4(id)));
      }
      if ((table.ipv6Hi(id) | table.ipv6Lo(id)) != 0) {
        p.put("ipv6", Ipv6Prefix.format(table.ipv6Hi(id), table.ipv6Lo(id)));
      }
    }
    return out;
  }

  JsonText.Arr pods() {
    Map<String, Integer> ids = new HashMap<>();
    portNames().forEach((id, name) -> ids.put(name, id));
    JsonText.Arr out = array();
    Integer segment = dataplane.segmentPort();
    Map<String, String> vhostStates = vhost.states();
    for (PodSpec pod : dataplane.installed().pods().values()) {
      JsonText.Obj p = out.addObject();
      p.put("name", pod.name());
      p.put("kind", pod.kind());
      boolean bridged = PodKinds.BRIDGE.equals(pod.kind());
      Integer id = bridged ? segment : ids.get(pod.name());
      if (id != null) {
        p.put("port", id);
        p.put("portName", bridged ? names(id) : pod.name());
      }
      p.put("state", podState(pod, id, vhostStates));
      p.put(
          "attach",
          pod.socket() != null
              ? pod.socket()
              : bridged ? pod.iface() + "@" + PodKinds.POD_BRIDGE : pod.iface());
      JsonText.Arr ips = p.putArray("ips");
      pod.ips().forEach(ips::add);
      if (pod.mac() != null) {
        p.put("mac", pod.mac());
      }
    }
    return out;
  }

  private String names(int id) {
    return portNames().getOrDefault(id, "#" + id);
  }

  /** The route spec behind an installed prefix, or null (pods, addresses, neighbours). */
  private RouteSpec spec(Object prefix) {
    return dataplane == null ? null : dataplane.route(prefix.toString());
  }

  /** Installed prefixes, IPv4 first, each by address then length. */
  private List<Map.Entry<Object, Integer>> sortedRoutes() {
    List<Map.Entry<Object, Integer>> routes = new ArrayList<>(router.routes().entrySet());
    routes.sort(
        Comparator.comparing((Map.Entry<Object, Integer> e) -> e.getKey() instanceof Ipv6Prefix)
            .thenComparing(e -> sortKey(e.getKey())));
    return routes;
  }

  private static String sortKey(Object prefix) {
    if (prefix instanceof Ipv4Prefix v4) {
      return String.format(Locale.ROOT, "%08x/%03d", v4.address(), v4.length());
    }
    Ipv6Prefix v6 = (Ipv6Prefix) prefix;
    return String.format(Locale.ROOT, "%016x%016x/%03d", v6.hi(), v6.lo(), v6.length());
  }

  JsonText.Arr routes() {
    JsonText.Arr out = array();
    Map<Integer, String> names = portNames();
    for (Map.Entry<Object, Integer> e : sortedRoutes()) {
      JsonText.Obj r = out.addObject();
      r.put("prefix", e.getKey().toString());
      RouteSpec spec = spec(e.getKey());
      r.put("origin", spec != null ? spec.origin() : "connected");
      describeNextHop(r, e.getValue(), names);
    }
    return out;
  }

  JsonText.Arr neighbors() {
    NextHopTable hops = router.nextHops();
    Map<Integer, String> names = portNames();
    Map<Integer, List<String>> prefixes = new TreeMap<>();
    for (Map.Entry<Object, Integer> e : sortedRoutes()) {
      int[] members = hops.groupMembers(e.getValue()); // an ECMP route: each path's neighbour
      for (int nh : members != null ? members : new int[] {e.getValue()}) {
        if (hops.neighbourFamily(nh) != 0) {
          prefixes.computeIfAbsent(nh, k -> new ArrayList<>()).add(e.getKey().toString());
        }
      }
    }
    JsonText.Arr out = array();
    for (Map.Entry<Integer, List<String>> e : prefixes.entrySet()) {
      JsonText.Obj n = out.addObject();
      describeNextHop(n, e.getKey(), names);
      JsonText.Arr routes = n.putArray("routes");
      e.getValue().forEach(routes::add);
    }
    return out;
  }

  /**
   * nextHop, kind, port, via (a neighbour), state, mac; for an ECMP group, its bucket count and
   * each path (the member's own description, its weight and buckets).
   */
  private void describeNextHop(JsonText.Obj r, int nh, Map<Integer, String> names) {
    NextHopTable hops = router.nextHops();
    int kind = hops.kind(nh);
    r.put("nextHop", nh);
    if (kind == NextHops.KIND_GROUP) {
      int[] members = hops.groupMembers(nh);
      int[] weights = hops.groupWeights(nh);
      int[] buckets = hops.groupBuckets(nh);
      if (members != null) { // else removed since the lookup
        r.put("kind", "ecmp");
        r.put("via", members.length + " paths");
        r.put("buckets", buckets.length);
        int[] counts = io.flatnet.route.GroupBuckets.counts(buckets, members);
        JsonText.Arr paths = r.putArray("paths");
        for (int m = 0; m < members.length; m++) {
          JsonText.Obj p = paths.addObject();
          describeNextHop(p, members[m], names);
          p.put("weight", weights[m]);
          p.put("buckets", counts[m]);
        }
        return;
      }
    }
    r.put(
        "kind",
        switch (kind) {
          case NextHops.KIND_FORWARD -> "forward";
          case NextHops.KIND_RESOLVE -> "resolve";
          case NextHops.KIND_LOCAL -> "local";
          case NextHops.KIND_DROP -> "drop";
          case NextHops.KIND_GROUP -> "ecmp";
          default -> "no-route";
        });
    if (kind == NextHops.KIND_FORWARD || kind == NextHops.KIND_RESOLVE) {
      int port = hops.port(nh);
      r.put("port", names.getOrDefault(port, "#" + port));
    }
    int family = hops.neighbourFamily(nh);
    if (family == 4) {
      r.put("via", Ipv4Prefix.format(hops.neighbourIpv4(nh)));
    } else if (family == 6) {
      r.put("via", Ipv6Prefix.format(hops.neighbourIpv6Hi(nh), hops.neighbourIpv6Lo(nh)));
    }
    if (family != 0) {
      NeighborView neighbor = neighborOf(nh, family);
      r.put("state", neighbor == null ? "incomplete" : neighbor.state());
      if (neighbor != null) {
        r.put("stateSeconds", neighbor.ageNanos() / 1_000_000_000L);
        r.put("failures", neighbor.failures());
      }
    }
    if (kind == NextHops.KIND_FORWARD) {
      r.put("mac", mac(hops.dstMac(nh)));
    }
  }

  /** Marks the trace as dropped for a martian address (the workers' own rule); true if so. */
  private static boolean martian(JsonText.Obj t, boolean isMartian, String reason, String address) {
    if (isMartian) {
      t.put("decision", "drop");
      t.put("drop", reason);
      t.put("reason", address + " is never routed (" + reason + ")");
    }
    return isMartian;
  }

  /**
   * On a source-guarded port, the workers' reverse-path check of the source (assuming the frame
   * comes from the MAC the source is routed to); marks the trace dropped and returns true if it
   * fails.
   */
  private boolean spoofed(JsonText.Obj t, String inPort, int sourceHop, String src) {
    if (inPort == null) {
      return false;
    }
    int in = portId(inPort);
    if ((router.portTable().guards(in) & PortTable.GUARD_SOURCE) == 0) {
      return false;
    }
    long entry = router.nextHops().entry(sourceHop);
    if (AddressChecks.sourceBelongs(entry, in, NextHopTable.dstMacOf(entry))) {
      return false;
    }
    t.put("decision", "drop");
    t.put("drop", "spoofed-source");
    t.put("reason", src + " does not route back to " + inPort + ": not that pod's address");
    return true;
  }

  /** The resolver's entry for a neighbour next hop (its NUD state), or null if it has none. */
  private NeighborView neighborOf(int nh, int family) {
    NextHopTable hops = router.nextHops();
    int port = hops.port(nh);
    long hi = family == 6 ? hops.neighbourIpv6Hi(nh) : 0;
    long lo = family == 6 ? hops.neighbourIpv6Lo(nh) : hops.neighbourIpv4(nh) & 0xFFFF_FFFFL;
    for (NeighborView n : router.neighbors()) {
      if (n.port() == port && n.family() == family && n.hi() == hi && n.lo() == lo) {
        return n;
      }
    }
    return null;
  }

  /** As {@link #trace(String, String, String, String, String, String)}, TCP to no port. */
  JsonText.Obj trace(String source, String destination, String inPort) {
    return trace(source, destination, inPort, null, null, null);
  }

  /**
   * The forwarding decision for src -> dst on the live FIB, as the workers would take it, and for a
   * packet the router forwards, the network-policy verdict of the first packet of a flow of {@code
   * proto} (default tcp) to {@code dport} (default none: only rules without ports match).
   */
  JsonText.Obj trace(
      String source, String destination, String inPort, String proto, String sport, String dport) {
    if (source == null || destination == null) {
      throw new IllegalArgumentException("src and dst are required");
    }
    String src = source.trim();
    String dst = destination.trim();
    boolean v6 = dst.contains(":");
    if (src.contains(":") != v6) {
      throw new IllegalArgumentException(src + " and " + dst + " are of different families");
    }
    JsonText.Obj t = object();
    t.put("src", src);
    t.put("dst", dst);
    Map<Integer, String> names = portNames();
    if (inPort != null) {
      int in = portId(inPort);
      t.put("inPort", inPort);
      t.put("inRole", role(router.portTable().role(in)));
    }
    int nh;
    Object matched = null;
    if (v6) {
      long[] d = Ipv6Prefix.parseAddress(dst);
      if (AddressChecks.isLinkLocal6(d[0]) || AddressChecks.isMulticast6(d[0])) {
        t.put("decision", "on-link");
        t.put(
            "reason",
            "link-local or multicast: handled on the ingress port (neighbour discovery, echo to"
                + " the router), never routed");
        return t;
      }
      long[] s6 = Ipv6Prefix.parseAddress(src);
      if (martian(t, AddressChecks.martianSource6(s6[0], s6[1]), "martian-source", src)
          || martian(t, AddressChecks.martianDestination6(d[0], d[1]), "martian-destination", dst)
          || spoofed(t, inPort, router.fib6().lookup(s6[0], s6[1]), src)) {
        return t;
      }
      nh = router.fib6().lookup(d[0], d[1]);
      for (Object p : router.routes().keySet()) {
        if (p instanceof Ipv6Prefix p6
            && p6.contains(d[0], d[1])
            && (matched == null || p6.length() > ((Ipv6Prefix) matched).length())) {
          matched = p6;
        }
      }
    } else {
      int d = Ipv4Prefix.parseAddress(dst);
      int s4 = Ipv4Prefix.parseAddress(src);
      if (martian(t, AddressChecks.martianSource4(s4), "martian-source", src)
          || martian(t, AddressChecks.martianDestination4(d), "martian-destination", dst)
          || spoofed(t, inPort, router.fib().lookup(s4), src)) {
        return t;
      }
      nh = router.fib().lookup(d);
      for (Object p : router.routes().keySet()) {
        if (p instanceof Ipv4Prefix p4
            && p4.contains(d)
            && (matched == null || p4.length() > ((Ipv4Prefix) matched).length())) {
          matched = p4;
        }
      }
    }
    if (matched != null) {
      t.put("matched", matched.toString());
      RouteSpec spec = spec(matched);
      t.put("origin", spec != null ? spec.origin() : "connected");
    }
    NextHopTable hops = router.nextHops();
    long groupEntry = hops.entry(nh);
    if (NextHopTable.kindOf(groupEntry) == NextHops.KIND_GROUP) {
      // the workers' pick: the same FlowHash of the same fields, the same bucket lookup
      int protocol = protocolNumber(proto, v6);
      int ports = FlowHash.ports(protocol, port("sport", sport), port("dport", dport));
      int hash;
      if (v6) {
        long[] s6 = Ipv6Prefix.parseAddress(src);
        long[] d6 = Ipv6Prefix.parseAddress(dst);
        hash = FlowHash.ipv6(s6[0], s6[1], d6[0], d6[1], protocol, ports);
      } else {
        hash =
            FlowHash.ipv4(
                Ipv4Prefix.parseAddress(src), Ipv4Prefix.parseAddress(dst), protocol, ports);
      }
      int member = hops.groupMember(groupEntry, hash);
      t.put("group", nh);
      t.put("hash", String.format(Locale.ROOT, "0x%08x", hash));
      t.put("bucket", hops.groupBucket(groupEntry, hash));
      JsonText.Obj g = t.putObject("ecmp");
      describeNextHop(g, nh, names);
      g.put("member", member);
      g.put(
          "flow",
          "proto "
              + protocol
              + (FlowHash.hasPorts(protocol)
                  ? " sport " + port("sport", sport) + " dport " + port("dport", dport)
                  : ""));
      nh = member;
    }
    describeNextHop(t, nh, names);
    int kind = hops.kind(nh);
    if ((kind == NextHops.KIND_FORWARD || kind == NextHops.KIND_RESOLVE)
        && policy(t, v6, src, dst, inPort, proto, sport, dport)) {
      return t;
    }
    switch (kind) {
      case NextHops.KIND_FORWARD -> {
        int out = hops.port(nh);
        t.put("decision", "forward");
        t.put("mtu", hops.mtu(nh)); // the adjacency's copy, as the worker checks it
        t.put(
            "reason",
            "rewrite to "
                + mac(hops.dstMac(nh))
                + ", TTL/hop limit - 1, out of "
                + names.getOrDefault(out, "#" + out));
      }
      case NextHops.KIND_RESOLVE -> {
        t.put("decision", "resolve");
        t.put(
            "reason",
            "neighbour "
                + t.text("via")
                + " not resolved yet: the packet is held while the router asks ("
                + (v6 ? "NDP" : "ARP")
                + "), dropped if nobody answers");
      }
      case NextHops.KIND_LOCAL -> {
        t.put("decision", "local");
        t.put("reason", "an address of the router: it answers echo itself, other traffic dropped");
      }
      case NextHops.KIND_DROP -> {
        t.put("decision", "drop");
        t.put("reason", "a drop route");
      }
      default -> {
        t.put("decision", "drop");
        t.put("reason", "no route (ICMP destination unreachable to " + src + ")");
      }
    }
    return t;
  }

  /** An IP protocol by name (tcp, udp, sctp, icmp; icmp is ICMPv6 for IPv6) or number. */
  static int protocolNumber(String proto, boolean v6) {
    if (proto == null) {
      return 6;
    }
    return switch (proto.trim().toLowerCase(Locale.ROOT)) {
      case "tcp" -> 6;
      case "udp" -> 17;
      case "sctp" -> 132;
      case "icmp", "icmp6", "icmpv6" -> v6 ? 58 : 1;
      default -> {
        try {
          int n = Integer.parseInt(proto.trim());
          if (n < 0 || n > 255) {
            throw new NumberFormatException();
          }
          yield n;
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException(
              "proto " + proto + ": expected tcp, udp, sctp, icmp or a number 0..255");
        }
      }
    };
  }

  private static int port(String name, String value) {
    if (value == null) {
      return 0;
    }
    try {
      int p = Integer.parseInt(value.trim());
      if (p >= 0 && p <= 65535) {
        return p;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw new IllegalArgumentException(name + " " + value + ": expected a port 0..65535");
  }

  /**
   * The policy object of a trace, from {@link PolicyTable#classify} (the workers' own function);
   * marks the trace dropped and returns true if policy denies the flow.
   */
  private boolean policy(
      JsonText.Obj t,
      boolean v6,
      String src,
      String dst,
      String inPort,
      String proto,
      String sport,
      String dport) {
    int protocol = protocolNumber(proto, v6);
    int destinationPort = port("dport", dport);
    port("sport", sport);
    long[] s6;
    long[] d6;
    if (v6) {
      s6 = Ipv6Prefix.parseAddress(src);
      d6 = Ipv6Prefix.parseAddress(dst);
    } else {
      s6 = new long[] {0, PolicyTable.v4Lo(Ipv4Prefix.parseAddress(src))};
      d6 = new long[] {0, PolicyTable.v4Lo(Ipv4Prefix.parseAddress(dst))};
    }
    boolean fromHost =
        inPort != null && router.portTable().role(portId(inPort)) == PortTable.ROLE_HOST;
    PolicyTable table = router.policyTable();
    PolicyTable.Verdict verdict = new PolicyTable.Verdict();
    table.classify(verdict, s6[0], s6[1], d6[0], d6[1], protocol, destinationPort, fromHost);
    JsonText.Obj p = t.putObject("policy");
    p.put("generation", table.generation());
    p.put("proto", protocol);
    if (sport != null) {
      p.put("sport", port("sport", sport));
    }
    p.put("dport", destinationPort);
    side(p.putObject("egress"), table, verdict.egressPod, verdict.egress, false);
    side(p.putObject("ingress"), table, verdict.ingressPod, verdict.ingress, true);
    if (verdict.allowed()) {
      p.put("verdict", "allowed");
      return false;
    }
    boolean egress = verdict.egress == PolicyTable.DENIED; // the workers count egress first
    String drop = egress ? "policy-denied-egress" : "policy-denied-ingress";
    p.put("verdict", drop);
    t.put("decision", "drop");
    t.put("drop", drop);
    t.put(
        "reason",
        "network policy: "
            + (egress
                ? "egress of " + table.podName(verdict.egressPod)
                : "ingress of " + table.podName(verdict.ingressPod))
            + " is isolated and no rule allows it");
    return true;
  }

  private static void side(JsonText.Obj o, PolicyTable table, int pod, int result, boolean in) {
    if (pod >= 0) {
      o.put("pod", table.podName(pod));
      o.put("isolated", in ? table.ingressIsolated(pod) : table.egressIsolated(pod));
    } else {
      o.put("isolated", false);
    }
    if (result >= 0) {
      o.put(
          "verdict",
          "allowed by " + table.rulePolicy(pod, result) + " rule " + table.ruleNumber(pod, result));
      o.put("policy", table.rulePolicy(pod, result));
      o.put("rule", table.ruleNumber(pod, result));
      return;
    }
    o.put(
        "verdict",
        switch (result) {
          case PolicyTable.NOT_POLICED ->
              "not isolated (no policy selects a pod of this node here)";
          case PolicyTable.OPEN -> "not isolated";
          case PolicyTable.EXEMPT -> "exempt: from the node's host port";
          default -> "denied: no rule of policies " + table.policiesOf(pod, in) + " allows it";
        });
  }

  /**
   * Compiles a capture (or live trace) from {@code args} (see {@link QueryNames#CAPTURE_START}) and
   * publishes it to the workers.
   */
  JsonText.Obj captureStart(Map<String, String> args) {
    boolean trace = Boolean.parseBoolean(args.getOrDefault("trace", "false"));
    CaptureFilter filter = CaptureFilter.parse(args.get("filter"));
    int snaplen = number(args, "snaplen", CaptureFile.DEFAULT_SNAPLEN, CaptureFile.MAX_SNAPLEN);
    long count = number(args, "count", 0, Integer.MAX_VALUE);
    Map<Integer, String> names = portNames();
    boolean[] selected = null;
    List<String> chosen = new ArrayList<>();
    String pods = args.get("pods");
    String ports = args.get("ports");
    if ((pods != null && !pods.isBlank()) || (ports != null && !ports.isBlank())) {
      selected = new boolean[io.flatnet.dpdk.DpdkLayout.MAX_ETHPORTS];
      for (String name : list(ports)) {
        selected[portId(name)] = true;
        chosen.add(name);
      }
      for (String pod : list(pods)) {
        PodSpec spec = dataplane.installed().pods().get(pod);
        if (spec == null) {
          throw new IllegalArgumentException(
              "no pod " + pod + " (pods: " + dataplane.installed().pods().keySet() + ")");
        }
        Integer id =
            PodKinds.BRIDGE.equals(spec.kind()) ? dataplane.segmentPort() : idOf(names, pod);
        if (id == null) {
          throw new IllegalArgumentException("pod " + pod + " has no port yet");
        }
        selected[id] = true;
        chosen.add(names.getOrDefault(id, "#" + id));
      }
    }
    String direction = args.getOrDefault("direction", "both");
    boolean rx = direction.equals("rx") || direction.equals("both");
    boolean tx = direction.equals("tx") || direction.equals("both");
    if (!rx && !tx) {
      throw new IllegalArgumentException("direction " + direction + ": expected rx, tx or both");
    }
    boolean drops = Boolean.parseBoolean(args.getOrDefault("drops", "false"));
    long session = router.nextCaptureSession();
    CaptureSpec spec =
        trace
            ? CaptureSpec.trace(session, router.captureFile(), snaplen, filter, count)
            : CaptureSpec.capture(
                session, router.captureFile(), selected, rx, tx, drops, snaplen, filter, count);
    router.startCapture(spec);
    JsonText.Obj out = object();
    out.put("session", session);
    out.put("file", router.captureFile().file().getPath());
    out.put("workers", router.captureFile().workers());
    out.put("trace", trace);
    out.put("filter", filter.toString());
    out.put("compiled", filter.compiled());
    out.put("snaplen", snaplen);
    out.put("count", count);
    JsonText.Arr selectedNames = out.putArray("selected");
    chosen.forEach(selectedNames::add);
    JsonText.Arr portList = out.putArray("ports");
    for (Map.Entry<Integer, String> e : new TreeMap<>(names).entrySet()) {
      JsonText.Obj p = portList.addObject();
      p.put("id", e.getKey());
      p.put("name", e.getValue());
    }
    JsonText.Arr reasons = out.putArray("dropReasons");
    for (DropReason reason : DropReason.values()) {
      reasons.add(reason.label());
    }
    return out;
  }

  JsonText.Obj captureStop(Map<String, String> args) {
    long session = number(args, "session", 0, Long.MAX_VALUE);
    CaptureSpec ended = router.stopCapture(session);
    JsonText.Obj out = object();
    out.put("session", session);
    out.put("stopped", ended != null);
    if (ended != null) {
      out.put("taken", ended.taken());
    }
    out.put("ringFull", router.captureFile().ringFullTotal());
    return out;
  }

  private static Integer idOf(Map<Integer, String> names, String name) {
    for (Map.Entry<Integer, String> e : names.entrySet()) {
      if (e.getValue().equals(name)) {
        return e.getKey();
      }
    }
    return null;
  }

  private static List<String> list(String names) {
    List<String> out = new ArrayList<>();
    if (names != null) {
      for (String n : names.split(",")) {
        if (!n.isBlank()) {
          out.add(n.trim());
        }
      }
    }
    return out;
  }

  private static long number(Map<String, String> args, String key, long fallback, long max) {
    String value = args.get(key);
    if (value == null || value.isBlank()) {
      return fallback;
    }
    try {
      long n = Long.parseLong(value.trim());
      if (n >= 0 && n <= max) {
        return n;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw new IllegalArgumentException(key + " " + value + ": expected a number 0.." + max);
  }

  private static int number(Map<String, String> args, String key, int fallback, int max) {
    return (int) number(args, key, (long) fallback, (long) max);
  }

  /** What the workers enforce: per pod, its compiled spec and counters; per policy, its flows. */
  JsonText.Obj policies() {
    PolicyTable table = router.policyTable();
    JsonText.Obj out = object();
    out.put("generation", table.generation());
    JsonText.Arr flows = out.putArray("liveFlowsPerWorker");
    router.liveFlows().forEach(n -> flows.add(String.valueOf(n)));
    JsonText.Arr pods = out.putArray("pods");
    List<PolicySpec> specs = table.specs();
    for (int i = 0; i < specs.size(); i++) {
      PolicySpec spec = specs.get(i);
      JsonText.Obj p = pods.addObject();
      p.put("pod", spec.pod());
      JsonText.Arr addresses = p.putArray("addresses");
      spec.addresses().forEach(addresses::add);
      p.put("ingressIsolated", spec.ingressIsolated());
      p.put("egressIsolated", spec.egressIsolated());
      rules(p.putArray("ingress"), spec.ingress());
      rules(p.putArray("egress"), spec.egress());
      p.put("deniedIngress", table.deniedIngress(i));
      p.put("deniedEgress", table.deniedEgress(i));
    }
    JsonText.Arr policies = out.putArray("policies");
    for (int i = 0; i < table.policyCount(); i++) {
      JsonText.Obj p = policies.addObject();
      p.put("name", table.policyName(i));
      p.put("flowsAllowed", table.flowsAllowed(i));
    }
    return out;
  }

  private static void rules(JsonText.Arr out, List<PolicySpec.Rule> rules) {
    for (PolicySpec.Rule rule : rules) {
      JsonText.Obj r = out.addObject();
      r.put("policy", rule.policy());
      r.put("rule", rule.rule());
      r.put("anyPeer", rule.anyPeer());
      JsonText.Arr peers = r.putArray("peers");
      for (PolicySpec.Peer peer : rule.peers()) {
        peers.add(
            peer.except().isEmpty()
                ? peer.cidr()
                : peer.cidr() + " except " + String.join(", ", peer.except()));
      }
      r.put("anyPort", rule.anyPort());
      JsonText.Arr ports = r.putArray("ports");
      for (PolicySpec.PortRange range : rule.ports()) {
        ports.add(
            range.protocol()
                + " "
                + (range.first() == range.last()
                    ? String.valueOf(range.first())
                    : range.first() + "-" + range.last()));
      }
    }
  }
}
