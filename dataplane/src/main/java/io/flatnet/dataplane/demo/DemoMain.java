package io.flatnet.dataplane.demo;

import io.flatnet.dataplane.ForwardingWorker;
import io.flatnet.dataplane.Router;
import io.flatnet.dataplane.app.IdleStrategies;
import io.flatnet.dataplane.app.ThroughputReport;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.Callable;
import org.agrona.concurrent.IdleStrategy;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./flatnet demo}: flatnet routes between two vhost-user pod ports while {@code
 * dpdk-testpmd} generates traffic into them over virtio_user, and prints what it forwarded.
 */
@Command(
    name = "flatnet demo",
    mixinStandardHelpOptions = true,
    description =
        "Routes testpmd flowgen traffic between two vhost-user pod ports for --seconds, printing"
            + " one line a second and a JSON summary at the end.")
public final class DemoMain implements Callable<Integer> {

  @Option(names = "--seconds", description = "How long to run (default ${DEFAULT-VALUE}).")
  int seconds = 10;

  @Option(names = "--worker-cpu", description = "CPU of the forwarding worker (default: last CPU).")
  int workerCpu = -1;

  @Option(names = "--generator-cpu", description = "CPU of testpmd's forwarding lcore (default 0).")
  int generatorCpu = 0;

  @Option(
      names = "--warmup",
      description = "Seconds of traffic before counting, while the JIT compiles (default 3).")
  int warmup = 3;

  @Option(names = "--frame-size", description = "Generated frame size in bytes (default 64).")
  int frameSize = 64;

  @Option(
      names = "--idle",
      description = "Worker idle strategy: busy-spin or backoff (default ${DEFAULT-VALUE}).")
  String idle = "busy-spin";

  @Option(names = "--dir", description = "Directory for sockets, counters and logs.")
  File dir;

  public static void main(String[] args) {
    System.exit(new CommandLine(new DemoMain()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    int cpus = Runtime.getRuntime().availableProcessors();
    if (workerCpu < 0) {
      workerCpu = cpus - 1;
    }
    if (cpus >= 2 && workerCpu == generatorCpu) {
      System.err.println(
          "flatnet demo: the worker and the generator would share CPU "
              + workerCpu
              + "; two busy pollers on one CPU crawl. Use --worker-cpu/--generator-cpu.");
      return 2;
    }
    if (seconds < 1) {
      System.err.println("flatnet demo: --seconds must be at least 1");
      return 2;
    }
    IdleStrategy idleStrategy;
    try {
      idleStrategy = IdleStrategies.parse(idle);
    } catch (IllegalArgumentException e) {
      System.err.println("flatnet demo: " + e.getMessage());
      return 2;
    }
    boolean ownDir = dir == null;
    if (ownDir) {
      dir = new File("/tmp/flatnet-demo-" + ProcessHandle.current().pid());
    }
    Files.createDirectories(dir.toPath());

    Eal.init(EalArguments.forProgram("flatnet-demo").logLevel("warning").build());
    List<String> sockets = List.of(socket("pod0"), socket("pod1"));
    Router router = Router.open(Router.Sizes.defaults(), dir);
    for (int i = 0; i < sockets.size(); i++) {
      new File(sockets.get(i)).delete();
      router.addPort("net_vhost" + i + ",iface=" + sockets.get(i) + ",queues=1");
    }
    DemoRoutes routes = DemoRoutes.install(router);

    System.out.printf(
        "flatnet demo: worker on CPU %d, testpmd flowgen on CPU %d, %d-byte frames, %d s%n",
        workerCpu, generatorCpu, frameSize, seconds);
    System.out.println("  routes: " + routes.describe());
    ForwardingWorker worker = router.startWorker(workerCpu, idleStrategy);
    TestpmdGenerator generator;
    try {
      generator = TestpmdGenerator.start(sockets, generatorCpu, workerCpu, frameSize, dir);
    } catch (IOException e) {
      System.err.println(
          "flatnet demo: cannot start "
              + TestpmdGenerator.BINARY
              + " ("
              + e.getMessage()
              + "); install the dpdk package");
      router.close();
      return 3;
    }
    Thread cleanup =
        new Thread(
            () -> {
              generator.close();
              removeRunFiles(sockets, ownDir);
            },
            "flatnet-demo-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    int exit = 0;
    try {
      if (!waitForLinks(router, generator)) {
        System.err.println(
            "flatnet demo: testpmd did not connect to the vhost-user sockets within 15 s."
                + " Its log ("
                + generator.log()
                + ") ends:\n"
                + generator.logTail(15));
        exit = 4;
      } else {
        exit = report(worker, router, routes, generator);
      }
    } finally {
      generator.close();
      router.close();
      Runtime.getRuntime().removeShutdownHook(cleanup);
      removeRunFiles(sockets, ownDir && exit == 0);
    }
    return exit;
  }

  /** Removes the sockets; and the whole run directory if the demo made it and all went well. */
  private void removeRunFiles(List<String> sockets, boolean wholeDirectory) {
    for (String socket : sockets) {
      new File(socket).delete();
    }
    if (wholeDirectory) {
      File[] files = dir.listFiles();
      if (files != null) {
        for (File file : files) {
          file.delete();
        }
      }
      dir.delete();
    } else {
      System.err.println("flatnet demo: logs and counters kept in " + dir);
    }
  }

  private String socket(String name) {
    return new File(dir, name + ".sock").getAbsolutePath();
  }

  private static boolean waitForLinks(Router router, TestpmdGenerator generator)
      throws InterruptedException {
    long deadline = System.nanoTime() + 15_000_000_000L;
    while (System.nanoTime() < deadline && generator.isAlive()) {
      if (router.allLinksUp()) {
        return true;
      }
      Thread.sleep(50);
    }
    return false;
  }

  private int report(
      ForwardingWorker worker, Router router, DemoRoutes routes, TestpmdGenerator generator)
      throws InterruptedException {
    if (warmup > 0) {
      System.out.printf(
          "  warming up for %d s (the JIT compiles the worker; not counted)%n", warmup);
      Thread.sleep(warmup * 1000L);
    }
    ThroughputReport report =
        new ThroughputReport(List.of(worker.counters()), router.ports(), List.of("pod0", "pod1"));
    long started = System.nanoTime();
    for (int second = 1; second <= seconds; second++) {
      Thread.sleep(
          Math.max(0, (started + second * 1_000_000_000L - System.nanoTime()) / 1_000_000));
      if (!generator.isAlive()) {
        System.err.println("flatnet demo: testpmd exited early:\n" + generator.logTail(15));
        return 5;
      }
      System.out.println(report.intervalLine(second));
    }
    Thread.sleep(50); // the worker publishes per-port counts every 16th busy loop
    long[] byPort = report.routedByPort();
    boolean routedOk = routes.sharesMatch(byPort);
    System.out.println("  " + routes.checkShares(byPort));
    System.out.println(
        report.summaryJson("\"frame_size\":" + frameSize + ",\"routes_ok\":" + routedOk));
    return routedOk && worker.counters().txPackets() > 0 ? 0 : 6;
  }
}
