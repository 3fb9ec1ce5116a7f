package io.flatnet.agent.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import io.flatnet.agent.api.AgentClient;
import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.cluster.ClusterDemo.Node;
import io.flatnet.agent.cluster.ClusterDemo.Pod;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The cluster demo's network policy check: every node gets the same {@code policy:} section (the
 * pods' labels and two NetworkPolicies), so each node enforces egress for its own pods as sources
 * and ingress for its own pods as destinations.
 *
 * <ul>
 *   <li>{@code default/default-deny-ingress}: every pod is isolated for ingress.
 *   <li>{@code default/web-from-db}: pods {@code role: web} (each node's pod "b") take anything
 *       from pods {@code role: db} (each node's pod "a").
 *   <li>{@code default/db-ingress}: db pods take TCP on the named port {@code echo} from web pods.
 *   <li>{@code default/web-egress}: web pods may open TCP connections to db pods only.
 * </ul>
 *
 * It prints the TCP matrix before and after, checks single flows, the host exemption and {@code ctl
 * trace}, then removes the policies again; an allowed ping flow runs across both changes.
 */
final class PolicyChecks {
  private final List<Node> cluster;
  private int failures;

  PolicyChecks(List<Node> cluster) {
    this.cluster = cluster;
  }

  int failures() {
    return failures;
  }

  /** The section every node's config carries while the check runs. */
  static String section(List<Node> cluster) {
    StringBuilder y =
        new StringBuilder("policy:\n  namespaces:\n    - metadata: {name: default}\n");
    y.append("  pods:\n");
    for (Node node : cluster) {
      for (Pod pod : node.pods) {
        y.append("    - metadata: {namespace: default, name: ")
            .append(pod.name)
            .append(", labels: {role: ")
            .append(role(pod))
            .append("}}\n")
            .append("      spec: {containers: [{name: echo, ports: [{name: echo, containerPort: ")
            .append(NodeKernelChecks.TCP_PORT)
            .append(", protocol: TCP}]}]}\n")
            .append("      status: {podIPs: [{ip: ")
            .append(pod.ipv4)
            .append("}, {ip: \"")
            .append(pod.ipv6)
            .append("\"}]}\n");
      }
    }
    y.append(
        """
          networkPolicies:
            - apiVersion: networking.k8s.io/v1
              kind: NetworkPolicy
              metadata: {namespace: default, name: default-deny-ingress}
              spec:
                podSelector: {}
                policyTypes: [Ingress]
            - apiVersion: networking.k8s.io/v1
              kind: NetworkPolicy
              metadata: {namespace: default, name: web-from-db}
              spec:
                podSelector: {matchLabels: {role: web}}
                ingress:
                  - from: [{podSelector: {matchLabels: {role: db}}}]
            - apiVersion: networking.k8s.io/v1
              kind: NetworkPolicy
              metadata: {namespace: default, name: db-ingress}
              spec:
                podSelector: {matchLabels: {role: db}}
                policyTypes: [Ingress]
                ingress:
                  - from: [{podSelector: {matchLabels: {role: web}}}]
                    ports: [{port: echo}]
            - apiVersion: networking.k8s.io/v1
              kind: NetworkPolicy
              metadata: {namespace: default, name: web-egress}
              spec:
                podSelector: {matchLabels: {role: web}}
                policyTypes: [Egress]
                egress:
                  - to: [{podSelector: {matchLabels: {role: db}}}]
                    ports: [{port: %d, protocol: TCP}]
        """
            .formatted(NodeKernelChecks.TCP_PORT));
    return y.toString();
  }

  private static String role(Pod pod) {
    return pod.name.endsWith("a") ? "db" : "web";
  }

  /** Applies the policies to every node, checks what they allow and deny, removes them again. */
  void run(ClusterConfigs configs) throws Exception {
    Node n1 = cluster.get(0);
    Node n2 = cluster.get(1);
    Node last = cluster.get(cluster.size() - 1);
    Pod db1 = n1.pods.get(0);
    Pod web1 = n1.pods.get(1);
    Pod db2 = n2.pods.get(0);
    Pod web2 = n2.pods.get(1);
    Pod webLast = last.pods.get(1);
    Pod dbLast = last.pods.get(0);
    // A flow the policies allow all along (db pods' egress and web pods' ingress stay open), kept
    // running across both policy changes: an update must not drop allowed traffic.
    Process allowed =
        new ProcessBuilder(Sh.in(dbLast.namespace, "ping", "-i", "0.05", "-W", "1", web2.ipv4))
            .redirectErrorStream(true)
            .start();
    System.out.println("   TCP to each pod's echo port before (a = role db, b = role web):");
    matrix(Map.of());
    configs.write(section(cluster));
    // The agents apply a changed config within about a second; wait for the first deny.
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (NodeKernelChecks.tcp(db2.namespace, db1.ipv4).startsWith(db1.name)
        && System.nanoTime() < deadline) {
      Thread.sleep(200);
    }
    System.out.println(
        "   after default-deny-ingress, web-from-db (any port), db-ingress (web on the named port"
            + " echo) and web-egress (TCP to db only):");
    matrix(expectedAfter());
    expectAnswer(web2, db1, false, true, "web -> db, across nodes (both policies allow)");
    expectAnswer(web2, db1, true, true, "the same over IPv6");
    expectAnswer(db2, db1, false, false, "db -> db (node 1 denies it at ingress)");
    expectAnswer(db2, db1, true, false, "the same over IPv6");
    expectAnswer(web1, webLast, false, false, "web -> web (web-egress at node 1 denies)");
    expect(
        !NodeKernelChecks.pingOk(web2.namespace, db1.ipv4),
        "ping %s -> %s: denied (web-egress allows TCP only)",
        web2.name,
        db1.name);
    String host = NodeKernelChecks.tcp(n1.hostNs, db1.ipv4);
    expect(
        host.startsWith(db1.name),
        "node1's kernel -> %s: %s (the pod's own node is always allowed)",
        db1.name,
        host);
    trace(n1, web2, db1, true);
    trace(n1, db2, db1, false);
    configs.write("");
    deadline = System.nanoTime() + 20_000_000_000L;
    while (!NodeKernelChecks.tcp(db2.namespace, db1.ipv4).startsWith(db1.name)
        && System.nanoTime() < deadline) {
      Thread.sleep(200);
    }
    expectAnswer(db2, db1, false, true, "policies removed: db -> db is open again");
    Sh.run("kill", "-INT", "" + allowed.pid()); // ping prints its summary on SIGINT
    String output =
        new String(
            allowed.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    List<Integer> lost = unanswered(output);
    expect(
        lost != null && lost.isEmpty(),
        "ping %s -> %s every 50 ms across both policy changes (always allowed): %s",
        dbLast.name,
        web2.name,
        lost == null
            ? "no summary: " + output.strip()
            : lost.isEmpty()
                ? "none lost ("
                    + output.lines().filter(l -> l.contains("packet loss")).findFirst().orElse("")
                    + ")"
                : "no reply to icmp_seq " + lost);
  }

  private static final java.util.regex.Pattern TRANSMITTED =
      java.util.regex.Pattern.compile("(\\d+) packets transmitted");
  private static final java.util.regex.Pattern REPLY =
      java.util.regex.Pattern.compile("bytes from .*icmp_seq=(\\d+)");

  /**
   * The sequence numbers a ping stopped by SIGINT sent and got no reply to, or null without its
   * summary. The last request is left out: ping exits on the signal without waiting for its reply,
   * so "n transmitted, n-1 received" is no loss when the missing one is the last.
   */
  static List<Integer> unanswered(String pingOutput) {
    java.util.regex.Matcher sent = TRANSMITTED.matcher(pingOutput);
    if (!sent.find()) {
      return null;
    }
    java.util.Set<Integer> replied = new java.util.HashSet<>();
    java.util.regex.Matcher reply = REPLY.matcher(pingOutput);
    while (reply.find()) {
      replied.add(Integer.parseInt(reply.group(1)));
    }
    List<Integer> lost = new java.util.ArrayList<>();
    for (int seq = 1; seq < Integer.parseInt(sent.group(1)); seq++) {
      if (!replied.contains(seq)) {
        lost.add(seq);
      }
    }
    return lost;
  }

  /** What the policies allow: web to db on the echo port, db to web on any port. */
  private Map<String, Boolean> expectedAfter() {
    Map<String, Boolean> expected = new java.util.HashMap<>();
    for (Pod from : pods()) {
      for (Pod to : pods()) {
        expected.put(from.name + ">" + to.name, !role(from).equals(role(to)));
      }
    }
    return expected;
  }

  private List<Pod> pods() {
    List<Pod> all = new java.util.ArrayList<>();
    cluster.forEach(node -> all.addAll(node.pods));
    return all;
  }

  /**
   * Probes TCP from every pod to every other pod's echo server at once and prints the matrix: "ok"
   * answered, "--" no answer within 2 s; a cell other than {@code expected} (allowed, or every cell
   * when empty) is marked "!" and counted as a failure.
   */
  private void matrix(Map<String, Boolean> expected) throws Exception {
    List<Pod> pods = pods();
    Map<String, java.util.concurrent.Future<Boolean>> cells = new java.util.HashMap<>();
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newFixedThreadPool(10);
    try {
      for (Pod from : pods) {
        for (Pod to : pods) {
          if (from != to) {
            cells.put(
                from.name + ">" + to.name,
                pool.submit(
                    () ->
                        Sh.runIn(
                                from.namespace,
                                "curl",
                                "-s",
                                "-m",
                                "2",
                                "http://" + to.ipv4 + ":" + NodeKernelChecks.TCP_PORT + "/")
                            .output()
                            .startsWith(to.name)));
          }
        }
      }
      StringBuilder header = new StringBuilder(String.format(Locale.ROOT, "   %-8s", "from\\to"));
      pods.forEach(p -> header.append(String.format(Locale.ROOT, "%-7s", p.name)));
      System.out.println(header.toString().stripTrailing());
      for (Pod from : pods) {
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "   %-8s", from.name));
        for (Pod to : pods) {
          String cell = "-";
          if (from != to) {
            String key = from.name + ">" + to.name;
            boolean answered = cells.get(key).get();
            boolean want = expected.getOrDefault(key, true);
            cell = (answered ? "ok" : "--") + (answered == want ? "" : "!");
            if (answered != want) {
              failures++;
            }
          }
          line.append(String.format(Locale.ROOT, "%-7s", cell));
        }
        System.out.println(line.toString().stripTrailing());
      }
    } finally {
      pool.shutdownNow();
    }
  }

  private void expectAnswer(Pod from, Pod to, boolean v6, boolean allowed, String what) {
    String answer = NodeKernelChecks.tcp(from.namespace, v6 ? to.ipv6 : to.ipv4);
    boolean answered = answer.startsWith(to.name);
    expect(
        answered == allowed,
        "%-5s %s -> %s: %s  [%s]",
        v6 ? "IPv6" : "IPv4",
        from.name,
        to.name,
        answer,
        what);
  }

  /** What {@code ctl trace} on {@code node} says about TCP from one pod to the other. */
  private void trace(Node node, Pod from, Pod to, boolean allowed) throws IOException {
    AgentClient agent = new AgentClient(node.runDir.resolve("agent.sock"), Duration.ofSeconds(5));
    AgentProtocol.Response r =
        agent.call(
            AgentProtocol.Request.trace(
                from.ipv4,
                to.ipv4,
                null,
                Map.of("proto", "tcp", "dport", "" + NodeKernelChecks.TCP_PORT)));
    JsonNode policy = r.ok() && r.data() != null ? r.data().path("policy") : null;
    String ingress = policy == null ? "" : policy.path("ingress").path("verdict").asText();
    expect(
        policy != null
            && policy.path("verdict").asText().equals(allowed ? "allowed" : "policy-denied-ingress")
            && ingress.contains("default/db-ingress"),
        "ctl trace on %s, %s -> %s tcp/%d: ingress %s",
        node.name,
        from.name,
        to.name,
        NodeKernelChecks.TCP_PORT,
        policy == null ? r.error() : ingress);
  }

  private void expect(boolean ok, String format, Object... args) {
    if (!ok) {
      failures++;
    }
    System.out.printf(Locale.ROOT, "   %s %s%n", ok ? "ok  " : "FAIL", String.format(format, args));
  }

  /** Rewrites every node's config with {@code extra} appended (the agents reload it). */
  interface ClusterConfigs {
    void write(String extra) throws IOException;
  }
}
