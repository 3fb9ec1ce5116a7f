package io.flatnet.agent.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Upstream's network policy model on real flatnet nodes: namespaces x, y, z, pods a, b, c in each
 * (netns pods the real CNI plugin added, {@code K8S_POD_NAMESPACE}/{@code K8S_POD_NAME} from
 * CNI_ARGS, so the agent knows them as "x/a"), each running {@code netpol.py serve} (TCP and UDP on
 * 80 and 81, answering with its name); probes run {@code netpol.py probe} in every client pod at
 * once; a policy change rewrites each node's config (the {@code policy:} section) and SIGHUPs its
 * agent, then waits for the agent's answer.
 */
final class NetpolCluster implements AutoCloseable {

  static final YAMLMapper YAML =
      YAMLMapper.builder()
          .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
          .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
          .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS)
          .build();

  /**
   * The system's python3 (a pyenv shim on PATH costs a second per start), {@code -Dnetpol.python}
   * to choose another.
   */
  static final String PYTHON =
      System.getProperty(
          "netpol.python",
          Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3");

  /** One pod of the model: its name "x/a", network namespace, node, IPv4 and IPv6 addresses. */
  record Pod(String name, String netns, int node, String ip, String ip6) {}

  final List<RouterChild> nodes;
  final Map<String, Pod> pods = new LinkedHashMap<>();
  private final List<Process> servers = new ArrayList<>();
  private final Path script;
  private final String netnsPrefix;

  /** Each node's config without a policy section, as RouterChild wrote it. */
  private final List<String> baseConfigs = new ArrayList<>();

  /** Probe timeout: a denied (dropped) connection costs this long. */
  final double timeoutSeconds = Double.parseDouble(System.getProperty("netpol.timeout", "1.0"));

  NetpolCluster(List<RouterChild> nodes, String netnsPrefix, Path dir) throws IOException {
    this.nodes = nodes;
    this.netnsPrefix = netnsPrefix;
    this.script = dir.resolve("netpol.py");
    try (InputStream in = NetpolCluster.class.getResourceAsStream("/netpol/netpol.py")) {
      Files.copy(in, script, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /**
   * Adds the nine pods ({@code nodeOf} places each on a node) through the CNI plugin and starts
   * their servers; the nodes are started already.
   */
  void addPods(Function<String, Integer> nodeOf) throws Exception {
    for (RouterChild node : nodes) {
      baseConfigs.add(Files.readString(node.dir.resolve("node.yaml")));
    }
    // CNI ADDs a few at a time (each is a JVM; 2 CPUs here), pods kept in the model's order.
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newFixedThreadPool(3);
    try {
      Map<String, java.util.concurrent.Future<Pod>> added = new LinkedHashMap<>();
      for (String name : NetpolCase.PODS) {
        added.put(name, pool.submit(() -> addPod(name, nodeOf.apply(name))));
      }
      for (Map.Entry<String, java.util.concurrent.Future<Pod>> e : added.entrySet()) {
        pods.put(e.getKey(), e.getValue().get(120, TimeUnit.SECONDS));
      }
    } finally {
      pool.shutdownNow();
    }
    for (Pod pod : pods.values()) {
      List<String> cmd =
          new ArrayList<>(
              List.of("ip", "netns", "exec", pod.netns(), PYTHON, script.toString(), "serve"));
      cmd.add(pod.name());
      NetpolCase.PORTS.forEach(p -> cmd.add(Integer.toString(p)));
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      servers.add(p);
      CompletableFuture<String> first =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return new BufferedReader(
                          new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))
                      .readLine();
                } catch (IOException e) {
                  return e.toString();
                }
              });
      String line = first.get(20, TimeUnit.SECONDS);
      if (!"ready".equals(line)) {
        throw new IllegalStateException("the server in " + pod.name() + " did not start: " + line);
      }
    }
  }

  private Pod addPod(String name, int node) throws Exception {
    String netns = netnsPrefix + "-" + name.replace("/", "");
    RouterChild.sh("ip", "netns", "del", netns);
    RouterChild.must("ip", "netns", "add", netns);
    RouterChild r = nodes.get(node);
    RouterChild.Cni cni = r.cni("ADD", "netpol" + name.replace("/", ""), netns, name, r.conf());
    if (cni.exit() != 0) {
      throw new IllegalStateException("CNI ADD of " + name + " failed: " + cni);
    }
    JsonNode result = JsonMapperHolder.JSON.readTree(cni.stdout());
    String ip4 = null;
    String ip6 = null;
    for (JsonNode a : result.path("ips")) {
      String cidr = a.path("address").asText();
      String ip = cidr.substring(0, cidr.indexOf('/'));
      if (cidr.indexOf(':') < 0) {
        ip4 = ip;
      } else {
        ip6 = ip;
      }
    }
    if (ip4 == null) {
      throw new IllegalStateException("no IPv4 address for " + name + ": " + cni.stdout());
    }
    return new Pod(name, netns, node, ip4, ip6);
  }

  Map<String, String> ipv4() {
    Map<String, String> ips = new LinkedHashMap<>();
    pods.values().forEach(p -> ips.put(p.name(), p.ip()));
    return ips;
  }

  /**
   * Node {@code node}'s {@code policy:} section for a state: the model's namespaces and pods (with
   * {@code namespaceLabels} and {@code podLabels} added; pods of other nodes with their {@code
   * status.podIPs}, those of this node take the CNI pod's) and {@code policies}, each given
   * apiVersion and kind.
   */
  ObjectNode policySection(
      JsonNode policies,
      Map<String, Map<String, String>> namespaceLabels,
      Map<String, Map<String, String>> podLabels,
      int node) {
    JsonNodeFactory f = JsonNodeFactory.instance;
    ObjectNode section = f.objectNode();
    ArrayNode namespaces = section.putArray("namespaces");
    for (String ns : NetpolCase.NAMESPACES) {
      ObjectNode meta = namespaces.addObject().putObject("metadata");
      meta.put("name", ns);
      ObjectNode labels = meta.putObject("labels");
      labels.put("ns", ns);
      namespaceLabels.getOrDefault(ns, Map.of()).forEach(labels::put);
    }
    ArrayNode podList = section.putArray("pods");
    for (String name : NetpolCase.PODS) {
      ObjectNode pod = podList.addObject();
      ObjectNode meta = pod.putObject("metadata");
      meta.put("namespace", name.substring(0, 1));
      meta.put("name", name.substring(2));
      ObjectNode labels = meta.putObject("labels");
      labels.put("pod", name.substring(2));
      podLabels.getOrDefault(name, Map.of()).forEach(labels::put);
      ArrayNode containers = pod.putObject("spec").putArray("containers");
      for (int port : NetpolCase.PORTS) {
        for (String proto : NetpolCase.PROTOCOLS) {
          String suffix = port + "-" + proto.toLowerCase(Locale.ROOT);
          ObjectNode c = containers.addObject();
          c.put("name", "cont-" + suffix);
          ObjectNode p = c.putArray("ports").addObject();
          p.put("name", "serve-" + suffix);
          p.put("containerPort", port);
          p.put("protocol", proto);
        }
      }
      Pod attached = pods.get(name);
      if (attached.node() != node) {
        ArrayNode ips = pod.putObject("status").putArray("podIPs");
        ips.addObject().put("ip", attached.ip());
        if (attached.ip6() != null) {
          ips.addObject().put("ip", attached.ip6());
        }
      }
    }
    ArrayNode nps = section.putArray("networkPolicies");
    for (JsonNode p : NetpolCase.resolve(policies, ipv4())) {
      ObjectNode np = nps.addObject();
      np.put("apiVersion", "networking.k8s.io/v1");
      np.put("kind", "NetworkPolicy");
      np.setAll((ObjectNode) p);
    }
    return section;
  }

  /** What one reload did on one node: the agent's answer line and the log lines since. */
  record Reload(String answer, String log) {
    boolean ok() {
      return answer.contains("Applied[") || answer.contains("Unchanged[");
    }
  }

  /**
   * Writes every node's config with its {@link #policySection} for this state (with {@code
   * policies} null: no {@code policy:} section at all), SIGHUPs each agent and waits for its answer
   * ("flatnet agent: SIGHUP: Applied[...]"); returns the answers, one per node.
   */
  List<Reload> apply(
      JsonNode policies,
      Map<String, Map<String, String>> namespaceLabels,
      Map<String, Map<String, String>> podLabels)
      throws Exception {
    List<Reload> reloads = new ArrayList<>();
    for (int i = 0; i < nodes.size(); i++) {
      String policyYaml = "";
      if (policies != null) {
        ObjectNode top = JsonNodeFactory.instance.objectNode();
        top.set("policy", policySection(policies, namespaceLabels, podLabels, i));
        policyYaml = YAML.writeValueAsString(top);
      }
      RouterChild node = nodes.get(i);
      Path config = node.dir.resolve("node.yaml");
      Path tmp = node.dir.resolve("node.yaml.tmp");
      Files.writeString(tmp, baseConfigs.get(i) + policyYaml);
      Files.move(tmp, config, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      reloads.add(hangUp(node));
    }
    return reloads;
  }

  static final String ANSWER = "flatnet agent: SIGHUP: ";

  private static Reload hangUp(RouterChild node) throws Exception {
    String before = node.logText();
    int seen = count(before, ANSWER);
    long pid = node.pid("agent");
    RouterChild.must("kill", "-HUP", Long.toString(pid));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      String text = node.logText();
      if (count(text, ANSWER) > seen) {
        String since = text.substring(Math.min(before.length(), text.length()));
        String line = since.lines().filter(l -> l.contains(ANSWER)).findFirst().orElseThrow();
        String answer = line.substring(line.indexOf(ANSWER));
        return new Reload(answer, since);
      }
      Thread.sleep(20);
    }
    throw new IllegalStateException(
        "the agent (pid " + pid + ") did not answer SIGHUP in 30 s; its log:\n" + node.logText());
  }

  private static int count(String text, String what) {
    int n = 0;
    for (int at = text.indexOf(what); at >= 0; at = text.indexOf(what, at + 1)) {
      n++;
    }
    return n;
  }

  private static final java.util.concurrent.Executor PROBERS =
      java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();

  /** One probe result: reachable, and what the prober said ("x/a", "timeout", "refused"). */
  record Seen(boolean reachable, String detail) {}

  /**
   * Probes {@code from -> to} on each of {@code probes} ("80/TCP") for every pair of distinct pods
   * in {@code pairs} (null: all 72), every client pod at once; a reply must name the server.
   */
  Map<String, Seen> probe(List<String> probes, List<String[]> pairs, double timeout)
      throws Exception {
    Map<String, List<String>> targetsByClient = new LinkedHashMap<>();
    for (String from : NetpolCase.PODS) {
      for (String to : NetpolCase.PODS) {
        if (from.equals(to)) {
          continue;
        }
        if (pairs != null && pairs.stream().noneMatch(p -> p[0].equals(from) && p[1].equals(to))) {
          continue;
        }
        for (String probe : probes) {
          targetsByClient
              .computeIfAbsent(from, k -> new ArrayList<>())
              .add(to + "@" + probe + "=" + pods.get(to).ip() + ":" + probe);
        }
      }
    }
    Map<String, CompletableFuture<RouterChild.Result>> runs = new LinkedHashMap<>();
    for (Map.Entry<String, List<String>> e : targetsByClient.entrySet()) {
      List<String> cmd =
          new ArrayList<>(
              List.of(
                  "ip",
                  "netns",
                  "exec",
                  pods.get(e.getKey()).netns(),
                  PYTHON,
                  script.toString(),
                  "probe",
                  Double.toString(timeout)));
      cmd.addAll(e.getValue());
      // A thread each: the common pool has one thread on two CPUs, which would serialise them.
      runs.put(e.getKey(), CompletableFuture.supplyAsync(() -> RouterChild.sh(cmd, 60), PROBERS));
    }
    Map<String, Seen> seen = new LinkedHashMap<>();
    for (Map.Entry<String, CompletableFuture<RouterChild.Result>> e : runs.entrySet()) {
      RouterChild.Result r = e.getValue().get(90, TimeUnit.SECONDS);
      if (!r.ok()) {
        throw new IllegalStateException("the prober in " + e.getKey() + " failed: " + r.output());
      }
      for (String line : r.output().lines().toList()) {
        String[] w = line.split(" ", 3);
        if (w.length < 3) {
          throw new IllegalStateException("prober " + e.getKey() + ": " + line);
        }
        String to = w[0].substring(0, w[0].indexOf('@'));
        boolean ok = w[1].equals("ok");
        // A reply from the wrong pod is a routing bug, never "reachable".
        if (ok && !w[2].equals(to)) {
          seen.put(e.getKey() + ">" + w[0], new Seen(false, "answered by " + w[2]));
        } else {
          seen.put(e.getKey() + ">" + w[0], new Seen(ok, w[2]));
        }
      }
    }
    return seen;
  }

  @Override
  public void close() {
    for (Process p : servers) {
      p.destroyForcibly();
    }
    for (Pod p : pods.values()) {
      RouterChild.sh("ip", "netns", "del", p.netns());
    }
    for (RouterChild n : nodes) {
      n.close();
    }
  }

  private static final class JsonMapperHolder {
    static final com.fasterxml.jackson.databind.json.JsonMapper JSON =
        com.fasterxml.jackson.databind.json.JsonMapper.builder().build();
  }
}
