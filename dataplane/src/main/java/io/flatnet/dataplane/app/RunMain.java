package io.flatnet.dataplane.app;

import io.flatnet.control.StopSignal;
import io.flatnet.dataplane.CpuIsolation;
import io.flatnet.dataplane.ForwardingWorker;
import io.flatnet.dataplane.Router;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import io.flatnet.route.Ipv4Prefix;
import java.io.File;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.IdleStrategy;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./flatnet run}: a router from command-line ports and static routes, until it is signalled
 * or {@code --seconds} pass. Prints a line a second (unless {@code --quiet}) and a JSON summary.
 */
@Command(
    name = "flatnet run",
    mixinStandardHelpOptions = true,
    description = "Runs the router on the given ports with static IPv4 routes.")
public final class RunMain implements Callable<Integer> {

  @Option(
      names = "--port",
      required = true,
      description =
          "A DPDK device, repeatable; ports are numbered 0, 1, ... in order. Example:"
              + " net_vhost0,iface=/run/flatnet/pod0.sock,queues=1")
  List<String> ports = new ArrayList<>();

  @Option(
      names = "--route",
      description =
          "PREFIX=PORT[@MAC], repeatable: send PREFIX out of port number PORT to next-hop MAC"
              + " (default 02:00:00:00:00:<port>). Example: 10.253.0.0/23=1")
  List<String> routes = new ArrayList<>();

  @Option(
      names = "--worker-cpu",
      split = ",",
      description =
          "CPUs of the workers, one worker each (default: the last CPU). With several workers,"
              + " vhost-user ports need queues=N.")
  List<Integer> workerCpus = new ArrayList<>();

  @Option(names = "--idle", description = "busy-spin (default) or backoff.")
  String idle = "busy-spin";

  @Option(
      names = "--isolate-workers",
      description =
          "Confine every other thread of this process (GC, JIT, EAL, control) to the CPUs no"
              + " worker owns. Needs a CPU to spare; off by default (see docs/architecture.md).")
  boolean isolateWorkers;

  @Option(
      names = "--other-threads-cpus",
      split = ",",
      description =
          "Confine every thread of this process but the workers (GC, JIT, EAL, control) to these"
              + " CPUs, e.g. the workers' own, so that they never take another program's CPU:"
              + " bench e2e runs flatnet so, as it runs l3fwd and testpmd all on the DUT's CPU.")
  List<Integer> otherThreadsCpus = new ArrayList<>();

  @Option(names = "--seconds", description = "Stop after this long; 0 runs until signalled.")
  int seconds = 0;

  @Option(
      names = "--dir",
      description = "Run directory for counters, read by ./flatnet ctl (default /run/flatnet).")
  File dir = new File("/run/flatnet");

  @Option(
      names = "--steady-after",
      description =
          "Count the workers' GCs and allocated bytes in the summary from this many seconds after"
              + " the links are up (after the warm-up); default 0, from the start.")
  private int steadyAfterSeconds;

  @Option(names = "--quiet", description = "No per-second lines; only the JSON summary.")
  boolean quiet;

  @Option(
      names = "--wait-links",
      description = "Seconds to wait for every port's link (vhost-user peer) before counting.")
  int waitLinks = 30;

  /** A parsed {@code --route}. */
  record StaticRoute(Ipv4Prefix prefix, int portIndex, long mac) {
    static StaticRoute parse(String text, int portCount) {
      int eq = text.indexOf('=');
      if (eq < 0) {
        throw new IllegalArgumentException("--route " + text + ": expected PREFIX=PORT[@MAC]");
      }
      Ipv4Prefix prefix = Ipv4Prefix.parse(text.substring(0, eq));
      String target = text.substring(eq + 1);
      int at = target.indexOf('@');
      String portText = at < 0 ? target : target.substring(0, at);
      int port;
      try {
        port = Integer.parseInt(portText);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "--route " + text + ": port '" + portText + "' is not a number");
      }
      if (port < 0 || port >= portCount) {
        throw new IllegalArgumentException(
            "--route " + text + ": port " + port + " does not exist (0.." + (portCount - 1) + ")");
      }
      long mac = at < 0 ? 0x02_00_00_00_00_00L | port : parseMac(text, target.substring(at + 1));
      return new StaticRoute(prefix, port, mac);
    }

