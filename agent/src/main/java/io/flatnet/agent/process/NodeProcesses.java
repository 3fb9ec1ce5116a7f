package io.flatnet.agent.process;

import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.config.PortConfig;
import io.flatnet.control.CommandChannel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Starts a node's two processes: the dataplane ({@code io.flatnet.process.DataplaneMain}, on its
 * own classpath with its own JVM settings) and the agent ({@link AgentProcess}). Used by {@code
 * flatnet run --config} ({@link NodeSupervisor}), the cluster demo and the tests, so all three
 * start a node the same way.
 *
 * <p>Each process's JVM options ship in its own classes ({@value #DATAPLANE_JVM_OPTIONS}, {@value
 * #AGENT_JVM_OPTIONS}), read by the launcher too.
 */
public final class NodeProcesses {
  /** Where the dataplane's JVM options ship: in its own classes (docs/architecture.md). */
  public static final String DATAPLANE_JVM_OPTIONS = "flatnet-dataplane.jvm";

  /** Where the agent's ship: in its own classes. */
  public static final String AGENT_JVM_OPTIONS = "flatnet-agent.jvm";

  /** Where the classes are: the dataplane's classpath and the agent's. */
  public record Classpaths(String dataplane, String agent) {
    /**
     * From {@code FLATNET_DATAPLANE_CP} and {@code FLATNET_AGENT_CP} (the launcher sets them), else
     * from a source tree at or above the working directory (its dataplane-process/target) and this
     * JVM's own classpath.
     */
    public static Classpaths find() throws IOException {
      String dataplane = System.getenv("FLATNET_DATAPLANE_CP");
      String agent = System.getenv("FLATNET_AGENT_CP");
      if (agent == null || agent.isBlank()) {
        agent = System.getProperty("java.class.path");
      }
      if (dataplane == null || dataplane.isBlank()) {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.isRegularFile(module(dir).resolve("classpath.txt"))) {
          dir = dir.getParent();
        }
        if (dir == null) {
          throw new IOException(
              "cannot find the dataplane's classes: set FLATNET_DATAPLANE_CP, or build the source"
                  + " tree (./flatnet build: dataplane-process/target/classpath.txt)");
        }
        Path target = module(dir);
        dataplane =
            target.resolve("classes")
                + ":"
                + Files.readString(target.resolve("classpath.txt")).strip();
      }
      return new Classpaths(dataplane, agent);
    }

