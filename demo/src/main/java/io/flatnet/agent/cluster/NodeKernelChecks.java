package io.flatnet.agent.cluster;

import io.flatnet.agent.cluster.ClusterDemo.Node;
import io.flatnet.agent.cluster.ClusterDemo.Pod;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;

/**
 * The cluster demo's checks of what a real node needs besides pod-to-pod: the node's kernel keeps
 * its addresses behind flatnet's TAP (issue 13 part 1), host-network processes reach every pod
 * without NAT (part 2), and Services work through kube-proxy's iptables rules in each node's kernel
 * (part 3). Each node's kernel and each pod runs {@code echo-server.py}, which answers with its
 * name and the source address it saw.
 */
final class NodeKernelChecks {
  /** A host on the fabric outside the cluster, and the nodes' default gateway. */
  static final String OUTSIDE_NS = "fn-out";

  static final String OUTSIDE_V4 = "10.250.0.254";
  static final String OUTSIDE_V6 = "fd00:250::fe";

  /** Addresses behind the default gateway (on the outside host's loopback). */
  static final String BEYOND_V4 = "198.18.0.1";

  static final String BEYOND_V6 = "fd00:198::1";

  static final int TCP_PORT = 8080;
  private static final int UDP_PORT = 5353;
  private static final int IPERF_PORT = 5201;
  private static final int NODE_PORT = 30080;

  private final List<Node> cluster;
  private final Path dir;
  private final int tcpSeconds;
  private final List<Process> servers = new ArrayList<>();
  private int failures;

  NodeKernelChecks(List<Node> cluster, Path dir, int tcpSeconds) {
    this.cluster = cluster;
    this.dir = dir;
    this.tcpSeconds = tcpSeconds;
  }

  int failures() {
    return failures;
  }

  /** The outside host: a namespace on the fabric bridge, with addresses "beyond" on loopback. */
  static void plugOutsideHost() {
    Sh.must("ip", "netns", "add", OUTSIDE_NS);
    Sh.must(
        "ip",
        "link",
        "add",
        "eth0",
        "netns",
        OUTSIDE_NS,
        "type",
        "veth",
        "peer",
        "name",
        "fbo",
        "netns",
        "fn-fabric");
    Sh.mustIn("fn-fabric", "ip", "link", "set", "fbo", "master", "br0", "up");
    Sh.mustIn(OUTSIDE_NS, "ip", "link", "set", "lo", "up");
    Sh.mustIn(OUTSIDE_NS, "ip", "link", "set", "eth0", "up");
    // A veth leaves TCP/UDP checksums to "hardware", which af_packet hands to the router
    // unfinished; a real NIC on the fabric sends them complete (the pods do the same).
    Sh.mustIn(OUTSIDE_NS, "ethtool", "-K", "eth0", "tx", "off");
    Sh.mustIn(OUTSIDE_NS, "ip", "addr", "add", OUTSIDE_V4 + "/24", "dev", "eth0");
    Sh.mustIn(OUTSIDE_NS, "ip", "-6", "addr", "add", OUTSIDE_V6 + "/64", "dev", "eth0", "nodad");
    Sh.mustIn(OUTSIDE_NS, "ip", "addr", "add", BEYOND_V4 + "/32", "dev", "lo");
    Sh.mustIn(OUTSIDE_NS, "ip", "-6", "addr", "add", BEYOND_V6 + "/128", "dev", "lo");
  }

