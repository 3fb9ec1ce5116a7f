package io.flatnet.process;

import io.flatnet.control.CommandChannel;
import io.flatnet.control.CommandServer;
import io.flatnet.control.Doorbell;
import io.flatnet.control.Heartbeat;
import io.flatnet.control.StopSignal;
import io.flatnet.dataplane.ForwardingWorker;
import io.flatnet.dataplane.Router;
import io.flatnet.dataplane.app.IdleStrategies;
import io.flatnet.dataplane.app.ThroughputReport;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import io.flatnet.vhost.VhostPortChecks;
import io.flatnet.vhost.VhostPortStatus;
import io.flatnet.vhost.VhostPorts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./flatnet dataplane}: the dataplane process. It holds EAL, the ports, the FIBs, the
 * workers and the vhost-user ports, and takes every change from the agent through the command
 * channel ({@code cnc.dat}); it reads no config file. It starts empty: the agent (a new one after a
 * restart) reads what it holds and adds what is missing. The agent can come and go while it
 * forwards.
 */
@Command(
    name = "flatnet dataplane",
    mixinStandardHelpOptions = true,
    description =
        "The dataplane process: workers, ports and routes, driven by the agent over"
            + " DIR/cnc.dat. `flatnet run --config` starts it with the agent.")
public final class DataplaneMain implements Callable<Integer> {
  @Option(
      names = "--dir",
      description =
          "Run directory: cnc.dat, counters.dat, vhost-ports.json (default /run/flatnet).")
  Path dir = Path.of("/run/flatnet");

  @Option(
      names = "--cpus",
      split = ",",
      description = "Worker CPUs, one worker each (default: the last CPU).")
  List<Integer> cpus = new ArrayList<>();

  @Option(names = "--idle", description = "Worker idle strategy: busy-spin or backoff.")
  String idle = "busy-spin";

  @Option(
      names = "--pci",
      split = ",",
      description = "PCI devices EAL may probe (the node config's PCI ports); none by default.")
  List<String> pci = new ArrayList<>();

  @Option(
      names = "--share-cpus",
      description =
          "Let the process's other threads (GC, JIT, EAL, control) run on the worker CPUs too. By"
              + " default they are kept off them when a CPU is left over.")
  boolean shareCpus;

  @Option(names = "--seconds", description = "Stop after this long; 0 runs until signalled.")
  int seconds;

  @Option(names = "--stats", description = "Print a line of rates every second.")
  boolean stats;

  public static void main(String[] args) {
    System.exit(new CommandLine(new DataplaneMain()).execute(args));
  }

  @Override
  @SuppressWarnings("try") // the heartbeat is a resource only to be closed in order
  public Integer call() throws Exception {
    StartTimes times = new StartTimes();
    if (cpus.isEmpty()) {
      cpus.add(Runtime.getRuntime().availableProcessors() - 1);
    }
    Files.createDirectories(dir);
    EalArguments eal = EalArguments.forProgram("flatnet").logLevel("warning");
    if (!pci.isEmpty()) {
      eal.pci(pci);
    }
    times.mark("jvm+main");
    Eal.init(eal.build());
    times.mark("eal");
    Router router;
    try {
      // Takes the counters lock: one dataplane per run directory, before cnc.dat is touched.
      router = Router.open(Router.Sizes.defaults().withWorkers(cpus.size()), dir.toFile());
    } catch (IllegalStateException e) {
      System.err.println("flatnet dataplane: " + e.getMessage());
      return 3;
    }
    times.mark("router");
    StopSignal stop = StopSignal.install();
    try (router) {
      List<ForwardingWorker> workers =
          router.startWorkers(
              cpus.stream().mapToInt(Integer::intValue).toArray(), IdleStrategies.parse(idle));
      times.mark("workers");
      if (!shareCpus && cpus.size() < Runtime.getRuntime().availableProcessors()) {
        System.out.println("flatnet dataplane: " + router.isolateWorkers());
      }
      VhostPorts vhostPorts =
          new VhostPorts(router, dir, VhostPortChecks.Policy.defaults(), VhostPorts.standardLog());
      // The monitor's intent (100 ms): a pod's port shows `running` within a tenth of a second of
      // its negotiation, not half a second, which a pod's restart would otherwise wait on.
      vhostPorts.startMonitor(Duration.ofMillis(100));
      RouterDataplane dataplane = new RouterDataplane(router, cpus.size(), vhostPorts);
      RouterQueries queries = new RouterQueries(router, dataplane, () -> vhostStates(vhostPorts));
      try (CommandChannel channel = CommandChannel.create(dir);
          AgentRunner commands =
              new AgentRunner(
                  new BackoffIdleStrategy(100, 10, 1_000, Router.CONTROL_MAX_PARK_NANOS),
                  e -> System.err.println("flatnet dataplane: command thread: " + e),
                  null,
                  new CommandServer(channel, dataplane, queries));
          // Stops before the channel is unmapped; a dataplane that stops beating is gone.
          Heartbeat heartbeat = Heartbeat.start(channel)) {
        Thread commandThread = AgentRunner.startOnThread(commands);
        try (Doorbell bell = doorbell(commandThread)) {
          times.mark("commands");
          // One write, so a line never interleaves with the agent's in a shared log.
          System.out.println(
              String.format(
                  "flatnet dataplane: ready: pid %d, workers on CPUs %s, commands %s, counters %s,"
                      + " started in %s",
                  ProcessHandle.current().pid(),
                  cpus,
                  channel.file(),
                  router.counters().file(),
                  times));
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
        }
      } finally {
        vhostPorts.close();
      }
    } finally {
      stop.done();
    }
    return 0;
  }

  /** The agent's doorbell, or none (a warning) if it cannot be served: it is only a hint. */
  private Doorbell doorbell(Thread commandThread) {
    try {
      return Doorbell.serve(dir, commandThread);
    } catch (IOException | RuntimeException e) {
      System.err.println(
          "flatnet dataplane: no doorbell ("
              + e
              + "): commands wait for the command thread's idle park instead");
      return null;
    }
  }

  private static Map<String, String> vhostStates(VhostPorts ports) {
    Map<String, String> states = new HashMap<>();
    for (VhostPortStatus s : ports.status()) {
      states.put(s.name(), s.state());
    }
    return states;
  }

  /**
   * Where the start-up time goes, from the JVM's start (the JVM's own clock: the process start time
   * in /proc is only as exact as the boot time's second): each phase's milliseconds.
   */
  static final class StartTimes {
    private final long startMillis =
        java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime();
    private final StringBuilder phases = new StringBuilder();
    private long last = startMillis;

    void mark(String phase) {
      long now = System.currentTimeMillis();
      phases.append(phases.isEmpty() ? "" : ", ").append(phase).append(' ').append(now - last);
      last = now;
    }

    @Override
    public String toString() {
      return (last - startMillis) + " ms (" + phases + ")";
    }
  }
}