    static long parseMac(String whole, String mac) {
      String[] parts = mac.split(":");
      if (parts.length != 6) {
        throw new IllegalArgumentException("--route " + whole + ": bad MAC '" + mac + "'");
      }
      long value = 0;
      for (String part : parts) {
        try {
          int b = Integer.parseInt(part, 16);
          if (b < 0 || b > 255 || part.length() > 2) {
            throw new NumberFormatException();
          }
          value = value << 8 | b;
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("--route " + whole + ": bad MAC '" + mac + "'");
        }
      }
      return value;
    }
  }

  /** A PCI address such as 0000:3b:00.0 (the domain is optional). */
  static boolean isPciAddress(String device) {
    return device.matches("(?i)([0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]");
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new RunMain()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    List<StaticRoute> parsed = new ArrayList<>();
    IdleStrategy idleStrategy;
    try {
      for (String route : routes) {
        parsed.add(StaticRoute.parse(route, ports.size()));
      }
      idleStrategy = IdleStrategies.parse(idle);
    } catch (IllegalArgumentException e) {
      System.err.println("flatnet run: " + e.getMessage());
      return 2;
    }
    if (workerCpus.isEmpty()) {
      workerCpus.add(Runtime.getRuntime().availableProcessors() - 1);
    }
    Files.createDirectories(dir.toPath());

    EalArguments eal = EalArguments.forProgram("flatnet").logLevel("warning");
    List<String> pciDevices =
        ports.stream().map(p -> p.split(",", 2)[0]).filter(RunMain::isPciAddress).toList();
    if (!pciDevices.isEmpty()) {
      eal.pci(pciDevices); // scan the PCI bus, but only for the NICs named here
    }
    Eal.init(eal.build());
    Router router = Router.open(Router.Sizes.defaults().withWorkers(workerCpus.size()), dir);
    StopSignal stop = StopSignal.install();
    try {
      List<String> names = new ArrayList<>();
      for (String devargs : ports) {
        router.addPort(devargs);
        names.add(devargs.split(",", 2)[0]);
      }
      for (StaticRoute route : parsed) {
        router.routeDirect(route.prefix(), router.ports().get(route.portIndex()), route.mac());
      }
      if (!otherThreadsCpus.isEmpty()) {
        BitSet others = new BitSet();
        otherThreadsCpus.forEach(others::set);
        // Before the workers and the control thread start: they inherit it (workers then pin).
        int moved = CpuIsolation.confineAllBut(Set.of(), others);
        System.out.printf("flatnet run: %d threads confined to CPUs %s%n", moved, otherThreadsCpus);
      }
      List<ForwardingWorker> workers =
          router.startWorkers(
              workerCpus.stream().mapToInt(Integer::intValue).toArray(), idleStrategy);
      System.out.printf(
          "flatnet run: %d ports, %d routes, workers on CPUs %s, counters in %s%n",
          ports.size(), parsed.size(), workerCpus, router.counters().file());
      if (isolateWorkers) {
        System.out.println("flatnet run: " + router.isolateWorkers());
      }
      long linkDeadline = System.nanoTime() + waitLinks * 1_000_000_000L;
      while (!router.allLinksUp() && System.nanoTime() < linkDeadline && !stop.requested()) {
        Thread.sleep(20);
      }
      System.out.println(
          router.allLinksUp() ? "flatnet run: all links up" : "flatnet run: some links are down");
      ThroughputReport report =
          new ThroughputReport(
              workers.stream().map(ForwardingWorker::counters).toList(), router.ports(), names);
      for (int second = 1; seconds == 0 || second <= seconds; second++) {
        if (stop.await(1, TimeUnit.SECONDS)) {
          break;
        }
        if (!quiet) {
          System.out.println(report.intervalLine(second));
        }
        if (second == steadyAfterSeconds) {
          report.markSteadyState();
        }
      }
      System.out.println(report.summaryJson(""));
      System.out.flush();
      return 0;
    } finally {
      router.close();
      stop.done();
    }
  }
}
