package io.flatnet.agent.dataplane;

import io.flatnet.agent.Agent;
import io.flatnet.agent.ApplyResult;
import io.flatnet.agent.PeerSource;
import io.flatnet.agent.api.AgentSocketServer;
import io.flatnet.agent.api.ControlAccess;
import io.flatnet.agent.api.RunDirectoryLock;
import io.flatnet.agent.config.ConfigException;
import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.KubernetesConfig;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.config.PortConfig;
import io.flatnet.agent.kube.NodeWatcher;
import io.flatnet.dataplane.ForwardingWorker;
import io.flatnet.dataplane.Router;
import io.flatnet.dataplane.app.IdleStrategies;
import io.flatnet.dataplane.app.ThroughputReport;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import io.flatnet.vhost.VhostPortChecks;
import io.flatnet.vhost.VhostPorts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./flatnet run --config node.yaml}: the router and its agent in one process. The agent
 * applies the config (ports, pods and routes go in while the workers forward), watches the file and
 * reloads on SIGHUP, and serves the CNI plugin on a unix socket.
 */
@Command(
    name = "flatnet run --config",
    mixinStandardHelpOptions = true,
    description = "Runs the router on a node config, with the agent and the CNI socket.")
public final class RouterMain implements Callable<Integer> {
  @Option(names = "--config", required = true, description = "The node config YAML.")
  Path config;

  @Option(
      names = "--dir",
      description = "Run directory: counters, agent socket (default /run/flatnet).")
  Path dir = Path.of("/run/flatnet");

  @Option(names = "--state-dir", description = "Agent state (default /var/lib/flatnet/agent).")
  Path stateDir = Agent.Options.DEFAULT_STATE_DIR;

  @Option(
      names = "--ipam-dir",
      description =
          "The CNI plugin's IPAM stores, collected against the CNI pods (default"
              + " /var/lib/flatnet/ipam, the plugin's default ipamDir).")
  Path ipamDir = Path.of("/var/lib/flatnet/ipam");

  @Option(names = "--seconds", description = "Stop after this long; 0 runs until signalled.")
  int seconds;

  @Option(names = "--stats", description = "Print a line of rates every second.")
  boolean stats;

  @Option(
      names = "--metrics",
      paramLabel = "HOST:PORT",
      description = "Serve the counters for Prometheus on http://HOST:PORT/metrics (default off).")
  String metrics;

