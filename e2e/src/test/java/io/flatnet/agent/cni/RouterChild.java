package io.flatnet.agent.cni;

import io.flatnet.agent.process.NodeProcesses;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real node ({@code flatnet run --config}: the supervisor, the dataplane process and the agent)
 * in child JVMs, in its own network namespace (which stands in for the node's host namespace), for
 * the end-to-end tests. The test JVM never initialises DPDK itself. The config has one af_packet
 * uplink ({@value #UPLINK} in the router's namespace, its peer {@code eth0} with {@value
 * #PEER_V4}/24 in namespace {@link #peerNs}).
 */
final class RouterChild implements AutoCloseable {

  static final String UPLINK = "fncu0";
  static final String UPLINK_V4 = "10.250.99.1";
  static final String PEER_V4 = "10.250.99.2";

  final String ns;
  final String peerNs;
  final Path dir;
  final Path runDir;
  final Path log;
  private Process process;

  /** More {@code flatnet run --config} arguments (set before {@link #start}). */
  final List<String> extraArgs = new ArrayList<>();

  /** This node's pod ranges (set before {@link #start}; the CNI config follows them). */
  String podCidr4 = "10.244.5.0/24";

  String podCidr6 = "fd00:244:5::/64";

  /** The uplink's addresses (set before {@link #start}). */
  String uplinkV4 = UPLINK_V4;

  /** An IPv6 address (no length: /64) on the uplink too, or null. */
  String uplinkV6;

  /**
   * If set (before {@link #start}), the uplink's other end goes into this namespace, onto its
   * bridge {@code br0} (made if missing), instead of a peer namespace of its own: nodes on one
   * switch, each other's peers.
   */
  String switchNs;

  /** Appended to the config as written (top-level keys, e.g. {@code peers:}). */
  String extraConfig = "";

  /** Namespaces {@code prefix-r} (router) and {@code prefix-x} (the uplink's peer). */
  RouterChild(String prefix, Path dir) {
    this.ns = prefix + "-r";
    this.peerNs = prefix + "-x";
    this.dir = dir;
    this.runDir = dir.resolve("run");
    this.log = dir.resolve("router.log");
  }

  record Result(int exit, String output) {
    boolean ok() {
      return exit == 0;
    }
  }

  static Result sh(List<String> command, int timeoutSeconds) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      p.getOutputStream().close();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return new Result(-1, "timed out: " + command);
      }
      return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    } catch (IOException e) {
      return new Result(-1, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(-1, "interrupted");
    }
  }

  static Result sh(String... command) {
    return sh(List.of(command), 30);
  }

  static String must(String... command) {
    Result r = sh(command);
    if (!r.ok()) {
      throw new IllegalStateException(String.join(" ", command) + " failed: " + r.output());
    }
    return r.output();
  }

  static List<String> in(String namespace, String... command) {
    List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
    full.addAll(List.of(command));
    return full;
  }

  static Result shIn(String namespace, String... command) {
    return sh(in(namespace, command), 30);
  }

  static String mustIn(String namespace, String... command) {
    Result r = shIn(namespace, command);
    if (!r.ok()) {
      throw new IllegalStateException(
          "in " + namespace + ": " + String.join(" ", command) + " failed: " + r.output());
    }
    return r.output();
  }

  /** Creates the namespaces and the uplink, writes the config, starts the router, waits. */
  void start() throws Exception {
    sh("ip", "netns", "del", ns);
    sh("ip", "netns", "del", peerNs);
    must("ip", "netns", "add", ns);
    mustIn(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
    mustIn(ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
    mustIn(ns, "ip", "link", "set", "lo", "up");
    if (switchNs == null) {
      must("ip", "netns", "add", peerNs);
      must(
          "ip", "link", "add", UPLINK, "netns", ns, "type", "veth", "peer", "name", "eth0", "netns",
          peerNs);
      mustIn(ns, "ip", "link", "set", UPLINK, "up");
      mustIn(peerNs, "ip", "link", "set", "lo", "up");
      mustIn(peerNs, "ip", "link", "set", "eth0", "up");
      mustIn(peerNs, "ethtool", "-K", "eth0", "tx", "off");
      mustIn(peerNs, "ip", "addr", "add", PEER_V4 + "/24", "dev", "eth0");
      mustIn(peerNs, "ip", "route", "add", "10.244.0.0/16", "via", uplinkV4);
    } else {
      if (!sh("ip", "netns", "exec", switchNs, "true").ok()) {
        must("ip", "netns", "add", switchNs);
        mustIn(switchNs, "ip", "link", "set", "lo", "up");
      }
      if (!shIn(switchNs, "ip", "link", "show", "br0").ok()) {
        mustIn(switchNs, "ip", "link", "add", "br0", "type", "bridge");
        mustIn(switchNs, "ip", "link", "set", "br0", "up");
      }
      String end = ns.length() > 12 ? ns.substring(0, 12) : ns;
      must(
          "ip", "link", "add", UPLINK, "netns", ns, "type", "veth", "peer", "name", end, "netns",
          switchNs);
      mustIn(ns, "ip", "link", "set", UPLINK, "up");
      mustIn(switchNs, "ip", "link", "set", end, "master", "br0");
      mustIn(switchNs, "ip", "link", "set", end, "up");
    }
    int cpus = Runtime.getRuntime().availableProcessors();
    Path config = dir.resolve("node.yaml");
    Files.writeString(
        config,
        "node:\n"
            + "  name: e2e\n"
            + "  podCIDRs: ["
            + podCidr4
            + ", \""
            + podCidr6
            + "\"]\n"
            + "  serviceCIDRs: [10.96.0.0/12]\n"
            + "  gateways: [169.254.1.1, \"fe80::1\"]\n"
            + "ports:\n"
            + "  - name: uplink\n"
            + "    device: net_af_packet0,iface="
            + UPLINK
            + "\n"
            + "    role: uplink\n"
            + "    addresses: ["
            + uplinkV4
            + "/24"
            + (uplinkV6 == null ? "" : ", \"" + uplinkV6 + "/64\"")
            + "]\n"
            + "workers:\n"
            + "  cpus: ["
            + (cpus - 1)
            + "]\n"
            + "  idle: backoff\n"
            + extraConfig);
    Files.createDirectories(runDir);
    List<String> argv =
        new ArrayList<>(
            NodeProcesses.supervisorCommand(
                List.of("ip", "netns", "exec", ns),
                NodeProcesses.Classpaths.find(),
                List.of(
                    "--config",
                    config.toString(),
                    "--dir",
                    runDir.toString(),
                    "--state-dir",
                    dir.resolve("state").toString(),
                    // The tests' own stores, never the machine's /var/lib/flatnet/ipam.
                    "--ipam-dir",
                    dir.resolve("ipam").toString())));
    argv.addAll(extraArgs);
    process =
        new ProcessBuilder(argv)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException("the router exited:\n" + Files.readString(log));
      }
      String text = Files.exists(log) ? Files.readString(log) : "";
      if (text.contains("CNI socket")) {
        if (text.contains(": Rejected[")) {
          throw new IllegalStateException("the router rejected its config:\n" + text);
        }
        return;
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("the router did not start in 60 s:\n" + Files.readString(log));
  }

  /** What one bin/flatnet-cni call did. */
  record Cni(int exit, String stdout, String stderr, long millis) {}

  static final Path SCRIPT = Path.of("..", "bin", "flatnet-cni").toAbsolutePath().normalize();

  /**
   * Runs bin/flatnet-cni in the router's namespace (the node's host namespace), as kubelet does:
   * CNI_* in the environment, the network config on stdin.
   */
  Cni cni(String command, String containerId, String podNs, String podName, String stdin)
      throws Exception {
    ProcessBuilder pb = new ProcessBuilder("ip", "netns", "exec", ns, SCRIPT.toString());
    java.util.Map<String, String> env = pb.environment();
    env.keySet().removeIf(k -> k.startsWith("CNI_"));
    env.put("JAVA_HOME", System.getProperty("java.home"));
    env.put("FLATNET_HOME", dir.resolve("no-install").toString());
    env.put("CNI_COMMAND", command);
    env.put("CNI_CONTAINERID", containerId);
    env.put("CNI_NETNS", "/var/run/netns/" + podNs);
    env.put("CNI_IFNAME", "eth0");
    env.put("CNI_PATH", "/opt/cni/bin");
    int slash = podName.indexOf('/');
    env.put(
        "CNI_ARGS",
        "IgnoreUnknown=1;K8S_POD_NAMESPACE="
            + podName.substring(0, slash)
            + ";K8S_POD_NAME="
            + podName.substring(slash + 1)
            + ";K8S_POD_INFRA_CONTAINER_ID="
            + containerId);
    long start = System.nanoTime();
    Process p = pb.start();
    java.util.concurrent.CompletableFuture<String> err =
        java.util.concurrent.CompletableFuture.supplyAsync(
            () -> {
              try {
                return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
              } catch (IOException e) {
                return e.toString();
              }
            });
    try (var in = p.getOutputStream()) {
      in.write(stdin.getBytes(StandardCharsets.UTF_8));
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("flatnet-cni timed out");
    }
    return new Cni(
        p.exitValue(), out, err.get(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
  }

  /** CNI config member: each pod gets a DPDK port of its own, not a port of the shared bridge. */
  static final String PORT_MODE = ",\"attach\":\"port\"";

  /**
   * Adds a pod per namespace (made afresh) through the real CNI plugin, each a port of its own
   * ({@link #PORT_MODE}), container ids {@code idPrefix0..}, names {@code podPrefix0..}; returns
   * the plugin's results.
   */
  List<com.fasterxml.jackson.databind.JsonNode> addPortPods(
      String[] namespaces, String idPrefix, String podPrefix) throws Exception {
    List<com.fasterxml.jackson.databind.JsonNode> results = new ArrayList<>();
    for (int i = 0; i < namespaces.length; i++) {
      sh("ip", "netns", "del", namespaces[i]);
      must("ip", "netns", "add", namespaces[i]);
      Cni r = cni("ADD", idPrefix + i, namespaces[i], podPrefix + i, conf(PORT_MODE));
      if (r.exit() != 0) {
        throw new IllegalStateException("CNI ADD of " + podPrefix + i + " failed: " + r);
      }
      results.add(
          com.fasterxml.jackson.databind.json.JsonMapper.builder().build().readTree(r.stdout()));
    }
    return results;
  }

  /** The network config kubelet would pass, with this router's socket. */
  String conf() {
    return conf("");
  }

  /** {@link #conf()} with more members ({@code ,"k":v}). */
  String conf(String extra) {
    return "{\"cniVersion\":\"1.0.0\",\"name\":\"flatnet\",\"type\":\"flatnet-cni\","
        + "\"agentSocket\":\""
        + socket()
        + "\",\"agentTimeoutMs\":20000,\"ipamDir\":\""
        + dir.resolve("ipam")
        + "\",\"podCIDRs\":[\""
        + podCidr4
        + "\",\""
        + podCidr6
        + "\"],"
        + "\"gateways\":[\"169.254.1.1\",\"fe80::1\"],\"mtu\":1500"
        + extra
        + "}";
  }

  Path socket() {
    return runDir.resolve("agent.sock");
  }

  String logText() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return e.toString();
    }
  }

  /** The pid the supervisor last reported for {@code what} ("agent" or "dataplane"), or -1. */
  long pid(String what) throws IOException {
    return NodeProcesses.reportedPid(log, what);
  }

  /** Kills a child the hard way (SIGKILL), as a crash or the OOM killer would. */
  void kill(String what) throws IOException {
    long pid = pid(what);
    ProcessHandle.of(pid)
        .orElseThrow(() -> new IllegalStateException("no " + what + " process " + pid))
        .destroyForcibly();
  }

  @Override
  public void close() {
    if (process != null) {
      try {
        NodeProcesses.stopSupervisor(process, log, java.time.Duration.ofSeconds(15));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    sh("ip", "netns", "del", ns);
    sh("ip", "netns", "del", peerNs);
  }
}
