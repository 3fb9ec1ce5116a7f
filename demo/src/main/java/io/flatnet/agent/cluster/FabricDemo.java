package io.flatnet.agent.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import io.flatnet.agent.api.AgentClient;
import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.cluster.FabricTopology.FabNode;
import io.flatnet.agent.cluster.FabricTopology.Frr;
import io.flatnet.agent.cluster.FabricTopology.Pod;
import io.flatnet.agent.cluster.FabricTopology.Session;
import io.flatnet.agent.cluster.FabricTopology.Tor;
import io.flatnet.agent.cluster.FabricTopology.Uplink;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./flatnet demo fabric}: two racks of flatnet nodes behind two top-of-rack routers that run
 * real FRR. Each node speaks BGP (FRR's bgpd, from the node's kernel through flatnet's host path
 * and uplink) to its ToR, advertises its pod CIDRs and learns the others'; zebra hands the selected
 * routes to flatnet over FPM. Node 1 is dual-homed to both ToRs, so it has two equal paths to rack
 * B: ECMP. The demo checks sessions, FIBs, reachability without NAT, the spread over both paths,
 * and measures failover when one ToR link goes down. See docs/routing.md, "The two-rack demo".
 */
@Command(
    name = "flatnet demo fabric",
    mixinStandardHelpOptions = true,
    description =
        "Two racks, two FRR top-of-rack routers, four flatnet nodes speaking BGP; checks routes,"
            + " reachability, ECMP and failover, then cleans up.")
public final class FabricDemo implements Callable<Integer> {
  @Option(names = "--dir", description = "Working directory (default ${DEFAULT-VALUE}).")
  Path dir = Path.of("/tmp/flatnet-fabric");

  @Option(
      names = "--short",
      description = "A short run (CI): shorter flows, the failover measured once over IPv4.")
  boolean shortRun;

  @Option(
      names = "--frr-by-demo",
      description =
          "The demo runs each node's zebra and bgpd itself (bgp.frr.manage: false, with the config"
              + " flatnet would write; zebra's dplane_fpm_nl still feeds the agent) instead of"
              + " flatnet run.")
  boolean frrByDemoOption;

  /** The demo runs the nodes' FRR (zebra's dplane_fpm_nl still feeds flatnet's agent). */
  boolean frrByDemo;

  @Option(
      names = "--static-routes",
      description =
          "flatnet routes the remote pod CIDRs with static routes via the node's ToR, not with the"
              + " routes FRR selects (no FPM, no ECMP): checks the topology and the sessions"
              + " alone. The demo runs the nodes' FRR.")
  boolean staticRoutes;

  @Option(
      names = "--stay",
      description =
          "After the checks, keep everything running until interrupted (Ctrl-C cleans up), to look"
              + " around with vtysh -N fab-tora, ip netns exec fab-n1 ..., ./flatnet ctl --dir.")
  boolean stay;

  static final long TOR_ASN = 65001;
  static final int UDP_PORT = 9000;

  private final List<Tor> tors = new ArrayList<>();
  final List<FabNode> nodes = new ArrayList<>();
  private int failures;
  private String failoverSummary = "";