    private static Path module(Path root) {
      return root.resolve("dataplane-process").resolve("target");
    }
  }

  private NodeProcesses() {}

  /** The dataplane's arguments for a node config: worker CPUs, idle strategy, PCI devices. */
  public static List<String> dataplaneArgs(NodeConfig node, Path dir) {
    List<String> args = new ArrayList<>(List.of("--dir", dir.toString()));
    List<Integer> cpus = node.workers().cpus();
    if (!cpus.isEmpty()) {
      args.add("--cpus");
      args.add(String.join(",", cpus.stream().map(String::valueOf).toList()));
    }
    args.add("--idle");
    args.add(node.workers().idle());
    List<String> pci = new ArrayList<>();
    for (PortConfig port : node.ports()) {
      if (port.device().matches("(?i)([0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]")) {
        pci.add(port.device());
      }
    }
    if (!pci.isEmpty()) {
      args.add("--pci");
      args.add(String.join(",", pci));
    }
    return args;
  }

  /** The java command for {@code main} with {@code jvm} settings, {@code prefix} in front. */
  static List<String> command(
      List<String> prefix, List<String> jvm, String classpath, String main, List<String> args) {
    List<String> argv = new ArrayList<>(prefix);
    argv.add(ProcessHandle.current().info().command().orElse("java"));
    argv.addAll(jvm);
    argv.add("-cp");
    argv.add(classpath);
    argv.add(main);
    argv.addAll(args);
    return argv;
  }

  public static List<String> dataplaneCommand(List<String> prefix, Classpaths cp, List<String> args)
      throws IOException {
    return command(
        prefix,
        withStartupArchive(
            jvmOptions(cp.dataplane(), DATAPLANE_JVM_OPTIONS),
            System.getenv(JVM_CACHE_ENV),
            "dataplane",
            cp.dataplane(),
            args),
        cp.dataplane(),
        "io.flatnet.process.DataplaneMain",
        args);
  }

  /**
   * CDS says nothing: the archive only saves time, and its messages (a warning per class it cannot
   * archive; "errors" because the JDK's own archive was made without --add-exports) are not the
   * operator's. {@code -Xlog:cds} shows them.
   */
  static final List<String> QUIET_ARCHIVE = List.of("-Xlog:cds*=off", "-Xlog:aot*=off");

  /** Set by the launcher to its start-up archive directory; unset: no archive. */
  public static final String JVM_CACHE_ENV = "FLATNET_JVM_CACHE_DIR";

  /**
   * {@code jvm} plus a start-up archive (AppCDS: a JDK dynamic archive of the classes the process
   * loaded, about a quarter of its JVM's start here) in {@code cacheDir}, one per process and run
   * directory, so that two nodes on one machine never write the same file. The JVM writes it at its
   * first clean exit and remakes it when the jars or the JDK change; a killed process writes none
   * and starts the next one without. CDS maps jars only: with a classes directory on the classpath
   * (the tests') or no {@code cacheDir}, {@code jvm} is returned as it is.
   */
  static List<String> withStartupArchive(
      List<String> jvm, String cacheDir, String process, String classpath, List<String> args) {
    if (cacheDir == null || cacheDir.isBlank()) {
      return jvm;
    }
    for (String entry : classpath.split(":")) {
      if (!entry.endsWith(".jar") || !Files.isRegularFile(Path.of(entry))) {
        return jvm;
      }
    }
    String dir = "/run/flatnet";
    int at = args.indexOf("--dir");
    if (at >= 0 && at + 1 < args.size()) {
      dir = args.get(at + 1);
    }
    String key =
        Integer.toHexString(Path.of(dir).toAbsolutePath().normalize().toString().hashCode());
    Path archive = Path.of(cacheDir, process + "-" + key + ".jsa");
    List<String> files = new ArrayList<>(List.of(classpath.split(":")));
    files.add(Path.of(System.getProperty("java.home"), "lib", "modules").toString());
    try {
      // The JVM rejects an archive older than a jar but does not write it again: gone, it does.
      if (Files.isRegularFile(archive) && anyNewer(files, archive)) {
        Files.delete(archive);
      }
    } catch (IOException e) {
      return jvm;
    }
    List<String> flags = new ArrayList<>(jvm);
    flags.add("-XX:+AutoCreateSharedArchive");
    flags.add("-XX:SharedArchiveFile=" + archive);
    flags.addAll(QUIET_ARCHIVE);
    return flags;
  }

  private static boolean anyNewer(List<String> files, Path archive) throws IOException {
    FileTime archived = Files.getLastModifiedTime(archive);
    for (String f : files) {
      Path p = Path.of(f);
      if (Files.exists(p) && Files.getLastModifiedTime(p).compareTo(archived) > 0) {
        return true;
      }
    }
    return false;
  }

  /** JVM options from the file {@code name} on {@code classpath} (a directory or jar entry). */
  static List<String> jvmOptions(String classpath, String name) throws IOException {
    for (String entry : classpath.split(":")) {
      Path path = Path.of(entry);
      String text = null;
      if (Files.isDirectory(path) && Files.isRegularFile(path.resolve(name))) {
        text = Files.readString(path.resolve(name));
      } else if (Files.isRegularFile(path) && entry.endsWith(".jar")) {
        try (java.util.jar.JarFile jar = new java.util.jar.JarFile(path.toFile())) {
          java.util.zip.ZipEntry e = jar.getEntry(name);
          if (e != null) {
            text =
                new String(
                    jar.getInputStream(e).readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
          }
        }
      }
      if (text != null) {
        return text.lines()
            .map(String::strip)
            .filter(l -> !l.isEmpty() && !l.startsWith("#"))
            .toList();
      }
    }
    throw new IOException("no " + name + " on the classpath " + classpath);
  }

  public static List<String> agentCommand(List<String> prefix, Classpaths cp, List<String> args)
      throws IOException {
    return command(
        prefix,
        withStartupArchive(
            jvmOptions(cp.agent(), AGENT_JVM_OPTIONS),
            System.getenv(JVM_CACHE_ENV),
            "agent",
            cp.agent(),
            args),
        cp.agent(),
        AgentProcess.class.getName(),
        args);
  }

  /** {@code flatnet run --config}: the supervisor of both, in the agent's JVM settings. */
  public static List<String> supervisorCommand(
      List<String> prefix, Classpaths cp, List<String> args) throws IOException {
    return command(
        prefix,
        jvmOptions(cp.agent(), AGENT_JVM_OPTIONS),
        cp.agent(),
        NodeSupervisor.class.getName(),
        args);
  }

  /**
   * Waits until {@code process} (the dataplane, started directly or through {@code ip netns exec},
   * which execs it) serves {@code dir}'s command channel; false if it exits or the time is up.
   */
  public static boolean awaitDataplane(Path dir, Process process, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline && process.isAlive()) {
      try (CommandChannel c = CommandChannel.open(dir)) {
        if (c.dataplanePid() == process.pid() && c.dataplaneAlive(System.currentTimeMillis())) {
          return true;
        }
      } catch (IOException e) {
        // not made yet
      }
      TimeUnit.MILLISECONDS.sleep(20);
    }
    return false;
  }

  /**
   * The pid {@link NodeSupervisor} last reported for {@code what} ({@code "agent"}, {@code
   * "dataplane"}, or FRR's {@code "zebra"} and {@code "bgpd"}) in its output {@code log}, or -1.
   */
  public static long reportedPid(Path log, String what) throws IOException {
    long pid = -1;
    String marker = "flatnet run: " + what + " pid ";
    for (String line : Files.readAllLines(log)) {
      int at = line.indexOf(marker);
      if (at >= 0) {
        pid = Long.parseLong(line.substring(at + marker.length()).split("\\D", 2)[0]);
      }
    }
    return pid;
  }

  /**
   * Stops a supervisor started with its output in {@code log}: SIGTERM (it stops FRR, the agent,
   * then the dataplane), SIGKILL after {@code grace}; children it could not stop are killed too, so
   * none outlives it (a real node leaves that to systemd or the kubelet, which kill the whole
   * cgroup).
   */
  public static void stopSupervisor(Process supervisor, Path log, Duration grace)
      throws InterruptedException {
    List<Long> children = new ArrayList<>();
    try {
      children.add(reportedPid(log, "agent"));
      children.add(reportedPid(log, "dataplane"));
      children.add(reportedPid(log, "zebra"));
      children.add(reportedPid(log, "bgpd"));
    } catch (IOException | RuntimeException e) {
      // no log: no children either
    }
    if (supervisor.isAlive()) {
      supervisor.destroy();
      if (!supervisor.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
        supervisor.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    }
    for (long pid : children) {
      ProcessHandle.of(pid)
          .ifPresent(
              p -> {
                p.destroyForcibly();
                p.onExit().orTimeout(10, TimeUnit.SECONDS).exceptionally(e -> p).join();
              });
    }
  }
}
