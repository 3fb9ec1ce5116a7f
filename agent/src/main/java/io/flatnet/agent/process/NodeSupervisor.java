package io.flatnet.agent.process;

import io.flatnet.agent.Agent;
import io.flatnet.agent.config.ConfigError;
import io.flatnet.agent.config.ConfigException;
import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.ConfigValidator;
import io.flatnet.agent.config.NodeConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./flatnet run --config node.yaml}: a whole node with one command. It starts the dataplane
 * process, waits until it serves its command channel, starts the agent, and keeps both running: an
 * agent that exits is started again (the dataplane forwards on meanwhile, and the new agent finds
 * everything in place); a dataplane that exits is started again and the agent applies the whole
 * state to it. With a {@code bgp:} section ({@code bgp.frr.manage}, the default), FRR's zebra and
 * bgpd are its third child ({@link NodeFrr}): started after the agent, restarted if they exit,
 * reconfigured when the bgp section changes. SIGHUP goes to the agent (reload) and to FRR's config;
 * SIGTERM stops FRR (the neighbours withdraw the node's routes), then the agent, then the
 * dataplane.
 */
@Command(
    name = "flatnet run --config",
    mixinStandardHelpOptions = true,
    description =
        "Runs a node: the dataplane process, the agent and, with a bgp section, FRR's zebra and"
            + " bgpd; each restarted if it exits.")
public final class NodeSupervisor implements Callable<Integer> {
  @Option(names = "--config", required = true, description = "The node config YAML.")
  Path config;

  @Option(names = "--dir", description = "Run directory (default /run/flatnet).")
  Path dir = Path.of("/run/flatnet");

  @Option(names = "--state-dir", description = "Agent state (default /var/lib/flatnet/agent).")
  Path stateDir;

  @Option(names = "--ipam-dir", description = "The CNI plugin's IPAM stores (agent --ipam-dir).")
  Path ipamDir;

  @Option(names = "--metrics", paramLabel = "HOST:PORT", description = "Agent --metrics.")
  String metrics;

  @Option(names = "--stats", description = "The dataplane prints a line of rates every second.")
  boolean stats;

  @Option(names = "--seconds", description = "Stop after this long; 0 runs until signalled.")
  int seconds;

  @Option(
      names = "--share-cpus",
      description = "Dataplane --share-cpus: let its other threads use the worker CPUs.")
  boolean shareCpus;

  @Option(
      names = "--agent-cpus",
      split = ",",
      paramLabel = "CPU",
      description =
          "CPUs of the agent process. Default: this process's CPUs except the workers' (if any"
              + " is left; with --share-cpus, no pinning), so the agent and its JVM's GC and JIT"
              + " threads never take a worker's CPU.")
  List<Integer> agentCpus = new ArrayList<>();

  private static final Duration DATAPLANE_START = Duration.ofSeconds(60);
  private static final long MAX_BACKOFF_MILLIS = 10_000;

  private volatile Process dataplane;
  private volatile Process agent;
  private volatile boolean stopping;
  private NodeFrr frr;

  public static void main(String[] args) {
    System.exit(new CommandLine(new NodeSupervisor()).execute(args));
  }

  private static void say(String line) {
    System.out.println("flatnet run: " + line);
  }

  /**
   * The agent's CPUs: {@code explicit} if given; otherwise {@code allowed} less the workers' CPUs
   * ({@code workers}, or the dataplane's default, the last of {@code processors}); empty (no
   * pinning) when none is left or {@code share}.
   */
  static List<Integer> agentCpus(
      List<Integer> explicit,
      Set<Integer> allowed,
      List<Integer> workers,
      int processors,
      boolean share) {
    if (!explicit.isEmpty()) {
      return List.copyOf(new TreeSet<>(explicit));
    }
    if (share) {
      return List.of();
    }
    Set<Integer> left = new TreeSet<>(allowed);
    if (workers.isEmpty()) {
      left.remove(processors - 1);
    } else {
      left.removeAll(workers);
    }
    return List.copyOf(left);
  }

  /** Where the agent runs, for its start line. */
  static String placement(List<Integer> agentOn, List<Integer> workers) {
    if (agentOn.isEmpty()) {
      return "on this process's CPUs, the workers' too";
    }
    boolean apart = agentOn.stream().noneMatch(workers::contains);
    return "on CPUs " + agentOn + (apart ? ", off the workers'" : ", with a worker");
  }

  /** This process's allowed CPUs (/proc/self/status), else every online CPU. */
  static Set<Integer> allowedCpus() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("Cpus_allowed_list:")) {
          return ConfigValidator.parseCpuList(line.substring(line.indexOf(':') + 1).strip());
        }
      }
    } catch (IOException | RuntimeException e) {
      // fall through
    }
    return ConfigValidator.onlineCpus();
  }

  @Override
  public Integer call() throws Exception {
    NodeConfig node;
    try {
      node = ConfigLoader.load(config);
    } catch (ConfigException e) {
      System.err.println("flatnet run: " + e.getMessage());
      return 2;
    }
    if (NodeFrr.managed(node)) {
      List<ConfigError> missing = NodeFrr.checkInstalled(node);
      if (!missing.isEmpty()) {
        System.err.println(
            "flatnet run: " + new ConfigException(config.toString(), missing).getMessage());
        return 2;
      }
    }
    NodeProcesses.Classpaths cp;
    try {
      cp = NodeProcesses.Classpaths.find();
    } catch (IOException e) {
      System.err.println("flatnet run: " + e.getMessage());
      return 2;
    }
    Files.createDirectories(dir);
    List<String> dataplaneArgs = new ArrayList<>(NodeProcesses.dataplaneArgs(node, dir));
    if (stats) {
      dataplaneArgs.add("--stats");
    }
    if (shareCpus) {
      dataplaneArgs.add("--share-cpus");
    }
    List<String> agentArgs =
        new ArrayList<>(List.of("--config", config.toString(), "--dir", dir.toString()));
    if (stateDir != null) {
      agentArgs.addAll(List.of("--state-dir", stateDir.toString()));
    }
    if (ipamDir != null) {
      agentArgs.addAll(List.of("--ipam-dir", ipamDir.toString()));
    }
    if (metrics != null) {
      agentArgs.addAll(List.of("--metrics", metrics));
    }
    List<Integer> agentOn =
        agentCpus(
            agentCpus,
            allowedCpus(),
            node.workers().cpus(),
            Runtime.getRuntime().availableProcessors(),
            shareCpus);
    List<String> agentPrefix =
        agentOn.isEmpty()
            ? List.of()
            : List.of(
                "taskset", "-c", String.join(",", agentOn.stream().map(String::valueOf).toList()));
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  stopping = true;
                  stopAll();
                  stopped.countDown();
                },
                "flatnet-run-stop"));
    NodeFrr nodeFrr =
        new NodeFrr(
            config,
            dir,
            stateDir != null ? stateDir : Agent.Options.DEFAULT_STATE_DIR,
            System.out,
            ConfigValidator.forThisMachine());
    HangUpSignal.onHangUp(
        () -> {
          Process a = agent;
          if (a != null && a.isAlive()) {
            signal("HUP", a.pid());
          }
          nodeFrr.requestReload();
        });
    // Both at once: the agent's JVM start and config load (about 1 s here) overlap the
    // dataplane's, and the agent waits for the dataplane's command channel (--dataplane-wait).
    dataplane = start(NodeProcesses.dataplaneCommand(List.of(), cp, dataplaneArgs));
    agent = start(NodeProcesses.agentCommand(agentPrefix, cp, agentArgs));
    if (!NodeProcesses.awaitDataplane(dir, dataplane, DATAPLANE_START)) {
      int code = dataplane.isAlive() ? -1 : dataplane.exitValue();
      agent.destroy();
      dataplane.destroy();
      System.err.println(
          "flatnet run: the dataplane did not come up"
              + (code >= 0 ? " (it exited " + code + ")" : " in " + DATAPLANE_START));
      return code > 0 ? code : 1;
    }
    say("dataplane pid " + dataplane.pid());
    say("agent pid " + agent.pid() + " (" + placement(agentOn, node.workers().cpus()) + ")");
    synchronized (this) {
      if (!stopping) {
        frr = nodeFrr;
        nodeFrr.start(node);
      }
    }
    long deadline = seconds == 0 ? Long.MAX_VALUE : System.nanoTime() + seconds * 1_000_000_000L;
    long agentBackoff = 200;
    long agentStarted = System.nanoTime();
    int agentFatal = 0;
    while (!stopping && System.nanoTime() < deadline) {
      TimeUnit.MILLISECONDS.sleep(100);
      if (stopping) {
        break;
      }
      if (!dataplane.isAlive()) {
        say("the dataplane exited (" + dataplane.exitValue() + "); starting it again");
        dataplane = start(NodeProcesses.dataplaneCommand(List.of(), cp, dataplaneArgs));
        if (NodeProcesses.awaitDataplane(dir, dataplane, DATAPLANE_START)) {
          say("dataplane pid " + dataplane.pid() + " (the agent applies the whole state to it)");
        }
      }
      if (!agent.isAlive()) {
        int code = agent.exitValue();
        // Config and lock errors (exit 2, 3) do not go away by themselves: give up after a few.
        if ((code == 2 || code == 3) && ++agentFatal >= 3) {
          System.err.println("flatnet run: the agent keeps exiting " + code + "; stopping");
          stopping = true;
          break;
        }
        boolean flapping = System.nanoTime() - agentStarted < 10_000_000_000L;
        agentBackoff = flapping ? Math.min(agentBackoff * 2, MAX_BACKOFF_MILLIS) : 200;
        say("the agent exited (" + code + "); starting it again in " + agentBackoff + " ms");
        TimeUnit.MILLISECONDS.sleep(agentBackoff);
        agent = start(NodeProcesses.agentCommand(agentPrefix, cp, agentArgs));
        agentStarted = System.nanoTime();
        say("agent pid " + agent.pid());
      }
      synchronized (this) {
        if (!stopping && frr != null) {
          frr.tick();
        }
      }
    }
    stopping = true;
    stopAll();
    return agentFatal >= 3 ? 1 : 0;
  }

  private static Process start(List<String> command) throws IOException {
    return new ProcessBuilder(command).inheritIO().start();
  }

  /**
   * FRR first (its sessions close: the neighbours route around the node before it stops
   * forwarding), then the agent (it may be mid-plan), then the dataplane; each gets 10 s to stop.
   */
  private synchronized void stopAll() {
    if (frr != null) {
      frr.close();
      frr = null;
    }
    for (Process p : new Process[] {agent, dataplane}) {
      if (p != null && p.isAlive()) {
        p.destroy();
        try {
          if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.destroyForcibly();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  private static void signal(String name, long pid) {
    try {
      new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start().waitFor();
    } catch (IOException e) {
      System.err.println("flatnet run: cannot send SIG" + name + " to " + pid + ": " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
