package io.flatnet.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.flatnet.image.NodeImage.Built;
import io.flatnet.image.NodeImage.Result;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/deploy/flatnet-daemonset.yaml and docs/deploy/10-flatnet.conflist against the image they
 * name: every /opt/flatnet path exists (and every command is executable) in it, and the exact
 * command lines of the DaemonSet's containers run from it: the init container installs the CNI
 * plugin into host directories, where it then answers VERSION outside any container; the dataplane
 * and agent containers start with their exact commands, mounts (hugepages and /sys from this host,
 * the rest from temporary directories) and environment ({@code $(NODE_NAME)} expanded as the
 * kubelet does, to node-a of the manifest's ConfigMap), share one network namespace as the pod's
 * containers do, and pass their exact readiness probes. The only thing this machine lacks is the
 * node's NIC (0000:3b:00.0), which the agent reports.
 */
class DeployManifestsTest {
  static final Path DAEMONSET = NodeImage.REPO.resolve("docs/deploy/flatnet-daemonset.yaml");
  static final Path CONFLIST = NodeImage.REPO.resolve("docs/deploy/10-flatnet.conflist");
  static final JsonMapper JSON = JsonMapper.builder().build();

  /** Host paths the containers get for real; every other hostPath is a temporary directory. */
  static final Set<String> REAL_HOST_PATHS = Set.of("/dev/hugepages", "/sys");

  static final String NODE_NAME = "node-a";

  static Map<String, JsonNode> configMaps;
  static JsonNode podSpec;

  @BeforeAll
  static void readManifests() throws IOException {
    configMaps = new LinkedHashMap<>();
    YAMLMapper yaml = new YAMLMapper();
    for (JsonNode doc :
        yaml.readerFor(JsonNode.class).<JsonNode>readValues(DAEMONSET.toFile()).readAll()) {
      switch (doc.path("kind").asText()) {
        case "ConfigMap" ->
            configMaps.put(doc.path("metadata").path("name").asText(), doc.path("data"));
        case "DaemonSet" -> podSpec = doc.path("spec").path("template").path("spec");
        default -> {}
      }
    }
    assertNotNull(podSpec, "a DaemonSet in " + DAEMONSET);
  }

  static List<JsonNode> containers(String kind) {
    List<JsonNode> list = new ArrayList<>();
    podSpec.path(kind).forEach(list::add);
    return list;
  }

  static JsonNode container(String name) {
    for (String kind : List.of("initContainers", "containers")) {
      for (JsonNode c : containers(kind)) {
        if (c.path("name").asText().equals(name)) {
          return c;
        }
      }
    }
    throw new AssertionError("no container " + name + " in " + DAEMONSET);
  }

  static List<String> strings(JsonNode array) {
    List<String> list = new ArrayList<>();
    array.forEach(n -> list.add(n.asText()));
    return list;
  }

  /** The container's environment: literal values, and spec.nodeName as NODE_NAME. */
  static Map<String, String> env(JsonNode container) {
    Map<String, String> env = new LinkedHashMap<>();
    for (JsonNode e : container.path("env")) {
      String field = e.path("valueFrom").path("fieldRef").path("fieldPath").asText();
      if (field.equals("spec.nodeName")) {
        env.put(e.path("name").asText(), NODE_NAME);
      } else if (e.has("value")) {
        env.put(e.path("name").asText(), e.path("value").asText());
      } else {
        fail(
            "env "
                + e
                + " of "
                + container.path("name").asText()
                + ": the test knows no such source");
      }
    }
    return env;
  }

  /** The kubelet's expansion of {@code $(VAR)} in command and args ({@code $$} escapes). */
  static List<String> expand(List<String> command, Map<String, String> env) {
    Pattern ref = Pattern.compile("\\$\\$|\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");
    List<String> out = new ArrayList<>();
    for (String arg : command) {
      Matcher m = ref.matcher(arg);
      StringBuilder sb = new StringBuilder();
      while (m.find()) {
        String value = m.group(1) == null ? "$" : env.getOrDefault(m.group(1), m.group());
        m.appendReplacement(sb, Matcher.quoteReplacement(value));
      }
      m.appendTail(sb);
      out.add(sb.toString());
    }
    return out;
  }

  /**
   * podman -v options for a container's volumeMounts: hostPath volumes from REAL_HOST_PATHS as they
   * are, other hostPaths as directories under {@code host} (host/&lt;hostPath&gt;, so two
   * containers of the pod share them), configMaps as directories of their data's files.
   */
  static List<String> mounts(JsonNode container, Path host) throws IOException {
    Map<String, JsonNode> volumes = new LinkedHashMap<>();
    podSpec.path("volumes").forEach(v -> volumes.put(v.path("name").asText(), v));
    List<String> options = new ArrayList<>();
    for (JsonNode m : container.path("volumeMounts")) {
      JsonNode v = volumes.get(m.path("name").asText());
      assertNotNull(v, "volume " + m.path("name").asText() + " of " + container.path("name"));
      String source;
      if (v.has("hostPath")) {
        String path = v.path("hostPath").path("path").asText();
        if (REAL_HOST_PATHS.contains(path)) {
          assertTrue(Files.isDirectory(Path.of(path)), path + " on this host");
          source = path;
        } else {
          Path dir = host.resolve(path.substring(1));
          Files.createDirectories(dir);
          source = dir.toString();
        }
      } else if (v.has("configMap")) {
        String name = v.path("configMap").path("name").asText();
        JsonNode data = configMaps.get(name);
        assertNotNull(data, "ConfigMap " + name);
        Path dir = host.resolve("configmaps").resolve(name);
        Files.createDirectories(dir);
        for (Map.Entry<String, JsonNode> file : data.properties()) {
          Files.writeString(dir.resolve(file.getKey()), file.getValue().asText());
        }
        source = dir.toString();
      } else {
        throw new AssertionError("volume " + v + ": the test knows hostPath and configMap only");
      }
      options.add("-v");
      options.add(
          source
              + ":"
              + m.path("mountPath").asText()
              + (m.path("readOnly").asBoolean() ? ":ro" : ""));
    }
    return options;
  }

  @Test
  void theManifestsReferOnlyToWhatTheImageHas() throws Exception {
    Built image = NodeImage.loaded();
    String daemonset = Files.readString(DAEMONSET);
    String conflist = Files.readString(CONFLIST);

    List<JsonNode> all = new ArrayList<>(containers("initContainers"));
    all.addAll(containers("containers"));
    assertFalse(all.isEmpty());
    StringBuilder checks = new StringBuilder("set -u; ");
    for (JsonNode c : all) {
      assertEquals(
          image.name(), c.path("image").asText(), "the image of container " + c.path("name"));
      List<List<String>> commands = new ArrayList<>();
      commands.add(strings(c.path("command")));
      commands.add(strings(c.path("readinessProbe").path("exec").path("command")));
      for (List<String> command : commands) {
        if (command.isEmpty()) {
          continue;
        }
        String exe = command.get(0);
        checks.append(
            exe.startsWith("/")
                ? "test -x '" + exe + "' || echo 'not executable: " + exe + "'; "
                : "command -v '" + exe + "' >/dev/null || echo 'no command: " + exe + "'; ");
      }
    }
    // Every /opt/flatnet path the manifests name inside the image (not the host's /host/opt/...).
    Set<String> paths = new TreeSet<>();
    Matcher m =
        Pattern.compile("(?<![\\w/.])/opt/flatnet(/[A-Za-z0-9._-]+)*")
            .matcher(daemonset + conflist);
    while (m.find()) {
      paths.add(m.group());
    }
    assertTrue(paths.contains("/opt/flatnet/bin/flatnet"), paths.toString());
    assertTrue(paths.contains("/opt/flatnet/bin/flatnet-cni"), paths.toString());
    for (String p : paths) {
      checks.append("test -e '").append(p).append("' || echo 'missing: ").append(p).append("'; ");
      if (p.startsWith("/opt/flatnet/bin/")) {
        checks
            .append("test -x '")
            .append(p)
            .append("' || echo 'not executable: ")
            .append(p)
            .append("'; ");
      }
    }
    checks.append("echo checked");
    Result r = NodeImage.shInImage(checks.toString());
    assertEquals(0, r.exit(), r.output());
    assertEquals("checked", r.output().strip(), "paths " + paths + ":\n" + r.output());

    // The CNI config: the ConfigMap's is the file's, and every path it names is one the agent
    // container has from the host at the same place (the plugin runs on the host, the agent in its
    // container: they meet there).
    JsonNode fromFile = JSON.readTree(conflist);
    JsonNode fromConfigMap =
        JSON.readTree(configMaps.get("flatnet-cni").path("10-flatnet.conflist").asText());
    assertEquals(
        fromFile, fromConfigMap, "ConfigMap flatnet-cni holds docs/deploy/10-flatnet.conflist");
    Map<String, String> agentHostMounts = new LinkedHashMap<>();
    Map<String, JsonNode> volumes = new LinkedHashMap<>();
    podSpec.path("volumes").forEach(v -> volumes.put(v.path("name").asText(), v));
    for (JsonNode mount : container("agent").path("volumeMounts")) {
      JsonNode v = volumes.get(mount.path("name").asText());
      if (v.has("hostPath")) {
        agentHostMounts.put(
            mount.path("mountPath").asText(), v.path("hostPath").path("path").asText());
      }
    }
    for (JsonNode plugin : fromFile.path("plugins")) {
      for (String key : List.of("agentSocket", "ipamDir", "vhostSocketDir")) {
        String path = plugin.path(key).asText();
        assertTrue(
            agentHostMounts.entrySet().stream()
                .anyMatch(
                    e -> e.getKey().equals(e.getValue()) && path.startsWith(e.getKey() + "/")),
            key
                + " "
                + path
                + " is under a host directory the agent container mounts at the same path: "
                + agentHostMounts);
      }
    }
  }

  @Test
  void theInitContainerInstallsAPluginThatRunsOnTheHost(@TempDir Path host) throws Exception {
    Built image = NodeImage.loaded();
    JsonNode init = container("install-cni");
    List<String> command = expand(strings(init.path("command")), env(init));
    List<String> options = new ArrayList<>(List.of("--privileged"));
    options.addAll(mounts(init, host));
    // Twice: a restarted init container finds the previous installation.
    for (int i = 0; i < 2; i++) {
      Result r = NodeImage.inImage(options, null, command.toArray(String[]::new));
      assertEquals(0, r.exit(), "install-cni, run " + (i + 1) + ":\n" + r.output());
    }
    Path plugin = host.resolve("opt/cni/bin/flatnet");
    assertTrue(Files.isExecutable(plugin), plugin + " installed");
    Path home = host.resolve("opt/flatnet");
    assertTrue(Files.isExecutable(home.resolve("jre/bin/java")), "the JRE copied to the host");
    try (var jars = Files.list(home.resolve("lib"))) {
      assertTrue(
          jars.anyMatch(p -> p.getFileName().toString().startsWith("flatnet-cni-")),
          "the jars copied");
    }
    assertFalse(Files.exists(home.resolve("lib.new")) || Files.exists(home.resolve("jre.new")));
    assertEquals(
        JSON.readTree(Files.readString(CONFLIST)),
        JSON.readTree(Files.readString(host.resolve("etc/cni/net.d/10-flatnet.conflist"))));
    assertEquals(image.name(), init.path("image").asText());

    // The container runtime runs the plugin on the host: the installed copy, with the installed
    // JRE and jars only (no JAVA_HOME, no JDK to find).
    JsonNode conf = JSON.readTree(Files.readString(CONFLIST));
    ObjectNode pluginConf = ((ObjectNode) conf.path("plugins").get(0)).deepCopy();
    pluginConf.put("cniVersion", conf.path("cniVersion").asText());
    pluginConf.put("name", conf.path("name").asText());
    Path empty = Files.createDirectories(host.resolve("no-jdks"));
    ProcessBuilder pb = new ProcessBuilder(plugin.toString()).redirectErrorStream(true);
    pb.environment().remove("JAVA_HOME");
    pb.environment().put("FLATNET_HOME", home.toString());
    pb.environment().put("FLATNET_JVM_DIR", empty.toString());
    pb.environment().put("FLATNET_CNI_CACHE", host.resolve("cni-cache").toString());
    pb.environment().put("CNI_COMMAND", "VERSION");
    Process p = pb.start();
    try (OutputStream stdin = p.getOutputStream()) {
      stdin.write(JSON.writeValueAsBytes(pluginConf));
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), out);
    assertTrue(JSON.readTree(out).path("supportedVersions").toString().contains("\"1.0.0\""), out);
  }

  @Test
  void theDataplaneAndAgentContainersRunTheirExactCommandLines(@TempDir Path host)
      throws Exception {
    Built image = NodeImage.loaded();
    String meminfo = Files.readString(Path.of("/proc/meminfo"));
    Matcher free = Pattern.compile("HugePages_Free:\\s+(\\d+)").matcher(meminfo);
    assertTrue(
        free.find() && Integer.parseInt(free.group(1)) >= 256,
        "the dataplane container needs free 2 MiB hugepages (./flatnet test reserves them:"
            + " hugepages-setup.sh):\n"
            + meminfo);
    String dataplaneName = "flatnet-image-test-dataplane";
    String agentName = "flatnet-image-test-agent";
    remove(agentName, dataplaneName);
    try {
      JsonNode dataplane = container("dataplane");
      JsonNode agent = container("agent");
      assertEquals(image.name(), dataplane.path("image").asText());
      assertEquals(image.name(), agent.path("image").asText());
      // One network namespace for both, as for a pod's containers (not this host's: the agent
      // makes its pod bridge there).
      start(dataplaneName, dataplane, host, List.of("--network", "none"));
      start(agentName, agent, host, List.of("--network", "container:" + dataplaneName));
      waitReady(dataplaneName, dataplane);
      waitReady(agentName, agent);

      String agentLog = logs(agentName);
      assertTrue(agentLog.contains("flatnet agent: ready: dataplane pid"), agentLog);
      Result ports =
          NodeImage.podman(List.of("exec", agentName, "flatnet", "ctl", "show", "ports"), null, 60);
      assertEquals(0, ports.exit(), "ctl in the agent container:\n" + ports.output());
      System.out.println(
          "agent container's log (this machine has no NIC 0000:3b:00.0):\n"
              + NodeImage.tail(agentLog, 12));

      // The kubelet stops them with SIGTERM: both end cleanly.
      for (String name : List.of(agentName, dataplaneName)) {
        Result stop = NodeImage.podman(List.of("stop", "-t", "20", name), null, 60);
        assertEquals(0, stop.exit(), stop.output());
      }
      Result exit =
          NodeImage.podman(
              List.of("inspect", "--format", "{{.State.ExitCode}}", dataplaneName), null, 30);
      // SIGTERM: the dataplane stops its workers, prints its totals and exits as the JVM does
      // after a signal (143), or 0.
      String dataplaneLog = logs(dataplaneName);
      assertTrue(
          Set.of("0", "143").contains(exit.output().strip()),
          "the dataplane's exit code " + exit.output() + "; its log:\n" + dataplaneLog);
      assertTrue(dataplaneLog.contains("\"forwarded\":"), "its totals at exit:\n" + dataplaneLog);
    } finally {
      remove(agentName, dataplaneName);
    }
  }

  static void start(String name, JsonNode container, Path host, List<String> network)
      throws IOException, InterruptedException {
    List<String> args = new ArrayList<>(List.of("run", "-d", "--name", name));
    args.addAll(List.of("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"));
    args.addAll(network);
    if (container.path("securityContext").path("privileged").asBoolean()) {
      args.add("--privileged");
    }
    Map<String, String> env = env(container);
    env.forEach((k, v) -> args.addAll(List.of("-e", k + "=" + v)));
    args.addAll(mounts(container, host));
    args.add("docker.io/" + container.path("image").asText());
    args.addAll(expand(strings(container.path("command")), env));
    Result r = NodeImage.podman(args, null, 60);
    assertEquals(0, r.exit(), "podman run " + name + ":\n" + r.output());
  }

  /** Runs the container's exact readiness probe until it passes (60 s at most). */
  static void waitReady(String name, JsonNode container) throws IOException, InterruptedException {
    List<String> probe = strings(container.path("readinessProbe").path("exec").path("command"));
    assertFalse(probe.isEmpty(), "a readiness probe on " + name);
    List<String> exec = new ArrayList<>(List.of("exec", name));
    exec.addAll(probe);
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (true) {
      Result r = NodeImage.podman(exec, null, 30);
      if (r.ok()) {
        return;
      }
      if (System.nanoTime() > deadline) {
        fail(
            name + ": readiness probe " + probe + " still failing after 60 s; log:\n" + logs(name));
      }
      Thread.sleep(500);
    }
  }

  /** One by one: podman 4.3's {@code rm -f A B} with A missing leaves B. */
  static void remove(String... names) throws IOException, InterruptedException {
    for (String name : names) {
      NodeImage.podman(List.of("rm", "--force", "--ignore", "--time", "0", name), null, 60);
    }
  }

  static String logs(String name) throws IOException, InterruptedException {
    return NodeImage.podman(List.of("logs", name), null, 30).output();
  }
}
