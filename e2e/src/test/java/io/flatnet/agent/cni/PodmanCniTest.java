package io.flatnet.agent.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.flatnet.agent.api.AgentClient;
import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.ctl.CtlMain;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real container runtime as the CNI client: Debian's podman 4.3, on its CNI network backend,
 * starts busybox containers (root filesystems from local directories, {@code --rootfs}, so no
 * registry) on flatnet's network through {@code bin/flatnet-cni}, against a real node ({@code
 * flatnet run --config}, {@link RouterChild}). podman runs in the router's namespace (it stands in
 * for the node's host namespace, where a runtime runs its CNI plugins), with a test-private
 * containers.conf ({@code CONTAINERS_CONF}: CNI backend, the conflist and plugin directories, file
 * locks and a private tmp dir) and storage.conf ({@code CONTAINERS_STORAGE_CONF}: vfs under the
 * test's directory), so the machine's /etc/containers, /etc/cni and /var/lib/containers are never
 * used.
 *
 * <p>Checks: two containers get one IPv4 and one IPv6 address each from flatnet's IPAM (inside the
 * container, in podman inspect, in the agent's show-pods as {@code podman/<name>}, in the IPAM
 * store); they ping each other over both families with one router hop (TTL 63) and speak TCP
 * (busybox nc) over both, while the router's {@code pods0} counters move and ctl trace shows the
 * forward decision (so the path is the router, not a kernel bridge); with the v4 range ({@code
 * /30}: two addresses) used up, a third container is refused ("pod address range exhausted");
 * {@code podman rm} frees the addresses (IPAM store, agent, the veth and podman's netns gone), and
 * the third container then gets the freed IPv4 address and reaches the other; a container that
 * exits on its own frees its addresses without podman rm (conmon's {@code podman container cleanup}
 * calls the plugin's DEL). Only libcni's result cache (/var/lib/cni) is the machine's: the test
 * removes its entries, and the directory if it made it. Needs root, podman, runc, busybox-static,
 * hugepages; about 60 s.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PodmanCniTest {

  static final ObjectMapper JSON = JsonMapper.builder().build();
  static final String NETWORK = "flatnet";
  static final String A = "fnpm-a";
  static final String B = "fnpm-b";
  static final String C = "fnpm-c";
  static final String D = "fnpm-d";
  static final int TCP_PORT = 5000;

  /** Two IPv4 addresses (.1, .2: the /30 without network and broadcast), three IPv6. */
  static final List<String> POD_CIDRS = List.of("10.244.5.0/30", "fd00:244:5::/126");

  Path dir;
  RouterChild router;
  Path containersConf;
  Path storageConf;

  /** Container ids and network namespaces podman reported, for the clean-up. */
  final Set<String> containerIds = new LinkedHashSet<>();

  final Set<String> sandboxes = new LinkedHashSet<>();

  /** libcni's cache directory, which podman's CNI backend always uses; removed if we made it. */
  static final Path CNI_CACHE = Path.of("/var/lib/cni");

  boolean cniCacheExisted;

  /** What one command printed. */
  record Out(int exit, String stdout, String stderr) {
    boolean ok() {
      return exit == 0;
    }

    @Override
    public String toString() {
      return "exit " + exit + "\nstdout: " + stdout + "\nstderr: " + stderr;
    }
  }

  @BeforeAll
  void start(@TempDir Path tmp) throws Exception {
    Assumptions.assumeTrue(
        "0".equals(RouterChild.sh("id", "-u").output().strip()), "needs root (netns, podman)");
    Assumptions.assumeTrue(
        RouterChild.sh("podman", "--version").ok(),
        "needs podman (apt-get install podman runc; TEST_PKGS in ./flatnet)");
    Assumptions.assumeTrue(RouterChild.sh("runc", "--version").ok(), "needs runc");
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/busybox")), "needs busybox-static");
    dir = tmp;
    cniCacheExisted = Files.exists(CNI_CACHE);
    router = new RouterChild("fnpm", dir);
    router.extraArgs.addAll(List.of("--metrics", "127.0.0.1:9466"));
    router.start();
    warmUp();
    writePodmanConfig();
  }

  /**
   * The router's one port for bridge pods ({@code pods0}) is made with the first bridge pod; one
   * CNI ADD and DEL in a plain namespace (its own IPAM network) makes it before podman runs. On a
   * loaded machine making it can take longer than the agent waits for the dataplane's heartbeat (a
   * known problem of the command channel, not of podman or the plugin: the agent then reports the
   * dataplane gone), so this warm-up alone is tried a second time.
   */
  void warmUp() throws Exception {
    String ns = "fnpm-w";
    String conf = router.conf().replace("\"name\":\"flatnet\"", "\"name\":\"warm-up\"");
    try {
      RouterChild.sh("ip", "netns", "del", ns);
      RouterChild.must("ip", "netns", "add", ns);
      RouterChild.Cni add = null;
      for (int attempt = 1; attempt <= 2; attempt++) {
        add = router.cni("ADD", "fnpmwarmup", ns, "e2e/warm-up", conf);
        if (add.exit() == 0) {
          break;
        }
        System.out.println("podman e2e: warm-up ADD " + attempt + " failed: " + add);
      }
      assertEquals(0, add.exit(), "warm-up ADD: " + add + "\n" + logs());
      RouterChild.Cni del = router.cni("DEL", "fnpmwarmup", ns, "e2e/warm-up", conf);
      assertEquals(0, del.exit(), "warm-up DEL: " + del);
    } finally {
      RouterChild.sh("ip", "netns", "del", ns);
    }
  }

  @AfterAll
  void stop() throws Exception {
    if (dir == null) {
      return;
    }
    try {
      // Every container of this test's private store, whatever state a failure left it in.
      Out rm = podman(Duration.ofSeconds(60), "rm", "--all", "--force", "--time", "0");
      System.out.println("podman e2e: clean-up: podman rm --all: " + rm);
      for (String id : containerIds) {
        // libcni's result cache is global (/var/lib/cni): a failed DEL may leave an entry
        Files.deleteIfExists(CNI_CACHE.resolve("results").resolve(NETWORK + "-" + id + "-eth0"));
      }
      if (!cniCacheExisted) {
        for (Path p : List.of(CNI_CACHE.resolve("results"), CNI_CACHE)) {
          try {
            Files.deleteIfExists(p);
          } catch (DirectoryNotEmptyException e) {
            // someone else's entries: leave them
          }
        }
      }
      for (String netns : sandboxes) {
        if (Files.exists(Path.of(netns))) {
          RouterChild.sh("umount", netns);
          Files.deleteIfExists(Path.of(netns));
        }
      }
      // Anything podman left mounted under the test's directory (shm of a container podman
      // could not clean up), so the directory can be deleted.
      List<String> mounts = new ArrayList<>();
      for (String line : Files.readAllLines(Path.of("/proc/mounts"))) {
        String point = line.split(" ")[1];
        if (point.startsWith(dir.toString() + "/")) {
          mounts.add(point);
        }
      }
      for (int i = mounts.size() - 1; i >= 0; i--) {
        RouterChild.sh("umount", "-l", mounts.get(i));
      }
    } finally {
      if (router != null) {
        Files.writeString(Path.of("target", "podman-e2e-router.log"), router.logText());
        router.close();
      }
    }
  }

  /** containers.conf, storage.conf, the conflist and the plugin, all under the test's dir. */
  void writePodmanConfig() throws IOException {
    Path netD = Files.createDirectories(dir.resolve("cni-net.d"));
    Path bin = Files.createDirectories(dir.resolve("cni-bin"));
    Files.createSymbolicLink(bin.resolve("flatnet"), RouterChild.SCRIPT);
    Files.writeString(
        netD.resolve("10-flatnet.conflist"),
        "{\"cniVersion\":\"1.0.0\",\"name\":\""
            + NETWORK
            + "\",\"plugins\":[{\"type\":\"flatnet\",\"agentSocket\":\""
            + router.socket()
            + "\",\"agentTimeoutMs\":20000,\"ipamDir\":\""
            + dir.resolve("ipam")
            + "\",\"podCIDRs\":[\""
            + String.join("\",\"", POD_CIDRS)
            + "\"],\"gateways\":[\"169.254.1.1\",\"fe80::1\"]}]}\n");
    containersConf = dir.resolve("containers.conf");
    Files.writeString(
        containersConf,
        "[network]\n"
            + "network_backend = \"cni\"\n"
            + "network_config_dir = \""
            + netD
            + "\"\n"
            + "cni_plugin_dirs = [\""
            + bin
            + "\"]\n"
            + "[engine]\n"
            // conmon runs "podman container cleanup" (the plugin's DEL when a container exits)
            // with only these variables: the plugin's JDK
            + "conmon_env_vars = [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
            + " \"JAVA_HOME="
            + System.getProperty("java.home")
            + "\"]\n"
            + "events_logger = \"file\"\n"
            + "lock_type = \"file\"\n"
            + "tmp_dir = \""
            + dir.resolve("podman-tmp")
            + "\"\n");
    storageConf = dir.resolve("storage.conf");
    Files.writeString(
        storageConf,
        "[storage]\n"
            + "driver = \"vfs\"\n"
            + "graphroot = \""
            + dir.resolve("podman-root")
            + "\"\n"
            + "runroot = \""
            + dir.resolve("podman-run")
            + "\"\n");
  }

  /** A busybox root filesystem of its own for container {@code name}: /bin/* and two scripts. */
  Path rootfs(String name) throws IOException {
    Path root = dir.resolve("rootfs-" + name);
    if (Files.isDirectory(root)) {
      return root; // a name used again (a refused container's retry)
    }
    Path bin = Files.createDirectories(root.resolve("bin"));
    Files.createDirectories(root.resolve("tmp"));
    Files.copy(Path.of("/bin/busybox"), bin.resolve("busybox"));
    for (String applet : RouterChild.sh("/bin/busybox", "--list").output().split("\\s+")) {
      if (!applet.isBlank() && !applet.equals("busybox")) {
        Files.createSymbolicLink(bin.resolve(applet), Path.of("busybox"));
      }
    }
    // The container's main process: a persistent TCP server (each connection runs reply.sh)
    // and a sleep.
    script(
        root.resolve("serve.sh"),
        "nc -ll -p " + TCP_PORT + " -e /bin/sh /reply.sh &\nexec sleep 3600\n");
    script(
        root.resolve("reply.sh"),
        "read line\necho \"$line\" >>/tmp/got\necho \"pong from " + name + ": $line\"\n");
    return root;
  }

  static void script(Path file, String body) throws IOException {
    Files.writeString(file, "#!/bin/sh\n" + body);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  /**
   * Runs {@code podman --runtime runc --cgroup-manager cgroupfs ARGS} in the router's network
   * namespace (only the network: the mount namespace stays the machine's, so podman's
   * /run/netns/netns-* files are visible to every later podman call), with the test's private
   * podman configuration.
   */
  Out podman(Duration timeout, String... args) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "nsenter",
                "--net=/run/netns/" + router.ns,
                "podman",
                "--runtime",
                "runc",
                "--cgroup-manager",
                "cgroupfs"));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    Map<String, String> env = pb.environment();
    env.keySet().removeIf(k -> k.startsWith("CNI_") || k.startsWith("CONTAINERS_"));
    env.put("CONTAINERS_CONF", containersConf.toString());
    env.put("CONTAINERS_STORAGE_CONF", storageConf.toString());
    // What bin/flatnet-cni runs (podman passes its environment to the plugin).
    env.put("JAVA_HOME", System.getProperty("java.home"));
    env.put("FLATNET_HOME", dir.resolve("no-install").toString());
    // To files, not pipes: conmon outlives podman run -d and would hold a pipe open.
    Path out = Files.createTempFile(dir, "podman", ".out");
    Path err = Files.createTempFile(dir, "podman", ".err");
    pb.redirectOutput(out.toFile()).redirectError(err.toFile());
    pb.redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
    long t0 = System.nanoTime();
    Process p = pb.start();
    boolean timedOut = !p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    if (timedOut) {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
    Out o =
        new Out(
            timedOut || p.isAlive() ? -1 : p.exitValue(),
            Files.readString(out, StandardCharsets.UTF_8),
            Files.readString(err, StandardCharsets.UTF_8)
                + (timedOut ? "\n(timed out after " + timeout + ")" : ""));
    Files.delete(out);
    Files.delete(err);
    System.out.printf(
        "podman e2e: $ podman %s  (%d ms, exit %d)%n%s%s",
        String.join(" ", args),
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0),
        o.exit(),
        indent(o.stdout()),
        indent(o.stderr()));
    return o;
  }

  static String indent(String text) {
    return text.isBlank() ? "" : text.strip().replaceAll("(?m)^", "    ") + "\n";
  }

  Out podman(String... args) throws Exception {
    return podman(Duration.ofSeconds(60), args);
  }

  String mustPodman(String... args) throws Exception {
    Out o = podman(args);
    assertEquals(0, o.exit(), "podman " + String.join(" ", args) + ": " + o + "\n" + logs());
    return o.stdout();
  }

  String logs() {
    return "router log:\n" + router.logText();
  }

  /** Exec in a running container; busybox applets are on /bin. */
  Out exec(String container, String... command) throws Exception {
    List<String> args = new ArrayList<>(List.of("exec", container));
    args.addAll(List.of(command));
    return podman(args.toArray(String[]::new));
  }

  /** podman run -d of a container on flatnet's network: /serve.sh, or {@code command}. */
  Out run(String name, String... command) throws Exception {
    Path root = rootfs(name);
    List<String> args =
        new ArrayList<>(
            List.of(
                "run",
                "-d",
                "--name",
                name,
                "--network",
                NETWORK,
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
                "--rootfs",
                root.toString()));
    args.addAll(command.length == 0 ? List.of("/bin/sh", "/serve.sh") : List.of(command));
    Out o = podman(Duration.ofSeconds(90), args.toArray(String[]::new));
    // Record what a clean-up needs even if this run failed half-way.
    Out id = podman("inspect", "--format", "{{.Id}} {{.NetworkSettings.SandboxKey}}", name);
    if (id.ok()) {
      String[] parts = id.stdout().strip().split(" ");
      containerIds.add(parts[0]);
      if (parts.length > 1 && !parts[1].isBlank()) {
        sandboxes.add(parts[1]);
      }
    }
    return o;
  }

  /** A running container on flatnet's network, as podman and the container itself see it. */
  record Container(String name, String id, String netns, String v4, String v6, String mac) {}

  Container started(String name) throws Exception {
    Out o = run(name);
    assertEquals(0, o.exit(), "podman run " + name + ": " + o + "\n" + logs());
    JsonNode inspect = JSON.readTree(mustPodman("inspect", name)).get(0);
    String id = inspect.path("Id").asText();
    assertEquals("running", inspect.path("State").path("Status").asText(), inspect.toString());
    JsonNode net = inspect.path("NetworkSettings").path("Networks").path(NETWORK);
    String v4 = net.path("IPAddress").asText();
    String v6 = net.path("GlobalIPv6Address").asText();
    assertTrue(v4.matches("10\\.244\\.5\\.[12]"), "podman inspect: IPv4 " + net);
    assertTrue(v6.matches("fd00:244:5::[123]"), "podman inspect: IPv6 " + net);
    // Inside the container: eth0 holds them (/32, /128), default routes via the gateways.
    String[] inside =
        exec(
                name,
                "sh",
                "-c",
                "ip -o addr show dev eth0; echo --; ip route; ip -6 route; echo --;"
                    + " cat /sys/class/net/eth0/address")
            .stdout()
            .split("(?m)^--$");
    assertEquals(3, inside.length, String.join("--", inside));
    assertTrue(inside[0].contains("inet " + v4 + "/32"), name + " eth0: " + inside[0]);
    assertTrue(inside[0].contains("inet6 " + v6 + "/128"), name + " eth0: " + inside[0]);
    assertTrue(inside[1].contains("default via 169.254.1.1 dev eth0"), inside[1]);
    assertTrue(inside[1].contains("default via fe80::1 dev eth0"), inside[1]);
    String mac = inside[2].strip().toLowerCase(Locale.ROOT);
    return new Container(
        name, id, inspect.path("NetworkSettings").path("SandboxKey").asText(), v4, v6, mac);
  }

  AgentProtocol.Response agent(AgentProtocol.Request request) throws IOException {
    return new AgentClient(router.socket(), Duration.ofSeconds(20)).call(request);
  }

  /** The agent's pods by name. */
  Map<String, JsonNode> agentPods() throws IOException {
    AgentProtocol.Response r = agent(AgentProtocol.Request.of(AgentProtocol.SHOW_PODS));
    assertTrue(r.ok(), r.error());
    Map<String, JsonNode> pods = new LinkedHashMap<>();
    for (JsonNode p : r.data()) {
      pods.put(p.path("name").asText(), p);
    }
    return pods;
  }

  /** The IPAM store of the network: address → owning container id. */
  Map<String, String> ipam() throws IOException {
    Map<String, String> held = new LinkedHashMap<>();
    Path store = dir.resolve("ipam").resolve(NETWORK);
    if (!Files.isDirectory(store)) {
      return held;
    }
    try (var files = Files.list(store)) {
      for (Path f : files.sorted().toList()) {
        String name = f.getFileName().toString();
        if (name.matches("[0-9.]+|[0-9a-f:]+")) {
          held.put(name, Files.readString(f).lines().findFirst().orElse(""));
        }
      }
    }
    return held;
  }

  /** The router's {@code pods0} packet counters (rx, tx), from its /metrics. */
  long[] pods0Counters() {
    RouterChild.Result scrape =
        RouterChild.shIn(router.ns, "curl", "-sS", "http://127.0.0.1:9466/metrics");
    assertTrue(scrape.ok(), scrape.output());
    return new long[] {
      metric(scrape.output(), "flatnet_port_rx_packets_total{port=\"pods0\"}"),
      metric(scrape.output(), "flatnet_port_tx_packets_total{port=\"pods0\"}")
    };
  }

  static long metric(String body, String series) {
    return body.lines()
        .filter(l -> l.startsWith(series + " "))
        .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + series + " in\n" + body));
  }

  /** flatnet ctl, in this JVM, against the router's run directory. */
  String ctl(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    var cl = CtlMain.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--dir", router.runDir.toString()));
    int exit = cl.execute(all.toArray(String[]::new));
    System.out.println(
        "podman e2e: $ flatnet ctl "
            + String.join(" ", args)
            + "\n"
            + indent(out.toString() + err));
    assertEquals(0, exit, "ctl " + all + ": " + out + err);
    return out.toString();
  }

  /** Pings from a container; asserts replies with one router hop between. */
  void ping(Container from, String to, boolean v6) throws Exception {
    Out p =
        exec(
            from.name(),
            v6
                ? List.of("ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "-w", "15", to)
                : List.of("ping", "-c", "3", "-i", "0.2", "-W", "2", "-w", "15", to));
    assertEquals(0, p.exit(), from.name() + " -> " + to + ": " + p + "\n" + logs());
    assertTrue(p.stdout().contains("ttl=63"), "one router hop (TTL 63): " + p.stdout());
  }

  Out exec(String container, List<String> command) throws Exception {
    return exec(container, command.toArray(String[]::new));
  }

  /** A TCP exchange with busybox nc: the server in {@code to} answers one line. */
  void tcp(Container from, Container to, String address, String line) throws Exception {
    Out o =
        exec(from.name(), "sh", "-c", "echo " + line + " | nc -w 10 " + address + " " + TCP_PORT);
    assertEquals(0, o.exit(), from.name() + " -> " + address + ":" + TCP_PORT + ": " + o);
    assertEquals("pong from " + to.name() + ": " + line, o.stdout().strip(), o.toString());
    String got = exec(to.name(), "cat", "/tmp/got").stdout();
    assertTrue(got.lines().anyMatch(line::equals), to.name() + " received: " + got);
  }

  /** Waits up to {@code seconds} for {@code condition}. */
  static void await(String what, int seconds, Supplier<Boolean> condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!condition.get()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(100);
    }
  }

  @Test
  void podmanContainersOnFlatnet() throws Exception {
    long t0 = System.nanoTime();
    Container a = started(A);
    Container b = started(B);
    assertNotEquals(a.v4(), b.v4());
    assertNotEquals(a.v6(), b.v6());

    // flatnet's side: the agent has both, named after the containers, on the pod bridge
    Map<String, JsonNode> pods = agentPods();
    assertEquals(Set.of("podman/" + A, "podman/" + B), pods.keySet(), pods.toString());
    for (Container c : List.of(a, b)) {
      JsonNode pod = pods.get("podman/" + c.name());
      assertEquals("bridge", pod.path("kind").asText(), pod.toString());
      assertEquals("pods0", pod.path("portName").asText(), pod.toString());
      assertEquals("up", pod.path("state").asText(), pod.toString());
      assertEquals(List.of(c.v4(), c.v6()), strings(pod.path("ips")), pod.toString());
      assertEquals(c.mac(), pod.path("mac").asText(), pod.toString());
    }
    Map<String, String> held = ipam();
    assertEquals(
        Map.of(a.v4(), a.id(), a.v6(), a.id(), b.v4(), b.id(), b.v6(), b.id()), held, "IPAM store");
    ctl("show", "pods");

    // Traffic through the router: pings both ways and families, TCP over both families.
    await(
        "the TCP servers to listen",
        30,
        () -> {
          try {
            return exec(A, "netstat", "-ltn").stdout().contains(":" + TCP_PORT)
                && exec(B, "netstat", "-ltn").stdout().contains(":" + TCP_PORT);
          } catch (Exception e) {
            return false;
          }
        });
    long[] before = pods0Counters();
    ping(a, b.v4(), false);
    ping(b, a.v4(), false);
    ping(a, b.v6(), true);
    ping(b, a.v6(), true);
    tcp(a, b, b.v4(), "hello-over-ipv4");
    tcp(b, a, "[" + a.v6() + "]", "hello-over-ipv6");
    long[] after = pods0Counters();
    // 12 echo requests and 12 replies, each in and out of pods0, and the TCP segments
    assertTrue(
        after[0] - before[0] >= 24 && after[1] - before[1] >= 24,
        "pods0 rx " + before[0] + " -> " + after[0] + ", tx " + before[1] + " -> " + after[1]);
    String trace = ctl("trace", a.v4(), b.v4());
    assertTrue(trace.contains("decision: forward"), trace);
    assertTrue(trace.contains("port:     pods0"), trace);
    assertTrue(trace.contains("mac:      " + b.mac()), trace);
    String trace6 = ctl("trace", b.v6(), a.v6());
    assertTrue(trace6.contains("decision: forward") && trace6.contains(a.mac()), trace6);
    System.out.printf(
        "podman e2e: pings and TCP through the router: pods0 rx +%d, tx +%d packets%n",
        after[0] - before[0], after[1] - before[1]);

    // The v4 range is used up: a third container is refused, and podman undoes it.
    Out refused = run(C);
    assertNotEquals(0, refused.exit(), refused.toString());
    assertTrue(refused.stderr().contains("pod address range exhausted"), refused.toString());
    mustPodman("rm", "--force", "--time", "0", C);
    assertEquals(held, ipam(), "the refused container holds nothing");

    // podman rm gives the addresses back
    mustPodman("rm", "--force", "--time", "0", A);
    held = ipam();
    assertEquals(Map.of(b.v4(), b.id(), b.v6(), b.id()), held, "IPAM store after podman rm");
    assertEquals(Set.of("podman/" + B), agentPods().keySet());
    assertFalse(Files.exists(Path.of(a.netns())), "podman's netns " + a.netns() + " is left");
    String hostEnd = CniMain.hostIfaceName(a.id(), "eth0");
    assertFalse(
        RouterChild.shIn(router.ns, "ip", "link", "show", hostEnd).ok(), hostEnd + " is left");

    // ... and a third container gets the freed IPv4 address and reaches the other
    Container c = started(C);
    assertEquals(a.v4(), c.v4(), "the only free IPv4 address is the one podman rm gave back");
    assertNotEquals(b.v6(), c.v6());
    ping(c, b.v4(), false);
    ping(b, c.v6(), true);
    assertEquals(Set.of("podman/" + B, "podman/" + C), agentPods().keySet());

    mustPodman("rm", "--force", "--time", "0", B, C);
    assertEquals(Map.of(), ipam(), "IPAM store after removing every container");
    assertEquals(Set.of(), agentPods().keySet());

    // A container that exits on its own gives its addresses back without podman rm: conmon runs
    // podman container cleanup, which calls the plugin's DEL.
    Out d = run(D, "/bin/sh", "-c", "ip -o addr show dev eth0; sleep 1");
    assertEquals(0, d.exit(), d.toString());
    await(
        D + " to exit and its addresses to be freed",
        60,
        () -> {
          try {
            return ipam().isEmpty()
                && agentPods().isEmpty()
                && podman("inspect", "--format", "{{.State.Status}}", D)
                    .stdout()
                    .strip()
                    .equals("exited");
          } catch (Exception e) {
            return false;
          }
        });
    String printed = mustPodman("logs", D);
    assertTrue(printed.matches("(?s).*inet 10\\.244\\.5\\.[12]/32.*"), D + " printed: " + printed);
    mustPodman("rm", D);
    System.out.printf(
        "podman e2e: done in %d ms%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
  }

  static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }
}