  /** An echo server in every node's kernel and every pod, and iperf3 servers in the last node. */
  void startServers() throws Exception {
    Path script = copyResource("echo-server.py");
    for (Node node : cluster) {
      serve(node.hostNs, "host-" + node.name, script);
      for (Pod pod : node.pods) {
        serve(pod.namespace, pod.name, script);
      }
    }
    Pod target = cluster.get(cluster.size() - 1).pods.get(0);
    servers.add(
        new ProcessBuilder(Sh.in(target.namespace, "iperf3", "-s", "-p", "" + IPERF_PORT))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("iperf3-server.log").toFile())
            .start());
    for (Node node : cluster) {
      awaitAnswer(node.hostNs, "127.0.0.1");
      for (Pod pod : node.pods) {
        awaitAnswer(pod.namespace, "127.0.0.1");
      }
    }
  }

  void stopServers() {
    for (Process server : servers) {
      server.destroyForcibly();
    }
    servers.clear();
  }

  // ------------------------------------------------------------------ 7: the node's kernel

  void nodeKernelsKeepTheirAddresses() {
    for (Node node : cluster) {
      String links =
          Sh.runIn(node.hostNs, "ip", "-br", "link")
              .output()
              .lines()
              .map(l -> l.split("\\s+")[0].replaceAll("@.*", ""))
              .sorted()
              .toList()
              .toString();
      expect(
          links.equals(new java.util.TreeSet<>(List.of("lo", node.tap)).toString()),
          "%s's kernel: links %s (no way to the fabric but flatnet)",
          node.name,
          links);
    }
    for (Node node : cluster) {
      for (boolean v6 : new boolean[] {false, true}) {
        String outside = v6 ? OUTSIDE_V6 : OUTSIDE_V4;
        String answer = tcp(OUTSIDE_NS, address(node, v6));
        expect(
            answer.equals("host-" + node.name + " saw " + outside),
            "outside host -> %s's kernel %s:%d: %s",
            node.name,
            address(node, v6),
            TCP_PORT,
            answer);
        Node other = cluster.get(node.index % cluster.size());
        answer = tcp(other.hostNs, address(node, v6));
        expect(
            answer.equals("host-" + node.name + " saw " + address(other, v6)),
            "%s's kernel -> %s's kernel %s: %s",
            other.name,
            node.name,
            address(node, v6),
            answer);
      }
      String beyond4 = ping(node.hostNs, BEYOND_V4);
      String beyond6 = ping(node.hostNs, BEYOND_V6);
      expect(
          beyond4.startsWith("ok") && beyond6.startsWith("ok"),
          "%s's kernel -> beyond its default gateway (%s, %s): %s, %s",
          node.name,
          BEYOND_V4,
          BEYOND_V6,
          beyond4,
          beyond6);
    }
  }

  /** After a dataplane restart: the new TAP holds the node IP again (the agent re-applied it). */
  boolean kernelAnswersOutside(Node node) {
    String answer = awaitTcp(OUTSIDE_NS, node.ipv4, 20);
    expect(
        answer.equals("host-" + node.name + " saw " + OUTSIDE_V4),
        "outside host -> %s's kernel %s:%d after the restart: %s",
        node.name,
        node.ipv4,
        TCP_PORT,
        answer);
    return answer.startsWith("host-");
  }

  private static String awaitTcp(String namespace, String address, int seconds) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    String answer = tcp(namespace, address);
    while (answer.startsWith("no answer") && System.nanoTime() < deadline) {
      answer = tcp(namespace, address);
    }
    return answer;
  }

  // ------------------------------------------------------------------ 8: host network

  void hostNetworkToPods() {
    Node first = cluster.get(0);
    for (Node node : cluster.subList(1, cluster.size())) {
      Pod pod = node.pods.get(0);
      for (boolean v6 : new boolean[] {false, true}) {
        String to = v6 ? pod.ipv6 : pod.ipv4;
        String pinged = ping(first.hostNs, to);
        String answer = tcp(first.hostNs, to);
        expect(
            pinged.startsWith("ok") && answer.equals(pod.name + " saw " + address(first, v6)),
            "host of %s -> %s %s: ping %s, tcp: %s",
            first.name,
            pod.name,
            to,
            pinged,
            answer);
      }
      for (boolean v6 : new boolean[] {false, true}) {
        String answer = tcp(pod.namespace, address(first, v6));
        String from = v6 ? pod.ipv6 : pod.ipv4;
        expect(
            answer.equals("host-" + first.name + " saw " + from),
            "%s -> host-network process of %s %s: %s",
            pod.name,
            first.name,
            address(first, v6),
            answer);
      }
    }
  }

  // ------------------------------------------------------------------ 9: Services

  void servicesThroughKubeProxy() throws Exception {
    Node first = cluster.get(0);
    Node second = cluster.get(1);
    Node last = cluster.get(cluster.size() - 1);
    Pod client = first.pods.get(0);
    Pod sameNode = first.pods.get(1);
    Pod otherNode = second.pods.get(1);
    Pod far = last.pods.get(0);
    Path rules = copyResource("kube-proxy-rules.sh");
    // The same Services on every node, as kube-proxy writes them from the API.
    for (Node node : cluster) {
      List<List<String>> services =
          List.of(
              List.of("init"),
              List.of(
                  "service",
                  "default/web",
                  "tcp",
                  "10.96.0.10",
                  "80",
                  "" + NODE_PORT,
                  sameNode.ipv4 + ":" + TCP_PORT,
                  otherNode.ipv4 + ":" + TCP_PORT),
              List.of(
                  "service",
                  "default/web",
                  "tcp",
                  "fd00:96::10",
                  "80",
                  "" + NODE_PORT,
                  "[" + sameNode.ipv6 + "]:" + TCP_PORT,
                  "[" + otherNode.ipv6 + "]:" + TCP_PORT),
              List.of(
                  "service",
                  "default/self",
                  "tcp",
                  "10.96.0.11",
                  "80",
                  "-",
                  client.ipv4 + ":" + TCP_PORT),
              List.of(
                  "service",
                  "kube-system/dns",
                  "udp",
                  "10.96.0.53",
                  "53",
                  "-",
                  far.ipv4 + ":" + UDP_PORT),
              List.of(
                  "service",
                  "kube-system/dns",
                  "udp",
                  "fd00:96::53",
                  "53",
                  "-",
                  "[" + far.ipv6 + "]:" + UDP_PORT),
              List.of(
                  "service",
                  "default/iperf",
                  "tcp",
                  "10.96.0.52",
                  "" + IPERF_PORT,
                  "-",
                  far.ipv4 + ":" + IPERF_PORT));
      for (List<String> service : services) {
        List<String> command = new ArrayList<>(List.of("bash", rules.toString()));
        command.addAll(service);
        Sh.mustIn(node.hostNs, command.toArray(String[]::new));
      }
    }
    String masq4 = first.ipv4;
    for (boolean v6 : new boolean[] {false, true}) {
      String clusterIp = v6 ? "[fd00:96::10]" : "10.96.0.10";
      Map<String, Integer> backends = new TreeMap<>();
      for (int i = 0; i < 20; i++) {
        backends.merge(tcp(client.namespace, clusterIp, 80), 1, Integer::sum);
      }
      String masq = address(first, v6);
      expect(
          backends
              .keySet()
              .equals(
                  new java.util.TreeSet<>(
                      List.of(sameNode.name + " saw " + masq, otherNode.name + " saw " + masq))),
          "%s -> ClusterIP %s:80 (backends %s on %s, %s on %s), 20 connections: %s",
          client.name,
          clusterIp,
          sameNode.name,
          first.name,
          otherNode.name,
          second.name,
          backends);
    }
    String hairpin = tcp(client.namespace, "10.96.0.11", 80);
    expect(
        hairpin.equals(client.name + " saw " + masq4),
        "%s -> its own Service 10.96.0.11:80 (hairpin): %s",
        client.name,
        hairpin);
    String fromHost = tcp(second.hostNs, "10.96.0.10", 80);
    expect(
        fromHost.startsWith(sameNode.name + " saw ") || fromHost.startsWith(otherNode.name),
        "host of %s -> ClusterIP 10.96.0.10:80: %s",
        second.name,
        fromHost);
    for (Node node : cluster) {
      for (boolean v6 : new boolean[] {false, true}) {
        String at = v6 ? "[" + node.ipv6 + "]" : node.ipv4;
        String answer = tcp(OUTSIDE_NS, at, NODE_PORT);
        String masq = address(node, v6);
        expect(
            answer.equals(sameNode.name + " saw " + masq)
                || answer.equals(otherNode.name + " saw " + masq),
            "outside host -> NodePort %s:%d: %s",
            at,
            NODE_PORT,
            answer);
      }
    }
    for (boolean v6 : new boolean[] {false, true}) {
      String dns = v6 ? "fd00:96::53" : "10.96.0.53";
      String answer = udp(client.namespace, dns, 53);
      expect(
          answer.equals(far.name + " saw " + address(first, v6)),
          "%s -> DNS-like Service %s:53/udp (backend %s on %s): %s",
          client.name,
          dns,
          far.name,
          last.name,
          answer);
    }
    double direct = iperf(client.namespace, far.ipv4);
    double viaService = iperf(client.namespace, "10.96.0.52");
    expect(
        direct > 0 && viaService > 0,
        "iperf3 %s -> %s: direct %.1f Mbit/s, through ClusterIP 10.96.0.52 %.1f Mbit/s (%.2fx)",
        client.name,
        far.name,
        direct / 1e6,
        viaService / 1e6,
        direct > 0 ? viaService / direct : 0);
  }

  // ------------------------------------------------------------------ tools

  private static String address(Node node, boolean v6) {
    return v6 ? node.ipv6 : node.ipv4;
  }

  private void expect(boolean ok, String format, Object... args) {
    if (!ok) {
      failures++;
    }
    System.out.println("   " + String.format(Locale.ROOT, format, args) + (ok ? "" : "  FAIL"));
  }

  private void serve(String namespace, String name, Path script) throws IOException {
    servers.add(
        new ProcessBuilder(
                Sh.in(namespace, "python3", script.toString(), name, "" + TCP_PORT, "" + UDP_PORT))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("server-" + name + ".log").toFile())
            .start());
  }

  private void awaitAnswer(String namespace, String address) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      if (!tcp(namespace, address).startsWith("no answer")) {
        return;
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("the echo server in " + namespace + " did not start");
  }

  private Path copyResource(String name) throws IOException {
    Path target = dir.resolve(name);
    try (InputStream in = NodeKernelChecks.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("resource " + name + " missing from the demo's jar");
      }
      Files.write(target, in.readAllBytes());
    }
    return target;
  }

  /** The echo server's answer over TCP ("NAME saw SOURCE"), or "no answer: ...". */
  static String tcp(String namespace, String address) {
    boolean v6 = address.contains(":") && !address.startsWith("[");
    return tcp(namespace, v6 ? "[" + address + "]" : address, TCP_PORT);
  }

  private static String tcp(String namespace, String host, int port) {
    Sh.Result result =
        Sh.runIn(namespace, "curl", "-s", "-g", "-m", "5", "http://" + host + ":" + port + "/");
    return result.ok() ? result.output().strip() : "no answer: curl exit " + result.exit();
  }

  private static String udp(String namespace, String address, int port) {
    String client =
        "import socket,sys\n"
            + "a=sys.argv[1]\n"
            + "s=socket.socket(socket.AF_INET6 if ':' in a else socket.AF_INET,socket.SOCK_DGRAM)\n"
            + "s.settimeout(2)\n"
            + "for _ in range(3):\n"
            + "  s.sendto(b'query',(a,int(sys.argv[2])))\n"
            + "  try:\n"
            + "    print(s.recv(2048).decode().strip()); break\n"
            + "  except socket.timeout: pass\n"
            + "else: print('no answer')\n";
    return Sh.runIn(namespace, "python3", "-c", client, address, "" + port).output().strip();
  }

  /** Two pings answered. */
  static boolean pingOk(String namespace, String address) {
    return ping(namespace, address).equals("ok");
  }

  private static String ping(String namespace, String address) {
    Sh.Result result = Sh.runIn(namespace, "ping", "-c", "2", "-i", "0.2", "-W", "2", address);
    return result.ok() ? "ok" : "FAIL";
  }

  /** Bits per second received by the iperf3 server, 0 on failure. */
  private double iperf(String namespace, String address) {
    Sh.Result result =
        Sh.run(
            Sh.in(
                namespace,
                "iperf3",
                "-c",
                address,
                "-p",
                "" + IPERF_PORT,
                "-t",
                "" + tcpSeconds,
                "-J"),
            tcpSeconds + 30);
    Matcher bps = ClusterDemo.RECEIVED_BPS.matcher(result.output());
    return result.ok() && bps.find() ? Double.parseDouble(bps.group(1)) : 0;
  }
}
