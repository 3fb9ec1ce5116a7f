package io.flatnet.dataplane.app;

import io.flatnet.control.PolicySpec;
import io.flatnet.control.StopSignal;
import io.flatnet.dataplane.CpuIsolation;
import io.flatnet.dataplane.ForwardingWorker;
import io.flatnet.dataplane.Router;
import io.flatnet.dataplane.WorkerCounters;
import io.flatnet.dataplane.WorkerEvent;
import io.flatnet.dataplane.policy.PolicyTable;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import io.flatnet.route.Ipv4Prefix;
import java.io.File;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;
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

  @Option(
      names = "--policy-pods",
      description =
          "Benchmark only: publish this many synthetic ingress-isolated pods (policies), pod i at"
              + " --policy-first + i, before traffic (see BenchPolicies). Default 0: none.")
  int policyPods;

  @Option(
      names = "--policy-rules",
      description =
          "Benchmark only: rules per synthetic policy; only the last allows the generators'"
              + " traffic (10.254.0.0/16 to UDP 1001), so first packets scan them all.")
  int policyRules = 10;

  @Option(
      names = "--policy-first",
      description = "Benchmark only: the first synthetic pod's address (default 10.253.0.0).")
  String policyFirst = "10.253.0.0";

  @Option(
      names = "--policy-churn-ms",
      description =
          "Benchmark only: publish a new generation of the synthetic policies every this many"
              + " ms while running, one pod's policy changed each time (a never-matching rule"
              + " added, then removed: the same allowed set). Default 0: never.")
  int policyChurnMillis;

  @Option(
      names = "--policy-cut-after",
      description =
          "Benchmark only: this many seconds after the links are up, publish policies that deny"
              + " the generators' traffic and time the cut (cut_* in the summary). Default 0: no.")
  int policyCutAfterSeconds;

  @Option(
      names = "--capture-filter",
      description =
          "Benchmark only: capture every port's received packets that match this filter (ctl"
              + " capture's language; 'any' for all) into capture.dat from the start, consumed"
              + " and discarded by a thread of this process (see BenchCapture).")
  String captureFilter;

  @Option(
      names = "--route-churn-per-second",
      description =
          "Benchmark only: add and delete IPv4 routes (/28s of 10.200.0.0/16, none covering the"
              + " traffic) at this many updates a second while forwarding, through the calls the"
              + " agent's route add/del end in (see BenchRoutes); route_churn in the summary."
              + " Default 0: none.")
  int routeChurnPerSecond;

  @Option(
      names = "--flow-capacity",
      description = "Flow table slots per worker (a power of two; default the router's).")
  int flowCapacity;

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
    if (routeChurnPerSecond < 0) {
      System.err.println("flatnet run: --route-churn-per-second must be >= 0");
      return 2;
    }
    if (policyPods < 0 || policyPods > 4096 || policyRules < 1 || policyChurnMillis < 0) {
      System.err.println("flatnet run: --policy-pods 0..4096, --policy-rules >= 1");
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
      List<PolicySpec> benchPolicies = List.of();
      if (policyPods > 0) {
        benchPolicies =
            BenchPolicies.build(
                BenchPolicies.parseAddress(policyFirst), policyPods, policyRules, false);
        long t0 = System.nanoTime();
        router.setPolicies(benchPolicies);
        System.out.printf(
            "flatnet run: %d policies, %d rules published in %.1f ms%n",
            policyPods, policyPods * policyRules, (System.nanoTime() - t0) / 1e6);
        // Before the workers start: a cold compiler takes 20 to 60 ms a publish, on the CPU that
        // bench e2e gives the worker too.
        t0 = System.nanoTime();
        PolicyTable.WarmUp warm = PolicyTable.warmUpUntilQuiet(PolicyTable.WARM_UP_LIMIT_NANOS);
        System.out.printf(
            "flatnet run: policy compiler warmed up in %.0f ms (%d batches, JIT %s, %d ms compiling)%n",
            (System.nanoTime() - t0) / 1e6,
            warm.batches(),
            warm.quiet() ? "quiet" : "still compiling at the limit",
            warm.compileMillis());
      }
      if (flowCapacity > 0) {
        router.flowCapacity(flowCapacity);
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
      List<WorkerCounters> workerCounters =
          workers.stream().map(ForwardingWorker::counters).toList();
      ThroughputReport report = new ThroughputReport(workerCounters, router.ports(), names);
      BenchCapture capture = null;
      if (captureFilter != null) {
        capture = new BenchCapture(router, captureFilter.equals("any") ? "" : captureFilter);
        System.out.println("flatnet run: capturing '" + captureFilter + "'");
      }
      BenchPolicies.Churn churn = null;
      if (policyPods > 0 && policyChurnMillis > 0) {
        churn = new BenchPolicies.Churn(router, benchPolicies, policyChurnMillis);
        churn.start();
      }
      BenchRoutes.Churn routeChurn = null;
      if (routeChurnPerSecond > 0) {
        routeChurn = new BenchRoutes.Churn(router, router.ports().getLast(), routeChurnPerSecond);
        routeChurn.start();
        System.out.printf(
            "flatnet run: route churn, %d updates/s on /%d routes of %s%n",
            routeChurnPerSecond, BenchRoutes.LENGTH, BenchRoutes.POOL_TEXT);
      }
      long[] routeChurnMark = routeChurn == null ? null : routeChurn.mark();
      long steadyNanos = System.nanoTime();
      long steadyFlows = BenchPolicies.flowsAllowed(router);
      long steadyEvicted = BenchPolicies.events(workerCounters, WorkerEvent.FLOW_EVICTED);
      String cutFields = "";
      for (int second = 1; seconds == 0 || second <= seconds; second++) {
        if (policyPods > 0 && second == policyCutAfterSeconds && cutFields.isEmpty()) {
          if (churn != null) {
            churn.finish();
          }
          cutFields =
              BenchPolicies.cut(
                  router,
                  BenchPolicies.build(
                      BenchPolicies.parseAddress(policyFirst), policyPods, policyRules, true),
                  workerCounters);
        }
        if (stop.await(1, TimeUnit.SECONDS)) {
          break;
        }
        if (!quiet) {
          System.out.println(report.intervalLine(second));
        }
        if (second == steadyAfterSeconds) {
          report.markSteadyState();
          if (routeChurn != null) {
            routeChurnMark = routeChurn.mark();
          }
          steadyNanos = System.nanoTime();
          steadyFlows = BenchPolicies.flowsAllowed(router);
          steadyEvicted = BenchPolicies.events(workerCounters, WorkerEvent.FLOW_EVICTED);
        }
      }
      String extra = "";
      if (capture != null) {
        extra = capture.stop();
      }
      if (routeChurn != null) {
        routeChurn.finish();
        extra += (extra.isEmpty() ? "" : ",") + routeChurn.json(routeChurnMark);
      }
      if (policyPods > 0) {
        if (churn != null) {
          churn.finish();
        }
        double elapsed = Math.max(1e-9, (System.nanoTime() - steadyNanos) / 1e9);
        long flows = BenchPolicies.flowsAllowed(router) - steadyFlows;
        long publishes = churn == null ? 0 : churn.publishes;
        extra +=
            (extra.isEmpty() ? "" : ",")
                + String.format(
                    Locale.ROOT,
                    "\"policy\":{\"pods\":%d,\"rules\":%d,\"generation\":%d,"
                        + "\"flows_allowed_total\":%d,\"flows_allowed\":%d,"
                        + "\"flows_allowed_per_s_per_worker\":%d,\"flow_evicted\":%d,"
                        + "\"flow_copied\":%d,\"churn_publishes\":%d,\"churn_publish_max_us\":%d,"
                        + "\"churn_publish_mean_us\":%d,\"churn_publish_cpu_mean_us\":%d%s}",
                    policyPods,
                    policyPods * policyRules,
                    router.policyTable().generation(),
                    BenchPolicies.flowsAllowed(router),
                    flows,
                    Math.round(flows / elapsed / workers.size()),
                    BenchPolicies.events(workerCounters, WorkerEvent.FLOW_EVICTED) - steadyEvicted,
                    BenchPolicies.events(workerCounters, WorkerEvent.FLOW_COPIED),
                    publishes,
                    churn == null ? 0 : churn.maxPublishNanos / 1000,
                    publishes == 0 ? 0 : churn.totalPublishNanos / publishes / 1000,
                    publishes == 0 ? 0 : churn.totalPublishCpuNanos / publishes / 1000,
                    cutFields.isEmpty() ? "" : "," + cutFields);
      }
      System.out.println(report.summaryJson(extra));
      System.out.flush();
      return 0;
    } finally {
      router.close();
      stop.done();
    }
  }
}
