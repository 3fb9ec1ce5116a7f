package io.flatnet.agent.cluster;

import io.flatnet.agent.api.AgentClient;
import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.process.NodeProcesses;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./flatnet demo cluster}: several flatnet nodes on one machine form one flat pod network.
 * Each node is a router process with its own config and agent; its uplink sits on a shared fabric
 * (a Linux bridge in a namespace), its host path is a TAP into a "host" namespace, and its pods are
 * network namespaces (af_packet) — plus one VM-style pod (testpmd over vhost-user) on node 1.
 * Remote pod subnets are routed via the remote node's IP, resolved by ARP/NDP over the fabric, as
 * flannel host-gw and kube-router do. See docs/cluster.md.
 */
@Command(
    name = "flatnet demo cluster",
    mixinStandardHelpOptions = true,
    description = "Builds a 3-node flatnet cluster in namespaces, checks it, churns it, cleans up.")
public final class ClusterDemo implements Callable<Integer> {
  @Option(names = "--nodes", description = "How many nodes (2..9, default ${DEFAULT-VALUE}).")
  int nodes = 3;

  @Option(names = "--dir", description = "Working directory (default ${DEFAULT-VALUE}).")
  Path dir = Path.of("/tmp/flatnet-cluster");

  @Option(names = "--tcp-seconds", description = "Length of the TCP transfer (default 3).")
  int tcpSeconds = 3;

  @Option(names = "--no-churn", description = "Skip the churn and restart phase.")
  boolean noChurn;

  @Option(names = "--no-vm", description = "Skip the vhost-user (testpmd) pod.")
  boolean noVm;

  private final List<Node> cluster = new ArrayList<>();
  private Process vmPod;
  private NodeKernelChecks kernelChecks;
  private int kernelFailuresCounted;
  private int failures;