  public static void main(String[] args) {
    System.exit(new CommandLine(new FabricDemo()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    frrByDemo = staticRoutes || frrByDemoOption;
    String missing = missingTools();
    if (!missing.isEmpty()) {
      System.err.println("flatnet demo fabric: " + missing);
      return 1;
    }
    Thread cleanup = new Thread(this::destroy, "fabric-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    long begun = System.nanoTime();
    try {
      destroy(); // leftovers of an interrupted earlier run
      Files.createDirectories(dir);
      build();
      checks();
      if (stay) {
        System.out.println();
        System.out.println("fabric demo: staying up (--stay); Ctrl-C cleans up");
        Thread.sleep(Long.MAX_VALUE);
      }
      System.out.println();
      System.out.printf(
          Locale.ROOT,
          "fabric demo: %s (%.0f s)%s%n",
          failures == 0 ? "all checks passed" : failures + " checks FAILED",
          (System.nanoTime() - begun) / 1e9,
          failoverSummary.isEmpty() ? "" : "; " + failoverSummary);
      return failures == 0 ? 0 : 1;
    } catch (RuntimeException e) {
      failures++;
      System.out.println("fabric demo: FAILED: " + e.getMessage());
      return 1;
    } finally {
      destroy();
      Runtime.getRuntime().removeShutdownHook(cleanup);
    }
  }

  /** FRR, python3, nft: without them the demo cannot run, and says so (a failure, not a skip). */
  public static String missingTools() {
    List<String> missing = new ArrayList<>();
    for (String daemon : List.of("zebra", "bgpd")) {
      if (!Files.isExecutable(Path.of(Frr.BIN, daemon))) {
        missing.add(Frr.BIN + "/" + daemon);
      }
    }
    for (String tool : List.of("vtysh", "python3", "nft", "ethtool", "tcpdump", "ping")) {
      if (!Sh.run("sh", "-c", "command -v " + tool).ok()) {
        missing.add(tool);
      }
    }
    return missing.isEmpty()
        ? ""
        : "missing "
            + String.join(", ", missing)
            + " (Debian: apt-get install frr python3 nftables ethtool tcpdump iputils-ping)";
  }

  // ------------------------------------------------------------------ topology

  private void build() throws Exception {
    Tor a = new Tor("tora", 1, "10.250.0.1", "fd00:250::1");
    Tor b = new Tor("torb", 2, "10.250.0.2", "fd00:250::2");
    tors.add(a);
    tors.add(b);
    for (int n = 1; n <= 4; n++) {
      nodes.add(new FabNode(n, n <= 2 ? a : b, dir));
    }
    // Node 1's second uplink: a routed link of its own to ToR B.
    FabNode dual = nodes.get(0);
    dual.uplinks.add(
        new Uplink(
            "torb",
            "upb",
            b,
            "n1b",
            false,
            "10.251.1.2",
            30,
            "fd00:251:1::2",
            "10.251.1.1",
            "fd00:251:1::1"));
    System.out.println(
        "fabric: ToR A (fab-tora, AS "
            + TOR_ASN
            + ", rack A 10.250.1.0/24 + fd00:250:1::/64) and ToR B (fab-torb, AS "
            + TOR_ASN
            + ", rack B 10.250.2.0/24 + fd00:250:2::/64), iBGP between them; nodes in AS"
            + " 65011..65014; node1 dual-homed (10.251.1.0/30 to ToR B)");
    for (Tor tor : tors) {
      tor.create();
    }
    Sh.must(
        "ip", "link", "add", "tl", "netns", a.ns, "type", "veth", "peer", "name", "tl", "netns",
        b.ns);
    for (Tor tor : tors) {
      Sh.mustIn(tor.ns, "ethtool", "-K", "tl", "tx", "off");
      Sh.mustIn(tor.ns, "ip", "addr", "add", tor.linkV4 + "/30", "dev", "tl");
      Sh.mustIn(tor.ns, "ip", "addr", "add", tor.linkV6 + "/64", "dev", "tl", "nodad");
      Sh.mustIn(tor.ns, "ip", "link", "set", "tl", "up");
    }
    for (FabNode node : nodes) {
      node.create();
    }
    for (Tor tor : tors) {
      tor.startFrr(this);
    }
    for (FabNode node : nodes) {
      node.writeConfig(this);
      node.start();
    }
    for (FabNode node : nodes) {
      node.awaitReady();
    }
    if (frrByDemo) {
      for (FabNode node : nodes) {
        node.startOwnFrr(this);
      }
    }
    System.out.println(
        "fabric: 4 flatnet nodes up ("
            + (frrByDemo ? "FRR run by the demo" : "FRR run by flatnet's agents")
            + ", routes "
            + (staticRoutes ? "static via the ToR" : "from FRR over FPM")
            + "); pods: "
            + String.join(", ", nodes.stream().map(n -> n.pod.name() + " " + n.pod.v4()).toList()));
  }

  List<FabNode> nodesOn(Tor tor) {
    return nodes.stream().filter(n -> n.uplinks.stream().anyMatch(u -> u.tor() == tor)).toList();
  }

  Tor other(Tor tor) {
    return tors.get(0) == tor ? tors.get(1) : tors.get(0);
  }

  // ------------------------------------------------------------------ checks

  private void checks() throws Exception {
    System.out.println();
    System.out.println("1. BGP sessions Established (vtysh on each ToR; keepalive 1 s, hold 3 s)");
    long start = System.nanoTime();
    boolean up = awaitSessions(90);
    System.out.printf(
        Locale.ROOT,
        "   %s after %.1f s%n",
        up ? "all up" : "not all up",
        (System.nanoTime() - start) / 1e9);
    printSessions();
    if (!up && !frrByDemo) {
      System.out.println(
          "   (a node's own BGP packets cross flatnet's host path, one hop: its FRR config needs"
              + " ebgp-multihop 2 and update-source; ctl counters shows drop ttl-exceeded"
              + " otherwise; ./flatnet ctl bgp --dir /tmp/flatnet-fabric/nodeN)");
    }

    System.out.println();
    System.out.println(
        "2. each node's FIB holds the other nodes' pod CIDRs"
            + (staticRoutes ? " (static routes)" : ", origin bgp (ctl show routes)"));
    awaitFibs(60);
    for (FabNode node : nodes) {
      fibCheck(node);
    }

    if (!staticRoutes) {
      settle("the ECMP check");
      System.out.println();
      System.out.println("3. node1 (dual-homed) has two equal paths to rack B: ECMP");
      FabNode dual = nodes.get(0);
      for (FabNode remote : List.of(nodes.get(2), nodes.get(3))) {
        ecmpCheck(dual, remote.podV4Cidr);
        ecmpCheck(dual, remote.podV6Cidr);
      }
    }

    warmUp();
    settle("the ping matrix");
    System.out.println();
    System.out.println(
        "4. every pod pings every pod (reply ttl: 62 = node, node in a rack; 61 = node, ToR, node;"
            + " 60 = through both ToRs)");
    matrix(false);
    System.out.println();
    System.out.println("5. the same over IPv6 (hop limit)");
    matrix(true);

    System.out.println();
    System.out.println("6. no NAT: what the receiving pod in the other rack captures");
    Pod from = nodes.get(0).pod;
    Pod to = nodes.get(2).pod;
    noNat(from, to, false);
    noNat(from, to, true);

    if (!staticRoutes) {
      settle("the spread");
      System.out.println();
      System.out.println(
          "7. flows spread over both of node1's uplinks (packets the ToRs received from node1)");
      spread(nodes.get(0), nodes.get(2));
      spread(nodes.get(0), nodes.get(3));

      System.out.println();
      System.out.println(
          "8. failover: a UDP flow every 10 ms from pod1 to pod3; the ToR link it uses goes down");
      settle("the failover");
      int drops = sessionDrops();
      failover(nodes.get(0), nodes.get(2), false);
      if (!shortRun) {
        settle("the IPv6 failover");
        failover(nodes.get(0), nodes.get(3), true);
      }
      settle("the pings after the failover");
      System.out.println();
      System.out.println(
          "9. after the failover and the link's return, every pod still reaches every pod");
      afterFailover();
      System.out.println();
      System.out.printf(
          Locale.ROOT,
          "   BGP session resets before the failover: %d (0 unless the machine starved a hold"
              + " timer)%n",
          drops);
    }
  }

  private boolean awaitSessions(int seconds) throws InterruptedException {
    long deadline = System.nanoTime() + seconds * 1_000_000_000L;
    while (System.nanoTime() < deadline) {
      if (allEstablished()) {
        return true;
      }
      Thread.sleep(500);
    }
    return false;
  }

  private boolean allEstablished() {
    for (Tor tor : tors) {
      for (Session s : tor.sessions(this)) {
        if (!tor.established(s.address())) {
          return false;
        }
      }
    }
    return true;
  }

  /**
   * Sessions up, every FIB complete and node1's two paths to rack B in its FIB: the fabric has
   * converged. Each phase starts from there, so a session that flapped before it (a loaded machine
   * can starve a 3 s hold timer) does not pass for a failure of the phase.
   */
  private void settle(String before) throws InterruptedException {
    long start = System.nanoTime();
    long deadline = start + 45_000_000_000L;
    while (System.nanoTime() < deadline) {
      if (allEstablished() && nodes.stream().allMatch(this::fibComplete) && ecmpComplete()) {
        return;
      }
      Thread.sleep(300);
    }
    System.out.printf(
        Locale.ROOT, "   (the fabric had not converged within 45 s before %s)%n", before);
  }

  private boolean ecmpComplete() {
    if (staticRoutes) {
      return true;
    }
    List<JsonNode> routes = routes(nodes.get(0));
    for (FabNode remote : nodes.subList(2, 4)) {
      for (String cidr : List.of(remote.podV4Cidr, remote.podV6Cidr)) {
        if (paths(routesFor(routes, cidr)).size() != 2) {
          return false;
        }
      }
    }
    return true;
  }

  private static final Pattern DROPPED =
      Pattern.compile("Connections established \\d+; dropped (\\d+)");

  /** Session resets so far, summed over both ends of every ToR session (FRR's counters). */
  private int sessionDrops() {
    int dropped = 0;
    for (Tor tor : tors) {
      for (Session s : tor.sessions(this)) {
        Matcher m = DROPPED.matcher(Frr.vtysh(tor.ns, "show bgp neighbors " + s.address()));
        if (m.find()) {
          dropped += Integer.parseInt(m.group(1));
        }
      }
    }
    return dropped;
  }

  private void printSessions() {
    for (Tor tor : tors) {
      for (Session s : tor.sessions(this)) {
        boolean ok = tor.established(s.address());
        if (!ok) {
          failures++;
        }
        System.out.printf(
            Locale.ROOT,
            "   %-5s %-16s %-22s %s%n",
            tor.name,
            s.address(),
            s.peer(),
            ok ? "Established" : "FAIL: " + tor.state(s.address()));
      }
    }
  }

  /** The node's routes as its agent reports them ({@code ctl show routes --json}). */
  static List<JsonNode> routes(FabNode node) {
    List<JsonNode> out = new ArrayList<>();
    try {
      AgentClient agent = new AgentClient(node.runDir.resolve("agent.sock"), Duration.ofSeconds(5));
      AgentProtocol.Response response =
          agent.call(AgentProtocol.Request.of(AgentProtocol.SHOW_ROUTES));
      if (response.ok() && response.data() != null) {
        response.data().forEach(out::add);
      }
    } catch (IOException e) {
      // none: the check says which are missing
    }
    return out;
  }

  static List<JsonNode> routesFor(List<JsonNode> routes, String prefix) {
    return routes.stream().filter(r -> prefix.equals(r.path("prefix").asText())).toList();
  }

  private List<String> remoteCidrs(FabNode node) {
    List<String> cidrs = new ArrayList<>();
    for (FabNode other : nodes) {
      if (other != node) {
        cidrs.add(other.podV4Cidr);
        cidrs.add(other.podV6Cidr);
      }
    }
    return cidrs;
  }

  private boolean fibComplete(FabNode node) {
    List<JsonNode> routes = routes(node);
    for (String cidr : remoteCidrs(node)) {
      List<JsonNode> found = routesFor(routes, cidr);
      if (found.isEmpty() || (!staticRoutes && !"bgp".equals(origin(found.get(0))))) {
        return false;
      }
    }
    return true;
  }

  private void awaitFibs(int seconds) throws InterruptedException {
    long deadline = System.nanoTime() + seconds * 1_000_000_000L;
    while (System.nanoTime() < deadline) {
      if (nodes.stream().allMatch(this::fibComplete)) {
        return;
      }
      Thread.sleep(500);
    }
  }

  static String origin(JsonNode route) {
    return route.path("origin").asText("(none)");
  }

  private void fibCheck(FabNode node) {
    List<JsonNode> routes = routes(node);
    List<String> bad = new ArrayList<>();
    List<String> good = new ArrayList<>();
    for (String cidr : remoteCidrs(node)) {
      List<JsonNode> found = routesFor(routes, cidr);
      if (found.isEmpty()) {
        bad.add(cidr + " missing");
      } else if (!staticRoutes && !"bgp".equals(origin(found.get(0)))) {
        bad.add(cidr + " origin " + origin(found.get(0)));
      } else {
        good.add(cidr);
      }
    }
    if (!bad.isEmpty()) {
      failures++;
    }
    System.out.printf(
        Locale.ROOT,
        "   %s: %d of %d remote pod CIDRs%s%s%n",
        node.name,
        good.size(),
        good.size() + bad.size(),
        staticRoutes ? "" : " with origin bgp",
        bad.isEmpty() ? ": ok" : ": FAIL: " + String.join(", ", bad));
  }

  /**
   * The paths of a route: the members of its next-hop group if the agent lists them ({@code
   * paths}), else one per row for that prefix.
   */
  static List<String> paths(List<JsonNode> rows) {
    List<String> paths = new ArrayList<>();
    for (JsonNode row : rows) {
      JsonNode members = row.path("paths");
      if (members.isArray() && !members.isEmpty()) {
        for (JsonNode m : members) {
          paths.add(m.path("via").asText() + " port " + m.path("port").asText());
        }
      } else {
        paths.add(row.path("via").asText() + " port " + row.path("port").asText());
      }
    }
    return new ArrayList<>(new LinkedHashSet<>(paths));
  }

  private void ecmpCheck(FabNode node, String cidr) {
    boolean v6 = cidr.contains(":");
    // What FRR selected, as zebra installed it in the node's kernel.
    String kernel = Sh.runIn(node.ns, "ip", v6 ? "-6" : "-4", "route", "show", cidr).output();
    int kernelPaths = kernel.split("nexthop via", -1).length - 1;
    List<String> paths = paths(routesFor(routes(node), cidr));
    boolean ok = kernelPaths == 2 && paths.size() == 2;
    if (!ok) {
      failures++;
    }
    System.out.printf(
        Locale.ROOT,
        "   %s %-17s FRR selected %d paths; flatnet: %s%s%n",
        node.name,
        cidr,
        kernelPaths,
        paths.isEmpty() ? "no route" : String.join(" + ", paths),
        ok ? "  ok" : "  FAIL");
  }

  /** First packets resolve neighbours along the way; give them one round before the checks. */
  private void warmUp() {
    for (FabNode from : nodes) {
      for (FabNode to : nodes) {
        if (from != to) {
          Sh.runIn(from.pod.ns(), "ping", "-c", "1", "-W", "1", to.pod.v4());
          Sh.runIn(from.pod.ns(), "ping", "-6", "-c", "1", "-W", "1", to.pod.v6());
        }
      }
    }
  }

  /**
   * The TTLs a reply from {@code replier}'s pod may arrive with: 64 less one per router on its way
   * back. In a rack the ToR hands on its nodes' routes with their own next hops (its bridge joins
   * them), so the reply goes node to node: 62. Across racks: node, ToR B, node1 over its own link
   * is 61; node, ToR, ToR, node is 60. Node 1's replies may take either of its two paths.
   */
  private Set<Integer> expectedTtls(FabNode sender, FabNode replier) {
    boolean sameRack = replier.rack == sender.rack;
    if (replier.index == 1) {
      return sameRack ? Set.of(60, 62) : Set.of(60, 61);
    }
    if (sameRack) {
      return Set.of(62);
    }
    return Set.of(sender.index == 1 ? 61 : 60);
  }

  private static final Pattern TTL = Pattern.compile("(?:ttl|hlim)=(\\d+)");

  private void matrix(boolean v6) {
    StringBuilder header = new StringBuilder(String.format(Locale.ROOT, "   %-8s", "from\\to"));
    for (FabNode to : nodes) {
      header.append(String.format(Locale.ROOT, " %-12s", to.pod.name()));
    }
    System.out.println(header);
    for (FabNode from : nodes) {
      StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "   %-8s", from.pod.name()));
      for (FabNode to : nodes) {
        String cell = "-";
        if (from != to) {
          Sh.Result r = null;
          for (int attempt = 0; attempt < 2 && (r == null || !r.ok()); attempt++) {
            r =
                Sh.runIn(
                    from.pod.ns(),
                    "ping",
                    v6 ? "-6" : "-4",
                    "-c",
                    "2",
                    "-i",
                    "0.2",
                    "-W",
                    "2",
                    v6 ? to.pod.v6() : to.pod.v4());
          }
          Matcher ttl = TTL.matcher(r.output());
          if (r.ok() && ttl.find()) {
            int seen = Integer.parseInt(ttl.group(1));
            cell = "ok ttl=" + seen;
            if (!expectedTtls(from, to).contains(seen)) {
              cell += "!";
              failures++;
            }
          } else {
            cell = "FAIL";
            failures++;
          }
        }
        row.append(String.format(Locale.ROOT, " %-12s", cell));
      }
      System.out.println(row);
    }
  }

  /** Every pair over IPv4 and IPv6 once more: neighbours that failed while a link was down. */
  private void afterFailover() {
    List<String> failed = new ArrayList<>();
    int pairs = 0;
    for (FabNode from : nodes) {
      for (FabNode to : nodes) {
        if (from == to) {
          continue;
        }
        for (boolean v6 : List.of(false, true)) {
          pairs++;
          String dst = v6 ? to.pod.v6() : to.pod.v4();
          boolean ok = false;
          for (int attempt = 0; attempt < 3 && !ok; attempt++) {
            ok =
                Sh.runIn(
                        from.pod.ns(),
                        "ping",
                        v6 ? "-6" : "-4",
                        "-c",
                        "2",
                        "-i",
                        "0.2",
                        "-W",
                        "2",
                        dst)
                    .ok();
          }
          if (!ok) {
            failed.add(from.pod.name() + " -> " + dst);
          }
        }
      }
    }
    if (!failed.isEmpty()) {
      failures++;
    }
    System.out.printf(
        Locale.ROOT,
        "   %d of %d pairs (IPv4 and IPv6) answer%s%n",
        pairs - failed.size(),
        pairs,
        failed.isEmpty() ? ": ok" : ": FAIL: " + String.join(", ", failed));
  }

  private void noNat(Pod sender, Pod receiver, boolean v6) throws Exception {
    Path captured = dir.resolve("tcpdump-" + (v6 ? "6" : "4") + ".txt");
    Process capture =
        new ProcessBuilder(
                Sh.in(
                    receiver.ns(),
                    "tcpdump",
                    "-n",
                    "-l",
                    "-i",
                    "eth0",
                    "-c",
                    "1",
                    v6 ? "icmp6 and ip6[40] == 128" : "icmp[icmptype] == icmp-echo"))
            .redirectErrorStream(true)
            .redirectOutput(captured.toFile())
            .start();
    Thread.sleep(1500);
    String src = v6 ? sender.v6() : sender.v4();
    String dst = v6 ? receiver.v6() : receiver.v4();
    Sh.runIn(sender.ns(), "ping", v6 ? "-6" : "-4", "-c", "2", "-W", "2", dst);
    boolean done = capture.waitFor(5, TimeUnit.SECONDS);
    capture.destroyForcibly();
    String line =
        Files.readString(captured)
            .lines()
            .filter(l -> l.contains(" > "))
            .findFirst()
            .orElse("(nothing captured)");
    boolean ok = done && line.contains(src + " > " + dst);
    if (!ok) {
      failures++;
    }
    System.out.printf(
        Locale.ROOT,
        "   %s (%s) pings %s; tcpdump in %s: %s -> %s%n",
        sender.name(),
        src,
        dst,
        receiver.name(),
        line.contains(" > ") ? line.replaceFirst("^\\S+\\s+", "").trim() : line,
        ok ? "source unchanged" : "FAIL");
  }

  /** Packets the ToR side of each of {@code node}'s uplinks has received (sent by the node). */
  private static long[] uplinkCounters(FabNode node) {
    long[] counts = new long[node.uplinks.size()];
    for (int i = 0; i < counts.length; i++) {
      Uplink u = node.uplinks.get(i);
      String text =
          Sh.runIn(u.tor().ns, "cat", "/sys/class/net/" + u.torIface() + "/statistics/rx_packets")
              .output()
              .strip();
      counts[i] = text.matches("\\d+") ? Long.parseLong(text) : -1;
    }
    return counts;
  }

  private void spread(FabNode from, FabNode to) throws Exception {
    int flows = shortRun ? 32 : 64;
    int each = shortRun ? 10 : 40;
    Process receiver = startUdp(to.pod, "recv", Integer.toString(UDP_PORT), "8");
    Thread.sleep(500);
    long[] before = uplinkCounters(from);
    Sh.Result sent =
        Sh.run(
            Sh.in(
                from.pod.ns(),
                "python3",
                udpTool().toString(),
                "spread",
                to.pod.v4(),
                Integer.toString(UDP_PORT),
                Integer.toString(flows),
                Integer.toString(each)),
            60);
    Thread.sleep(300);
    long[] after = uplinkCounters(from);
    receiver.destroy();
    long viaA = after[0] - before[0];
    long viaB = after[1] - before[1];
    int total = flows * each;
    // Both paths carry a real share; BGP keepalives alone are a few a second.
    boolean ok = sent.ok() && viaA >= total / 8 && viaB >= total / 8;
    if (!ok) {
      failures++;
    }
    System.out.printf(
        Locale.ROOT,
        "   %s -> %s: %d datagrams on %d flows; ToR A got %d from %s, ToR B got %d: %s%n",
        from.pod.name(),
        to.pod.name(),
        total,
        flows,
        viaA,
        from.name,
        viaB,
        ok ? "both paths used" : "FAIL" + (sent.ok() ? "" : ": " + sent.output().strip()));
  }

  private Process startUdp(Pod pod, String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of("python3", udpTool().toString()));
    command.addAll(List.of(args));
    return new ProcessBuilder(Sh.in(pod.ns(), command.toArray(String[]::new)))
        .redirectErrorStream(true)
        .start();
  }

