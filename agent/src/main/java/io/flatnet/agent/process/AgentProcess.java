package io.flatnet.agent.process;

import io.flatnet.agent.Agent;
import io.flatnet.agent.ApplyResult;
import io.flatnet.agent.PeerSource;
import io.flatnet.agent.api.AgentSocketServer;
import io.flatnet.agent.api.ControlAccess;
import io.flatnet.agent.api.RunDirectoryLock;
import io.flatnet.agent.cni.CommandRunner;
import io.flatnet.agent.cni.PodSegment;
import io.flatnet.agent.config.ConfigException;
import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.KubernetesConfig;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.kube.NodeWatcher;
import io.flatnet.agent.kube.PolicyFeed;
import io.flatnet.agent.kube.PolicyWatcher;
import io.flatnet.control.CountersFile;
import io.flatnet.control.DataplaneClient;
import io.flatnet.control.StopSignal;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.agrona.concurrent.status.CountersReader;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./flatnet agent --config node.yaml}: the agent process. It applies the config to the
 * dataplane process of the same run directory (over {@code cnc.dat}), watches the file and reloads
 * on SIGHUP, serves the CNI plugin and {@code ctl} on {@code agent.sock}, and the counters on
 * {@code /metrics}. It can be stopped and started again at any time: the dataplane keeps
 * forwarding, and the new agent diffs its desired state against what the dataplane holds, so an
 * unchanged node sees no change at all. When the dataplane restarts, the agent applies the whole
 * state again.
 *
 * <p>It does not run FRR: with a {@code bgp:} section, {@code flatnet run} runs zebra and bgpd
 * beside it ({@link NodeFrr}); an agent run alone needs the operator to run FRR, with zebra's
 * {@code dplane_fpm_nl} pointed at {@code bgp.fpm} (docs/routing.md).
 */
@Command(
    name = "flatnet agent",
    mixinStandardHelpOptions = true,
    description =
        "Runs the agent on a node config: it drives the dataplane process of --dir and serves the"
            + " CNI plugin and ctl. It does not run FRR (flatnet run does; alone, run FRR"
            + " yourself).")
public final class AgentProcess implements Callable<Integer> {
  @Option(names = "--config", required = true, description = "The node config YAML.")
  Path config;

  @Option(
      names = "--dir",
      description =
          "Run directory: the dataplane's cnc.dat and counters.dat, agent.sock (default /run/flatnet).")
  Path dir = Path.of("/run/flatnet");

  @Option(names = "--state-dir", description = "Agent state (default /var/lib/flatnet/agent).")
  Path stateDir = Agent.Options.DEFAULT_STATE_DIR;

  @Option(
      names = "--ipam-dir",
      description =
          "The CNI plugin's IPAM stores, collected against the CNI pods (default"
              + " /var/lib/flatnet/ipam, the plugin's default ipamDir).")
  Path ipamDir = Path.of("/var/lib/flatnet/ipam");

  @Option(
      names = "--dataplane-wait",
      description = "Seconds to wait for the dataplane process at start (default 60).")
  int dataplaneWait = 60;

  @Option(names = "--seconds", description = "Stop after this long; 0 runs until signalled.")
  int seconds;

  @Option(
      names = "--metrics",
      paramLabel = "HOST:PORT",
      description = "Serve the counters for Prometheus on http://HOST:PORT/metrics (default off).")
  String metrics;