  /**
   * With {@code kubernetes.watchNodes}: a started Node watcher, after its first list (at most 10 s,
   * so the first generation has the cluster's peers; an API server that does not answer by then
   * only delays them), else null.
   */
  static NodeWatcher startNodeWatcher(KubernetesConfig k) {
    if (!k.watchNodes()) {
      return null;
    }
    NodeWatcher nodes = NodeWatcher.connect(k.kubeconfig());
    try {
      nodes.start().toCompletableFuture().get(10, TimeUnit.SECONDS);
      System.out.println(
          "flatnet run: watching Kubernetes nodes: " + nodes.peers().size() + " peers");
    } catch (TimeoutException | ExecutionException e) {
      System.err.println(
          "flatnet run: Kubernetes nodes not listed yet ("
              + e
              + "); still trying in the background");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return nodes;
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new RouterMain()).execute(args));
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
    Files.createDirectories(dir);
    // Before anything in the run directory is touched (counters.dat, agent.sock): one router each.
    RunDirectoryLock lock;
    try {
      lock = RunDirectoryLock.acquire(dir);
    } catch (IOException e) {
      System.err.println("flatnet run: " + e.getMessage());
      return 3;
    }
    try (lock) {
      return run(node);
    }
  }

  private int run(NodeConfig node) throws Exception {
    List<Integer> cpus = new ArrayList<>(node.workers().cpus());
    if (cpus.isEmpty()) {
      cpus.add(Runtime.getRuntime().availableProcessors() - 1);
    }
    EalArguments eal = EalArguments.forProgram("flatnet").logLevel("warning");
    List<String> pci = new ArrayList<>();
    for (PortConfig port : node.ports()) {
      if (port.device().matches("(?i)([0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]")) {
        pci.add(port.device());
      }
    }
    if (!pci.isEmpty()) {
      eal.pci(pci);
    }
    Eal.init(eal.build());

    CountDownLatch stop = new CountDownLatch(1);
    CountDownLatch stopped = new CountDownLatch(1);
    try (Router router =
        Router.open(Router.Sizes.defaults().withWorkers(cpus.size()), dir.toFile())) {
      List<ForwardingWorker> workers =
          router.startWorkers(
              cpus.stream().mapToInt(Integer::intValue).toArray(),
              IdleStrategies.parse(node.workers().idle()));
      VhostPorts vhostPorts =
          new VhostPorts(router, dir, VhostPortChecks.Policy.defaults(), VhostPorts.standardLog());
      vhostPorts.startMonitor(Duration.ofMillis(500));
      RouterDataplane dataplane = new RouterDataplane(router, cpus.size(), vhostPorts);
      NodeWatcher nodes = startNodeWatcher(node.kubernetes());
      Agent.Options options =
          Agent.Options.defaults(config)
              .withStateDir(stateDir)
              .withIpamDir(ipamDir)
              .withPeerSource(nodes == null ? PeerSource.NONE : nodes);
      createSocketDirectory(options.vhostSocketDir());
      Agent agent = new Agent(options, dataplane);
      ApplyResult first = agent.start();
      System.out.println("flatnet run: " + node.node().name() + ": " + first);
      agent.watch();
      if (!HangUpSignal.onHangUp(
          () -> {
            try {
              System.out.println("flatnet run: SIGHUP: " + agent.reload());
            } catch (RuntimeException e) {
              System.err.println("flatnet run: SIGHUP: reload failed: " + e);
            }
          })) {
        System.err.println(
            "flatnet run: cannot catch SIGHUP here; the config file is still watched");
      }
      Path socket = dir.resolve("agent.sock");
      CtlHandler ctl = new CtlHandler(router, dataplane, agent, dir);
      AgentSocketServer.Settings socketSettings =
          AgentSocketServer.Settings.defaults()
              .withSocketGroup(node.agent().socketGroup())
              .withWriters(
                  ControlAccess.writers(
                      () -> agent.lastGoodConfig().orElse(node).agent().writers()));
      // A stale agent.sock is replaced; one a live process answers on is not (start fails).
      AgentSocketServer socketServer;
      try {
        socketServer = AgentSocketServer.start(socket, ctl, socketSettings);
      } catch (IOException e) {
        System.err.println("flatnet run: " + e.getMessage());
        if (nodes != null) {
          nodes.close();
        }
        agent.close();
        vhostPorts.close();
        return 3;
      }
      try (AgentSocketServer server = socketServer;
          MetricsServer metricsServer =
              metrics == null ? null : MetricsServer.start(metrics, router.counters().reader())) {
        if (metricsServer != null) {
          System.out.println(
              "flatnet run: metrics on http://"
                  + metrics
                  + "/metrics ("
                  + metricsServer.address()
                  + ")");
        }
        System.out.printf(
            "flatnet run: workers on CPUs %s, counters in %s, CNI socket %s%n",
            cpus, router.counters().file(), server.socket());
        Runtime.getRuntime()
            .addShutdownHook(
                new Thread(
                    () -> {
                      stop.countDown();
                      try {
                        stopped.await(10, TimeUnit.SECONDS);
                      } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                      }
                    },
                    "flatnet-stop"));
        ThroughputReport report =
            new ThroughputReport(
                workers.stream().map(ForwardingWorker::counters).toList(), List.of(), List.of());
        for (int second = 1; seconds == 0 || second <= seconds; second++) {
          if (stop.await(1, TimeUnit.SECONDS)) {
            break;
          }
          if (stats) {
            System.out.println(report.intervalLine(second));
          }
        }
        System.out.println(report.summaryJson(""));
      } finally {
        if (nodes != null) {
          nodes.close();
        }
        agent.close();
        vhostPorts.close();
      }
    } finally {
      stopped.countDown();
    }
    return 0;
  }

  /**
   * Where CNI vhost-user pods' sockets go: made 0750 if missing, so the vhost-user checks (owner,
   * not writable by others) pass; one that exists is left as it is, and the checks judge it.
   */
  private static void createSocketDirectory(Path socketDir) throws IOException {
    if (Files.isDirectory(socketDir)) {
      return;
    }
    Files.createDirectories(socketDir);
    Files.setPosixFilePermissions(socketDir, PosixFilePermissions.fromString("rwxr-x---"));
  }
}