  private Path udpTool() throws IOException {
    Path tool = dir.resolve("fabric-udp.py");
    if (!Files.exists(tool)) {
      try (InputStream in = FabricDemo.class.getResourceAsStream("fabric-udp.py")) {
        if (in == null) {
          throw new IOException("fabric-udp.py is not on the classpath");
        }
        Files.write(tool, in.readAllBytes());
      }
    }
    return tool;
  }

  private static final Pattern JSON_NUMBER = Pattern.compile("\"(\\w+)\": (-?[0-9.]+)");

  static double field(String json, String name) {
    Matcher m = JSON_NUMBER.matcher(json);
    while (m.find()) {
      if (m.group(1).equals(name)) {
        return Double.parseDouble(m.group(2));
      }
    }
    return -1;
  }

  /**
   * A steady UDP flow from {@code from}'s pod to {@code to}'s; the ToR side of the uplink it uses
   * goes down (the node's BGP sessions on it die when the hold time runs out, FRR withdraws the
   * path, flatnet drops the member); the receiver reports the longest silence and the sender how
   * much it sent. Then the link comes back and both paths return.
   */
  private void failover(FabNode from, FabNode to, boolean v6) throws Exception {
    int seconds = shortRun ? 9 : 14;
    String dst = v6 ? to.pod.v6() : to.pod.v4();
    Process receiver =
        startUdp(to.pod, "recv", Integer.toString(UDP_PORT), Integer.toString(seconds + 3));
    Thread.sleep(700);
    Process sender =
        startUdp(
            from.pod,
            "send",
            dst,
            Integer.toString(UDP_PORT),
            "10",
            Integer.toString(seconds),
            "41000");
    Thread.sleep(1500);
    long[] before = uplinkCounters(from);
    Thread.sleep(1000);
    long[] after = uplinkCounters(from);
    int used = after[0] - before[0] >= after[1] - before[1] ? 0 : 1;
    Uplink link = from.uplinks.get(used);
    long down = System.currentTimeMillis();
    Sh.mustIn(link.tor().ns, "ip", "link", "set", link.torIface(), "down");
    System.out.printf(
        Locale.ROOT,
        "   %s -> %s (%s): the flow uses %s's uplink %s (%d vs %d packets in 1 s); %s set down"
            + " on %s at +2.5 s%n",
        from.pod.name(),
        to.pod.name(),
        dst,
        from.name,
        link.port(),
        after[used] - before[used],
        after[1 - used] - before[1 - used],
        link.torIface(),
        link.tor().name);
    sender.waitFor(seconds + 10, TimeUnit.SECONDS);
    String sent = new String(sender.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    receiver.waitFor(15, TimeUnit.SECONDS);
    String got = new String(receiver.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    long[] end = uplinkCounters(from);
    long movedTo = end[1 - used] - after[1 - used];
    long sentCount = (long) field(sent, "sent");
    long distinct = (long) field(got, "distinct");
    double gapMs = field(got, "gapMs");
    long gapStart = (long) field(got, "gapStartMs");
    long last = (long) field(got, "lastMs");
    long lost = sentCount - distinct;
    boolean resumed = last > down + 1000;
    // The gap that matters is the one around the link going down.
    boolean gapIsFailover = gapStart >= down - 200 && gapStart <= down + 5000;
    double outageMs = gapIsFailover ? gapMs : 0;
    long highest = (long) field(got, "highest");
    // The flow runs to its end on the other path, and all it lost is the one silence.
    boolean toTheEnd = highest >= sentCount - 10;
    boolean onlyTheGap = lost <= outageMs / 10 + 50;
    boolean ok =
        sentCount > 0 && resumed && toTheEnd && onlyTheGap && outageMs < 10_000 && movedTo > 50;
    if (!ok) {
      failures++;
    }
    System.out.printf(
        Locale.ROOT,
        "   traffic flowed again after %.2f s (longest silence at the receiver); %d of %d"
            + " datagrams lost (%.1f %%); %d packets went out of the other uplink since: %s%n",
        outageMs / 1000,
        lost,
        sentCount,
        sentCount > 0 ? 100.0 * lost / sentCount : 0,
        movedTo,
        ok
            ? "ok"
            : "FAIL"
                + (toTheEnd ? "" : ": the flow stopped at datagram " + highest)
                + (onlyTheGap ? "" : ": lost more than the silence explains"));
    System.out.printf(
        Locale.ROOT,
        "   (sender %s; receiver %s; link down at %d)%n",
        sent.strip(),
        got.strip(),
        down);
    failoverSummary =
        String.format(
            Locale.ROOT, "failover %.2f s, %d datagrams lost at 100/s", outageMs / 1000, lost);
    long upAt = System.nanoTime();
    Sh.mustIn(link.tor().ns, "ip", "link", "set", link.torIface(), "up");
    boolean back = awaitSessions(60);
    double sessionsBack = (System.nanoTime() - upAt) / 1e9;
    String ecmp = "";
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (System.nanoTime() < deadline) {
      ecmp = String.join(" + ", paths(routesFor(routes(from), v6 ? to.podV6Cidr : to.podV4Cidr)));
      if (ecmp.contains(" + ")) {
        break;
      }
      Thread.sleep(200);
    }
    boolean both = ecmp.contains(" + ");
    if (!back || !both) {
      failures++;
    }
    System.out.printf(
        Locale.ROOT,
        "   %s up again: sessions Established %s %.1f s, both paths back after %.1f s (%s): %s%n",
        link.torIface(),
        back ? "after" : "NOT within",
        sessionsBack,
        (System.nanoTime() - upAt) / 1e9,
        ecmp,
        back && both ? "ok" : "FAIL");
  }

  // ------------------------------------------------------------------ cleanup

  static final List<String> NAMESPACES =
      List.of(
          "fab-tora",
          "fab-torb",
          "fab-n1",
          "fab-n2",
          "fab-n3",
          "fab-n4",
          "fab-p1",
          "fab-p2",
          "fab-p3",
          "fab-p4");

  /** Removes every namespace, process and file the demo made, even after a failure. */
  private synchronized void destroy() {
    for (FabNode node : nodes) {
      node.stop();
    }
    String existing = Sh.run("ip", "netns", "list").output();
    // Whatever still runs in our namespaces (FRR daemons, a flow) was started by this demo.
    for (String signal : List.of("TERM", "KILL")) {
      boolean any = false;
      for (String ns : NAMESPACES) {
        if (existing.contains(ns)) {
          for (String pid : Sh.run("ip", "netns", "pids", ns).output().split("\\s+")) {
            if (pid.matches("\\d+")) {
              Sh.run("kill", "-" + signal, pid);
              any = true;
            }
          }
        }
      }
      if (any && signal.equals("TERM")) {
        try {
          Thread.sleep(1000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
    for (String ns : NAMESPACES) {
      if (existing.contains(ns)) {
        Sh.run("ip", "netns", "del", ns);
      }
      deleteTree(Path.of(Frr.RUN, ns).toFile());
    }
    nodes.clear();
    tors.clear();
    if (failures == 0) {
      deleteTree(dir.toFile());
    } else if (Files.isDirectory(dir)) {
      System.err.println("fabric demo: configs, FRR and router logs kept in " + dir);
    }
  }

  private static void deleteTree(File file) {
    File[] children = file.listFiles();
    if (children != null) {
      for (File child : children) {
        deleteTree(child);
      }
    }
    file.delete();
  }
}