  public static void main(String[] args) {
    System.exit(new CommandLine(new ClusterDemo()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if (nodes < 2 || nodes > 9) {
      System.err.println("flatnet demo cluster: --nodes must be 2..9");
      return 2;
    }
    Thread cleanup = new Thread(this::destroy, "cluster-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    try {
      destroy(); // leftovers of an interrupted earlier run
      Files.createDirectories(dir);
      build();
      checks();
      if (!noChurn) {
        churn();
      }
      System.out.println();
      System.out.println(
          failures == 0
              ? "cluster demo: all checks passed"
              : "cluster demo: " + failures + " checks FAILED");
      return failures == 0 ? 0 : 1;
    } finally {
      destroy();
      Runtime.getRuntime().removeShutdownHook(cleanup);
    }
  }

  // ------------------------------------------------------------------ topology

  private void build() throws Exception {
    System.out.println(
        "cluster: "
            + nodes
            + " nodes, fabric 10.250.0.0/24 + fd00:250::/64 on bridge in namespace fn-fabric");
    Sh.must("ip", "netns", "add", "fn-fabric");
    Sh.mustIn("fn-fabric", "ip", "link", "add", "br0", "type", "bridge");
    Sh.mustIn("fn-fabric", "ip", "link", "set", "br0", "up");
    NodeKernelChecks.plugOutsideHost();
    for (int n = 1; n <= nodes; n++) {
      Node node = new Node(n, dir);
      cluster.add(node);
      // The router runs in its own namespace with no addresses, so no kernel answers for it
      // there, and af_packet's fanout groups (numbered by pid ^ ifindex) never meet another
      // router's.
      Sh.must("ip", "netns", "add", node.routerNs);
      Sh.mustIn(node.routerNs, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
      Sh.mustIn(node.routerNs, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
      Sh.mustIn(node.routerNs, "ip", "link", "set", "lo", "up");
      Sh.must(
          "ip",
          "link",
          "add",
          node.uplink,
          "netns",
          node.routerNs,
          "type",
          "veth",
          "peer",
          "name",
          "fb" + n,
          "netns",
          "fn-fabric");
      Sh.mustIn(node.routerNs, "ip", "link", "set", node.uplink, "up");
      Sh.mustIn("fn-fabric", "ip", "link", "set", "fb" + n, "master", "br0", "up");
      Sh.must("ip", "netns", "add", node.hostNs);
      node.configureHost();
      for (Pod pod : node.pods) {
        pod.plug();
      }
    }
    if (!noVm) {
      startVmPod(cluster.get(0));
    }
    for (Node node : cluster) {
      node.writeConfig(cluster, !noVm && node.index == 1);
      node.start();
    }
    for (Node node : cluster) {
      node.awaitReady();
      node.awaitKernelEnd(1);
    }
    System.out.println("cluster: routers up; pods: " + podList());
  }

  private String podList() {
    List<String> names = new ArrayList<>();
    for (Node node : cluster) {
      for (Pod pod : node.pods) {
        names.add(pod.name + " " + pod.ipv4);
      }
    }
    if (!noVm) {
      names.add("vm1 10.244.1.9 (vhost-user, testpmd)");
    }
    return String.join(", ", names);
  }

  /** A VM-style pod: testpmd answering ARP and ping over virtio_user, as the vhost-user server. */
  private void startVmPod(Node node) throws IOException {
    Path socket = dir.resolve("vm1.sock");
    Files.deleteIfExists(socket);
    vmPod =
        new ProcessBuilder(
                "dpdk-testpmd",
                "--lcores=0@0,1@0",
                "--in-memory",
                "--single-file-segments",
                "--no-pci",
                "--no-telemetry",
                "--file-prefix=fn-vm1",
                "--vdev=net_virtio_user0,path="
                    + socket
                    + ",server=1,queues=1,mac=02:00:00:00:01:09",
                "--",
                "--forward-mode=icmpecho",
                "--auto-start",
                "--stats-period=10")
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("vm1-testpmd.log").toFile())
            .start();
    node.vmSocket = socket;
  }

  // ------------------------------------------------------------------ checks

  private void checks() throws Exception {
    warmUp();
    List<Pod> pods = allPods();
    System.out.println();
    System.out.println(
        "1. every pod pings every other pod (ttl seen by the sender: 63 = one router, 62 = two)");
    matrix(pods, false);
    System.out.println();
    System.out.println("2. the same over IPv6 (hop limit)");
    matrix(pods, true);
    if (!noVm) {
      System.out.println();
      System.out.println(
          "3. pods reach the VM pod (testpmd over vhost-user on node 1, 10.244.1.9)");
      for (Pod pod : pods) {
        String result = ping(pod.namespace, "10.244.1.9", false);
        System.out.printf(Locale.ROOT, "   %-10s -> vm1  %s%n", pod.name, result);
      }
      vmPortState(cluster.get(0));
    }
    System.out.println();
    System.out.println("4. no NAT: what the receiving pod captures");
    Pod sender = pods.get(0);
    noNat(sender.namespace, sender.name, sender.ipv4, pods.get(pods.size() - 1));
    System.out.println();
    System.out.println(
        "5. each node's host reaches its own pods through the host path, and pods reach remote node IPs");
    for (Node node : cluster) {
      Pod local = node.pods.get(0);
      String host = ping(node.hostNs, local.ipv4, false);
      Node remote = cluster.get(node.index % nodes);
      String nodeIp = ping(local.namespace, remote.ipv4, false);
      System.out.printf(
          Locale.ROOT,
          "   host %s -> %-12s %-10s   %s -> node %s (%s) %s%n",
          node.name,
          local.ipv4,
          host,
          local.name,
          remote.name,
          remote.ipv4,
          nodeIp);
    }
    System.out.println();
    System.out.println("6. TCP between pods on different nodes (iperf3)");
    tcp(cluster.get(0).pods.get(0), cluster.get(nodes - 1).pods.get(1));
    kernelChecks = new NodeKernelChecks(cluster, dir, tcpSeconds);
    kernelChecks.startServers();
    System.out.println();
    System.out.println(
        "7. each node's kernel keeps its node IPs: its only link is flatnet's TAP; a TCP server in"
            + " it answers the outside host and the other nodes' kernels");
    kernelChecks.nodeKernelsKeepTheirAddresses();
    System.out.println();
    System.out.println(
        "8. host-network processes reach pods on every node without NAT, and pods reach them");
    kernelChecks.hostNetworkToPods();
    noNat(
        cluster.get(0).hostNs,
        "host of " + cluster.get(0).name,
        cluster.get(0).ipv4,
        cluster.get(nodes - 1).pods.get(0));
    System.out.println();
    System.out.println(
        "9. Services through kube-proxy's rules in each node's kernel (kube-proxy-rules.sh,"
            + " --masquerade-all)");
    kernelChecks.servicesThroughKubeProxy();
    failures += kernelChecks.failures();
    kernelFailuresCounted = kernelChecks.failures();
    System.out.println();
    System.out.println(
        "10. network policy: each node enforces egress for its pods as sources and ingress for"
            + " its pods as destinations (the same policy section on every node)");
    PolicyChecks policy = new PolicyChecks(cluster);
    policy.run(
        extra -> {
          for (Node node : cluster) {
            node.extraYaml = extra;
            node.writeConfig(cluster, !noVm && node.index == 1);
          }
        });
    failures += policy.failures();
  }

  private List<Pod> allPods() {
    List<Pod> pods = new ArrayList<>();
    for (Node node : cluster) {
      pods.addAll(node.pods);
    }
    return pods;
  }

  /** First packets resolve neighbours along the way; give them one round before the checks. */
  private void warmUp() {
    List<Pod> pods = allPods();
    for (Pod from : pods) {
      for (Pod to : pods) {
        if (from != to) {
          Sh.runIn(from.namespace, "ping", "-c", "1", "-W", "1", to.ipv4);
        }
      }
    }
  }

  private void matrix(List<Pod> pods, boolean ipv6) {
    StringBuilder header = new StringBuilder(String.format(Locale.ROOT, "   %-10s", "from\\to"));
    for (Pod to : pods) {
      header.append(String.format(Locale.ROOT, " %-10s", to.name));
    }
    System.out.println(header);
    for (Pod from : pods) {
      StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "   %-10s", from.name));
      for (Pod to : pods) {
        String cell = from == to ? "-" : ping(from.namespace, ipv6 ? to.ipv6 : to.ipv4, ipv6);
        if (from != to) {
          int expected = from.node == to.node ? 63 : 62;
          if (!cell.equals("ok ttl=" + expected)) {
            cell = cell + "!";
            failures++;
          }
        }
        row.append(String.format(Locale.ROOT, " %-10s", cell));
      }
      System.out.println(row);
    }
  }

  /**
   * Kills a node's agent (SIGKILL) while {@code from} pings {@code to} through that node every 20
   * ms: the supervisor starts a new agent, which finds the dataplane as it left it; not one ping
   * may be lost.
   */
  private void restartAgent(Node node, Pod from, Pod to) throws Exception {
    Process flow =
        new ProcessBuilder(
                Sh.in(from.namespace, "ping", "-i", "0.02", "-c", "200", "-W", "1", to.ipv4))
            .redirectErrorStream(true)
            .start();
    Thread.sleep(1000);
    int ready = node.logCount("flatnet agent: ready");
    long killed = System.nanoTime();
    node.kill("agent");
    boolean back = node.awaitLogCount("flatnet agent: ready", ready + 1, 60);
    double seconds = (System.nanoTime() - killed) / 1e9;
    flow.waitFor(30, TimeUnit.SECONDS);
    String summary = pingSummary(flow);
    boolean lossless = summary.contains(" 0% packet loss");
    String log = node.log();
    boolean unchanged =
        log.substring(log.lastIndexOf("flatnet run: agent pid")).contains("Unchanged[");
    if (!back || !lossless || !unchanged) {
      failures++;
    }
    System.out.printf(
        Locale.ROOT,
        "   agent of %s killed (kill -9): a new one served %.1f s later, %s; %s -> %s through it"
            + " meanwhile: %s%n",
        node.name,
        seconds,
        unchanged ? "it changed nothing (Unchanged)" : "FAIL: it changed the dataplane",
        from.name,
        to.name,
        lossless ? summary.strip() : "FAIL: " + summary.strip());
  }

  /**
   * Kills a node's dataplane (SIGKILL): the supervisor starts a new one, the agent applies the
   * whole state to it, the vhost-user pod (flatnet is its client) reconnects. Reports how long each
   * took from the kill.
   */
  private void restartDataplane(Node node, Pod affected, Pod peer) throws Exception {
    int restarted = node.logCount("flatnet agent: the dataplane restarted");
    java.nio.file.attribute.FileTime killedAt =
        java.nio.file.attribute.FileTime.from(java.time.Instant.now());
    int kernelEnds = node.logCount(Node.KERNEL_END);
    long killed = System.nanoTime();
    node.kill("dataplane");
    boolean reapplied =
        node.awaitLogCount("flatnet agent: the dataplane restarted", restarted + 1, 60);
    double reappliedAfter = (System.nanoTime() - killed) / 1e9;
    node.awaitKernelEnd(kernelEnds + 1);
    String recovered = awaitPing(affected.namespace, peer.ipv4, 30);
    double pingAfter = (System.nanoTime() - killed) / 1e9;
    String vm = "";
    if (node.vmSocket != null) {
      long deadline = System.nanoTime() + 30_000_000_000L;
      Path status = node.runDir.resolve("vhost-ports.json");
      boolean running = false;
      while (!running && System.nanoTime() < deadline) {
        // The killed dataplane's file still says running: only the new one's counts.
        running =
            Files.exists(status)
                && Files.getLastModifiedTime(status).compareTo(killedAt) > 0
                && VM_RUNNING.matcher(Files.readString(status)).find();
        Thread.sleep(50);
      }
      vm =
          running
              ? String.format(
                  Locale.ROOT,
                  "; vm1 running again after %.1f s",
                  (System.nanoTime() - killed) / 1e9)
              : "; FAIL: vm1 not running again in 30 s";
      if (!running) {
        failures++;
      }
    }
    if (!reapplied || !recovered.startsWith("ok")) {
      failures++;
    }
    if (kernelChecks != null) {
      kernelChecks.kernelAnswersOutside(node);
    }
    String started =
        node.log()
            .lines()
            .filter(l -> l.contains("flatnet dataplane: ready"))
            .reduce((a, b) -> b)
            .map(l -> l.substring(l.indexOf("started in") + "started in ".length()))
            .orElse("?");
    System.out.printf(
        Locale.ROOT,
        "   dataplane of %s killed (kill -9): the new one started in %s; state re-applied %.1f s"
            + " after the kill; %s -> %s %s, %.1f s after the kill%s%n",
        node.name,
        started,
        reappliedAfter,
        affected.name,
        peer.name,
        recovered,
        pingAfter,
        vm);
  }

  private static String pingSummary(Process ping) throws IOException {
    return new String(ping.getInputStream().readAllBytes(), StandardCharsets.UTF_8)
        .lines()
        .filter(l -> l.contains("packets transmitted"))
        .findFirst()
        .orElse("(no summary)");
  }

  private static final Pattern VM_RUNNING =
      Pattern.compile("\"name\"\\s*:\\s*\"default/vm1\"[^}]*\"state\"\\s*:\\s*\"running\"");

  /** The router's vhost-user port monitor reports the VM pod's port as running. */
  private void vmPortState(Node node) throws IOException {
    Path status = node.runDir.resolve("vhost-ports.json");
    String text = Files.exists(status) ? Files.readString(status) : "";
    boolean running = VM_RUNNING.matcher(text).find();
    if (!running) {
      failures++;
    }
    System.out.printf(
        Locale.ROOT,
        "   %s's vhost-user monitor (%s): vm1 %s%n",
        node.name,
        status,
        running ? "running" : "FAIL: not running: " + text.strip());
  }

  private static final Pattern TTL = Pattern.compile("ttl=(\\d+)");

  /** "ok ttl=N" if a ping got through, else "FAIL". */
  private String ping(String namespace, String address, boolean ipv6) {
    Sh.Result result =
        ipv6
            ? Sh.runIn(namespace, "ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", address)
            : Sh.runIn(namespace, "ping", "-c", "2", "-i", "0.2", "-W", "2", address);
    Matcher ttl = TTL.matcher(result.output());
    if (result.ok() && ttl.find()) {
      return "ok ttl=" + ttl.group(1);
    }
    failures++;
    return "FAIL";
  }

  private void noNat(String senderNs, String senderName, String senderIp, Pod receiver)
      throws Exception {
    Path captured = dir.resolve("tcpdump.txt");
    Process capture =
        new ProcessBuilder(
                Sh.in(
                    receiver.namespace,
                    "tcpdump",
                    "-n",
                    "-l",
                    "-i",
                    "eth0",
                    "-c",
                    "1",
                    "icmp[icmptype] == icmp-echo"))
            .redirectErrorStream(true)
            .redirectOutput(captured.toFile())
            .start();
    Thread.sleep(1500);
    Sh.runIn(senderNs, "ping", "-c", "2", "-W", "2", receiver.ipv4);
    boolean done = capture.waitFor(5, TimeUnit.SECONDS);
    capture.destroyForcibly();
    String seen = Files.readString(captured);
    String line =
        seen.lines().filter(l -> l.contains(" > ")).findFirst().orElse("(nothing captured)");
    boolean ok = done && line.contains(senderIp + " > " + receiver.ipv4);
    if (!ok) {
      failures++;
    }
    System.out.printf(
        Locale.ROOT,
        "   %s (%s) pings %s; tcpdump in %s: %s -> %s%n",
        senderName,
        senderIp,
        receiver.ipv4,
        receiver.name,
        line.trim(),
        ok ? "source unchanged" : "FAIL");
  }

  /** iperf3 -J: the bits a second the server received. */
  static final Pattern RECEIVED_BPS =
      Pattern.compile(
          "\"sum_received\"\\s*:\\s*\\{[^}]*?\"bits_per_second\"\\s*:\\s*([0-9.eE+]+)",
          Pattern.DOTALL);

  private void tcp(Pod client, Pod server) throws Exception {
    Process iperf =
        new ProcessBuilder(Sh.in(server.namespace, "iperf3", "-s", "-1", "-p", "5201"))
            .redirectErrorStream(true)
            .start();
    Thread.sleep(800);
    Sh.Result result =
        Sh.run(
            Sh.in(
                client.namespace,
                "iperf3",
                "-c",
                server.ipv4,
                "-p",
                "5201",
                "-t",
                Integer.toString(tcpSeconds),
                "-J"),
            tcpSeconds + 30);
    iperf.waitFor(5, TimeUnit.SECONDS);
    iperf.destroyForcibly();
    Matcher bps = RECEIVED_BPS.matcher(result.output());
    if (result.ok() && bps.find()) {
      System.out.printf(
          Locale.ROOT,
          "   %s -> %s (%s -> %s): %.1f Mbit/s over %d s%n",
          client.name,
          server.name,
          client.node.name,
          server.node.name,
          Double.parseDouble(bps.group(1)) / 1e6,
          tcpSeconds);
    } else {
      failures++;
      System.out.println("   FAIL: " + result.output().lines().limit(5).toList());
    }
  }

  // ------------------------------------------------------------------ churn

  /**
   * 200 static routes added and removed through {@code node}'s agent socket (as {@code flatnet ctl
   * route add|del} does), each a generation of its own, while the unaffected flow runs.
   */
  private void routeChurn(Node node, Node via) throws IOException {
    AgentClient agent = new AgentClient(node.runDir.resolve("agent.sock"), Duration.ofSeconds(5));
    int routes = 200;
    int failed = 0;
    long begun = System.nanoTime();
    for (int i = 0; i < routes; i++) {
      String prefix = "10.99." + i + ".0/24";
      if (!agent.call(AgentProtocol.Request.routeAdd(prefix, via.ipv4, "uplink")).ok()) {
        failed++;
      }
    }
    for (int i = 0; i < routes; i++) {
      if (!agent.call(AgentProtocol.Request.routeDel("10.99." + i + ".0/24")).ok()) {
        failed++;
      }
    }
    if (failed > 0) {
      failures++;
    }
    System.out.printf(
        Locale.ROOT,
        "   %d routes added and removed on %s through its agent in %.1f s: %s%n",
        routes,
        node.name,
        (System.nanoTime() - begun) / 1e9,
        failed == 0 ? "ok" : "FAIL: " + failed + " requests refused");
  }

  private void churn() throws Exception {
    System.out.println();
    System.out.println("11. churn while traffic runs");
    Node quiet = cluster.get(1);
    Node other = cluster.get(nodes - 1);
    Node restarted = cluster.get(0);
    Pod unaffectedFrom = quiet.pods.get(0);
    Pod unaffectedTo = other.pods.get(0);
    Process flow =
        new ProcessBuilder(
                Sh.in(
                    unaffectedFrom.namespace,
                    "ping",
                    "-i",
                    "0.05",
                    "-c",
                    "160",
                    "-W",
                    "1",
                    unaffectedTo.ipv4))
            .redirectErrorStream(true)
            .start();
    long started = System.nanoTime();

    Pod extra = new Pod(quiet, "c", 4);
    extra.plug();
    quiet.extraPods.add(extra);
    quiet.writeConfig(cluster, false);
    String added = awaitPing(cluster.get(0).pods.get(0).namespace, extra.ipv4, 10);
    System.out.printf(
        Locale.ROOT,
        "   pod %s added to %s by editing its config: reachable %s%n",
        extra.name,
        quiet.name,
        added);
    quiet.extraPods.remove(extra);
    quiet.writeConfig(cluster, false);
    Thread.sleep(1000);
    extra.unplug();
    System.out.printf(Locale.ROOT, "   pod %s deleted again%n", extra.name);

    routeChurn(quiet, other);

    Pod affected = restarted.pods.get(1);
    Pod peer = quiet.pods.get(1);
    restartAgent(restarted, affected, peer);
    restartDataplane(restarted, affected, peer);
    if (kernelChecks != null) {
      failures += kernelChecks.failures() - kernelFailuresCounted;
    }

    flow.waitFor(
        Math.max(1, 12 - (System.nanoTime() - started) / 1_000_000_000L), TimeUnit.SECONDS);
    flow.waitFor(15, TimeUnit.SECONDS);
    String summary =
        new String(flow.getInputStream().readAllBytes(), StandardCharsets.UTF_8)
            .lines()
            .filter(l -> l.contains("packets transmitted"))
            .findFirst()
            .orElse("(no summary)");
    boolean lossless = summary.contains(" 0% packet loss");
    if (!lossless) {
      failures++;
    }
    System.out.printf(
        Locale.ROOT,
        "   unaffected flow %s -> %s during all of it: %s -> %s%n",
        unaffectedFrom.name,
        unaffectedTo.name,
        summary.trim(),
        lossless ? "nothing lost" : "LOSS");
  }

  private static String awaitPing(String namespace, String address, int seconds) {
    long deadline = System.nanoTime() + seconds * 1_000_000_000L;
    long start = System.nanoTime();
    while (System.nanoTime() < deadline) {
      if (Sh.runIn(namespace, "ping", "-c", "1", "-W", "1", address).ok()) {
        return String.format(Locale.ROOT, "ok after %.1f s", (System.nanoTime() - start) / 1e9);
      }
    }
    return "FAIL (not within " + seconds + " s)";
  }

  // ------------------------------------------------------------------ cleanup

  /** Removes every namespace, veth, process and file the demo made, even after a failure. */
  private synchronized void destroy() {
    for (Node node : cluster) {
      node.stop();
    }
    if (vmPod != null) {
      vmPod.destroy();
      try {
        vmPod.waitFor(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      vmPod.destroyForcibly();
      vmPod = null;
    }
    if (kernelChecks != null) {
      kernelChecks.stopServers();
    }
    List<String> namespaces = new ArrayList<>(List.of("fn-fabric", NodeKernelChecks.OUTSIDE_NS));
    for (int n = 1; n <= 9; n++) {
      namespaces.add("fn-h" + n);
      namespaces.add("fn-n" + n);
      for (String letter : List.of("a", "b", "c")) {
        namespaces.add("fn-p" + n + letter);
      }
    }
    String existing = Sh.run("ip", "netns", "list").output();
    for (String namespace : namespaces) {
      if (existing.contains(namespace)) {
        Sh.run("ip", "netns", "del", namespace);
      }
    }
    String links = Sh.run("ip", "-o", "link", "show").output();
    Matcher ours = Pattern.compile("\\d+: (fn[a-z]\\d[a-z]?)[@:]").matcher(links);
    while (ours.find()) {
      Sh.run("ip", "link", "del", ours.group(1));
    }
    cluster.clear();
    if (failures == 0) {
      deleteTree(dir.toFile());
    } else if (Files.isDirectory(dir)) {
      System.err.println("cluster demo: configs and router logs kept in " + dir);
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

  // ------------------------------------------------------------------ model

  /** A pod: a network namespace whose eth0 is a veth; the router opens the host end. */
  static final class Pod {
    final Node node;
    final String name;
    final String namespace;
    final String hostIface;
    final String ipv4;
    final String ipv6;

    Pod(Node node, String letter, int host) {
      this.node = node;
      this.name = "pod" + node.index + letter;
      this.namespace = "fn-p" + node.index + letter;
      this.hostIface = "fnp" + node.index + letter;
      this.ipv4 = "10.244." + node.index + "." + host;
      this.ipv6 = "fd00:244:" + node.index + "::" + host;
    }

    /** What the CNI plugin does for a netns pod: veth, address, routes via the gateway. */
    void plug() {
      Sh.must("ip", "netns", "add", namespace);
      Sh.must(
          "ip",
          "link",
          "add",
          hostIface,
          "netns",
          node.routerNs,
          "type",
          "veth",
          "peer",
          "name",
          "eth0",
          "netns",
          namespace);
      Sh.mustIn(node.routerNs, "ip", "link", "set", hostIface, "up");
      Sh.mustIn(namespace, "ip", "link", "set", "lo", "up");
      Sh.mustIn(namespace, "ip", "link", "set", "eth0", "up");
      Sh.mustIn(namespace, "ethtool", "-K", "eth0", "tx", "off");
      Sh.mustIn(namespace, "ip", "addr", "add", ipv4 + "/32", "dev", "eth0");
      Sh.mustIn(namespace, "ip", "route", "add", "169.254.1.1", "dev", "eth0");
      Sh.mustIn(namespace, "ip", "route", "add", "default", "via", "169.254.1.1", "dev", "eth0");
      Sh.mustIn(namespace, "ip", "-6", "addr", "add", ipv6 + "/128", "dev", "eth0", "nodad");
      Sh.mustIn(namespace, "ip", "-6", "route", "add", "default", "via", "fe80::1", "dev", "eth0");
    }

    void unplug() {
      Sh.run("ip", "netns", "del", namespace);
      Sh.runIn(node.routerNs, "ip", "link", "del", hostIface);
    }
  }

  /** A node: a router process with its config, an uplink on the fabric and a host namespace. */
  static final class Node {
    final int index;
    final String name;
    final String uplink;
    final String hostNs;
    final String routerNs;
    final String tap;
    final String ipv4;
    final String ipv6;
    final List<Pod> pods = new ArrayList<>();
    final List<Pod> extraPods = new ArrayList<>();
    final Path config;
    final Path runDir;
    Path vmSocket;
    Process router;

    /** More config appended as is (the policy check's section), or "". */
    String extraYaml = "";

    Node(int index, Path dir) {
      this.index = index;
      this.name = "node" + index;
      this.uplink = "fnu" + index;
      this.hostNs = "fn-h" + index;
      this.routerNs = "fn-n" + index;
      this.tap = "fnt" + index;
      this.ipv4 = "10.250.0." + index;
      this.ipv6 = "fd00:250::" + index;
      this.config = dir.resolve(name + ".yaml");
      this.runDir = dir.resolve(name);
      pods.add(new Pod(this, "a", 2));
      pods.add(new Pod(this, "b", 3));
    }

    void writeConfig(List<Node> cluster, boolean withVm) throws IOException {
      StringBuilder yaml = new StringBuilder();
      yaml.append("node:\n  name: ").append(name).append('\n');
      yaml.append("  podCIDRs: [10.244.")
          .append(index)
          .append(".0/24, \"fd00:244:")
          .append(index)
          .append("::/64\"]\n");
      yaml.append("  serviceCIDRs: [10.96.0.0/12, \"fd00:96::/108\"]\n");
      yaml.append("  gateways: [169.254.1.1, \"fe80::1\"]\n");
      yaml.append("ports:\n");
      yaml.append("  - name: uplink\n    device: net_af_packet0,iface=")
          .append(uplink)
          .append('\n');
      yaml.append("    role: uplink\n    addresses: [")
          .append(ipv4)
          .append("/24, \"")
          .append(ipv6)
          .append("/64\"]\n");
      yaml.append("  - name: host\n    device: net_tap0,iface=").append(tap).append('\n');
      yaml.append("    role: host\n    addresses: [169.254.200.1/30]\n");
      // The agent moves the TAP into the node's "kernel" and gives it the node's addresses and
      // default routes, again after each dataplane restart.
      yaml.append("    kernel: {configure: true, namespace: ").append(hostNs).append("}\n");
      yaml.append("pods:\n");
      List<Pod> all = new ArrayList<>(pods);
      all.addAll(extraPods);
      for (Pod pod : all) {
        yaml.append("  - name: default/").append(pod.name).append("\n    kind: af_packet\n");
        yaml.append("    interface: ").append(pod.hostIface).append('\n');
        yaml.append("    ips: [").append(pod.ipv4).append(", \"").append(pod.ipv6).append("\"]\n");
      }
      if (withVm || vmSocket != null) {
        yaml.append("  - name: default/vm1\n    kind: vhost-user\n    socket: ")
            .append(vmSocket)
            .append('\n');
        yaml.append("    mode: client\n    ips: [10.244.1.9]\n    mac: \"02:00:00:00:01:09\"\n");
      }
      yaml.append("peers:\n");
      for (Node peer : cluster) {
        if (peer != this) {
          yaml.append("  - name: ").append(peer.name).append('\n');
          yaml.append("    nodeIPs: [")
              .append(peer.ipv4)
              .append(", \"")
              .append(peer.ipv6)
              .append("\"]\n");
          yaml.append("    podCIDRs: [10.244.")
              .append(peer.index)
              .append(".0/24, \"fd00:244:")
              .append(peer.index)
              .append("::/64\"]\n");
        }
      }
      // Everything else goes to the fabric's gateway, the outside host.
      yaml.append("routes:\n  - prefix: 0.0.0.0/0\n    via: ")
          .append(NodeKernelChecks.OUTSIDE_V4)
          .append("\n    port: uplink\n  - prefix: \"::/0\"\n    via: \"")
          .append(NodeKernelChecks.OUTSIDE_V6)
          .append("\"\n    port: uplink\n");
      int cpus = Runtime.getRuntime().availableProcessors();
      yaml.append("workers:\n  cpus: [").append(cpus - 1).append("]\n  idle: backoff\n");
      yaml.append(extraYaml);
      Path temporary = config.resolveSibling(config.getFileName() + ".tmp");
      Files.writeString(temporary, yaml.toString());
      Files.move(
          temporary,
          config,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    void start() throws IOException {
      Files.createDirectories(runDir);
      Files.deleteIfExists(runDir.resolve("ready"));
      router = startNode(routerNs, config, runDir);
    }

    void awaitReady() throws Exception {
      Path log = runDir.resolve("router.log");
      long deadline = System.nanoTime() + 60_000_000_000L;
      while (System.nanoTime() < deadline) {
        if (!router.isAlive()) {
          throw new IllegalStateException(name + "'s router exited:\n" + Files.readString(log));
        }
        if (Files.exists(log) && Files.readString(log).contains("CNI socket")) {
          return;
        }
        Thread.sleep(100);
      }
      throw new IllegalStateException(
          name + "'s router did not start in 60 s:\n" + Files.readString(log));
    }

    /**
     * The node's kernel before its router starts; the agent does the rest ({@code kernel:} in the
     * host port's config): it moves the TAP here with the node IPs and default routes.
     */
    void configureHost() {
      Sh.mustIn(hostNs, "ip", "link", "set", "lo", "up");
      // Service traffic enters and leaves by the TAP; the router, not the kernel, picks next hops.
      Sh.mustIn(hostNs, "sysctl", "-qw", "net.ipv4.conf.all.send_redirects=0");
    }

    static final String KERNEL_END = "flatnet agent: kernel end of host: ";

    /** Waits until the agent has configured the TAP's kernel end {@code count} times. */
    void awaitKernelEnd(int count) throws Exception {
      if (!awaitLogCount(KERNEL_END, count, 60)) {
        throw new IllegalStateException(
            name + ": the agent did not configure the kernel end of the TAP:\n" + log());
      }
    }

    String log() throws IOException {
      Path log = runDir.resolve("router.log");
      return Files.exists(log) ? Files.readString(log) : "";
    }

    int logCount(String needle) throws IOException {
      String text = log();
      int n = 0;
      for (int at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
        n++;
      }
      return n;
    }

    boolean awaitLogCount(String needle, int count, int seconds) throws Exception {
      long deadline = System.nanoTime() + seconds * 1_000_000_000L;
      while (logCount(needle) < count) {
        if (System.nanoTime() > deadline) {
          return false;
        }
        Thread.sleep(20);
      }
      return true;
    }

    /** Kills the agent or the dataplane the supervisor last started (SIGKILL). */
    void kill(String what) throws IOException {
      long pid = NodeProcesses.reportedPid(runDir.resolve("router.log"), what);
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }

    /** A restarted dataplane makes its host port (TAP) again, in the router's namespace. */
    void stop() {
      if (router != null) {
        try {
          NodeProcesses.stopSupervisor(
              router, runDir.resolve("router.log"), Duration.ofSeconds(10));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  /**
   * Starts {@code flatnet run} (the node supervisor: dataplane, agent, and FRR when the config
   * asks) in namespace {@code ns}, its output appended to {@code runDir/router.log}.
   */
  static Process startNode(String ns, Path config, Path runDir) throws IOException {
    return new ProcessBuilder(
            NodeProcesses.supervisorCommand(
                List.of("ip", "netns", "exec", ns),
                NodeProcesses.Classpaths.find(),
                List.of(
                    "--config",
                    config.toString(),
                    "--dir",
                    runDir.toString(),
                    "--state-dir",
                    runDir.resolve("state").toString())))
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(runDir.resolve("router.log").toFile()))
        .start();
  }
}