  /** How long one command may take, and how long a call waits for a restarting dataplane. */
  static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);

  static final Duration RECONNECT_TIMEOUT = Duration.ofSeconds(10);

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
          "flatnet agent: watching Kubernetes nodes: " + nodes.peers().size() + " peers");
    } catch (TimeoutException | ExecutionException e) {
      System.err.println(
          "flatnet agent: Kubernetes nodes not listed yet ("
              + e
              + "); still trying in the background");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return nodes;
  }

  /**
   * With {@code kubernetes.watchPolicies}: a started policy watcher (its first lists awaited at
   * most 10 s, as the Node watcher's), else null.
   */
  static PolicyWatcher startPolicyWatcher(KubernetesConfig k) {
    if (!k.watchPolicies()) {
      return null;
    }
    PolicyWatcher policies = PolicyWatcher.connect(k.kubeconfig());
    try {
      policies.start().toCompletableFuture().get(10, TimeUnit.SECONDS);
      System.out.println("flatnet agent: watching Kubernetes NetworkPolicies, Pods and Namespaces");
    } catch (TimeoutException | ExecutionException e) {
      System.err.println(
          "flatnet agent: Kubernetes policy inputs not listed yet ("
              + e
              + "); still trying in the background");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return policies;
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new AgentProcess()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    AgentLogFormat.install();
    NodeConfig node;
    try {
      node = ConfigLoader.load(config);
    } catch (ConfigException e) {
      System.err.println("flatnet agent: " + e.getMessage());
      return 2;
    }
    Files.createDirectories(dir);
    // Before anything in the run directory is touched (counters.dat, agent.sock): one router each.
    RunDirectoryLock lock;
    try {
      lock = RunDirectoryLock.acquire(dir);
    } catch (IOException e) {
      System.err.println("flatnet agent: " + e.getMessage());
      return 3;
    }
    try (lock) {
      return run(node);
    }
  }

  private int run(NodeConfig node) throws Exception {
    DataplaneClient dataplane = connect();
    if (dataplane == null) {
      return 4;
    }
    StopSignal stop = StopSignal.install();
    try (dataplane) {
      NodeWatcher nodes = startNodeWatcher(node.kubernetes());
      Agent.Options options =
          Agent.Options.defaults(config)
              .withStateDir(stateDir)
              .withIpamDir(ipamDir)
              .withPeerSource(nodes == null ? PeerSource.NONE : nodes);
      createSocketDirectory(options.vhostSocketDir());
      AtomicReference<Agent> running = new AtomicReference<>();
      KernelSide kernel =
          new KernelSide(
              CommandRunner.system(20),
              () -> running.get() == null ? node : running.get().lastGoodConfig().orElse(node));
      Agent agent =
          new Agent(
              options,
              new AgentDataplane(dataplane, new PodSegment(CommandRunner.system(20)), kernel));
      running.set(agent);
      PolicyWatcher policies = startPolicyWatcher(node.kubernetes());
      PolicyFeed policyFeed =
          policies == null
              ? null
              : PolicyFeed.follow(policies, Duration.ofMillis(200), agent::usePolicySource);
      ApplyResult first = agent.start();
      System.out.println("flatnet agent: " + node.node().name() + ": " + first);
      if (node.bgpEnabled()) {
        System.out.println(
            "flatnet agent: bgp: FRR is not run by the agent: `flatnet run` runs it"
                + " (bgp.frr.manage); with the agent alone, run zebra with dplane_fpm_nl pointed at "
                + node.bgp().fpm().address()
                + " port "
                + node.bgp().fpm().port()
                + " yourself (docs/routing.md)");
      }
      // Host ports the dataplane kept (a restarted agent) get their kernel end checked too.
      kernel.applyAll();
      agent.watch();
      if (!HangUpSignal.onHangUp(
          () -> {
            try {
              System.out.println("flatnet agent: SIGHUP: " + agent.reload());
              kernel.applyAll();
            } catch (RuntimeException e) {
              System.err.println("flatnet agent: SIGHUP: reload failed: " + e);
            }
          })) {
        System.err.println(
            "flatnet agent: cannot catch SIGHUP here; the config file is still watched");
      }
      Path socket = dir.resolve("agent.sock");
      AgentSocketServer.Settings socketSettings =
          AgentSocketServer.Settings.defaults()
              .withSocketGroup(node.agent().socketGroup())
              .withWriters(
                  ControlAccess.writers(
                      () -> agent.lastGoodConfig().orElse(node).agent().writers()));
      // A stale agent.sock is replaced; one a live process answers on is not (start fails).
      AgentSocketServer socketServer;
      try {
        socketServer =
            AgentSocketServer.start(socket, new CtlQueries(dataplane, agent), socketSettings);
      } catch (IOException e) {
        System.err.println("flatnet agent: " + e.getMessage());
        if (nodes != null) {
          nodes.close();
        }
        if (policies != null) {
          policyFeed.close();
          policies.close();
        }
        agent.close();
        return 3;
      }
      DataplaneCounters counters = new DataplaneCounters(dir, dataplane);
      try (AgentSocketServer server = socketServer;
          MetricsServer metricsServer =
              metrics == null ? null : MetricsServer.start(metrics, counters::reader)) {
        if (metricsServer != null) {
          System.out.println(
              "flatnet agent: metrics on http://"
                  + metrics
                  + "/metrics ("
                  + metricsServer.address()
                  + ")");
        }
        System.out.printf(
            "flatnet agent: ready: dataplane pid %d, CNI socket %s%n",
            dataplane.dataplanePid(), server.socket());
        long incarnation = dataplane.incarnation();
        long deadline =
            seconds == 0 ? Long.MAX_VALUE : System.nanoTime() + seconds * 1_000_000_000L;
        while (!stop.await(100, TimeUnit.MILLISECONDS) && System.nanoTime() < deadline) {
          incarnation = followRestarts(dataplane, agent, incarnation);
        }
      } finally {
        if (nodes != null) {
          nodes.close();
        }
        if (policies != null) {
          policyFeed.close();
          policies.close();
        }
        agent.close();
      }
    } finally {
      stop.done();
    }
    return 0;
  }

  /** Waits for the dataplane at start; null (after saying why) if none came. */
  private DataplaneClient connect() {
    long deadline = System.nanoTime() + dataplaneWait * 1_000_000_000L;
    while (true) {
      try {
        return DataplaneClient.connect(dir, RECONNECT_TIMEOUT, CALL_TIMEOUT);
      } catch (DataplaneClient.DataplaneGone e) {
        if (System.nanoTime() > deadline) {
          System.err.println(
              "flatnet agent: no dataplane after "
                  + dataplaneWait
                  + " s: "
                  + e.getMessage()
                  + " (start it with ./flatnet dataplane --dir "
                  + dir
                  + ", or run both with ./flatnet run --config)");
          return null;
        }
      }
    }
  }

  /**
   * A restarted dataplane holds nothing: once a new one answers, the agent applies its whole state
   * to it. Returns the incarnation now served.
   */
  static long followRestarts(DataplaneClient dataplane, Agent agent, long incarnation) {
    if (dataplane.alive() && dataplane.incarnation() == incarnation) {
      return incarnation;
    }
    try {
      long[] hello = dataplane.hello(); // reconnects to a new dataplane, if one is there
      if (hello[1] != incarnation) {
        System.out.println(
            "flatnet agent: the dataplane restarted (pid "
                + hello[0]
                + "): applying the whole state: "
                + agent.reload());
      }
      return hello[1];
    } catch (IllegalStateException e) {
      System.err.println("flatnet agent: waiting for the dataplane: " + e.getMessage());
      return incarnation;
    }
  }

  /** The dataplane's counters file, mapped again when a restarted dataplane makes a new one. */
  static final class DataplaneCounters {
    private final Path file;
    private final DataplaneClient dataplane;
    private CountersReader reader;
    private long incarnation;

    DataplaneCounters(Path dir, DataplaneClient dataplane) {
      this.file = dir.resolve(CountersFile.FILE);
      this.dataplane = dataplane;
    }

    synchronized CountersReader reader() {
      long now = dataplane.incarnation();
      if (reader == null || now != incarnation) {
        reader = CountersFile.openReader(file.toFile());
        incarnation = now;
      }
      return reader;
    }
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
