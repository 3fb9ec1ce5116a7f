package io.flatnet.dataplane.demo;

import io.flatnet.dataplane.DataplaneCounters;
import io.flatnet.dataplane.DropReason;
import io.flatnet.dataplane.ForwardingWorker;
import io.flatnet.dataplane.PortSetup;
import io.flatnet.dataplane.WorkerCounters;
import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.Devices;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import io.flatnet.dpdk.EthDev;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.QsbrDomain;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
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
    IdleStrategy idleStrategy =
        switch (idle) {
          case "busy-spin" -> new BusySpinIdleStrategy();
          case "backoff" -> new BackoffIdleStrategy();
          default -> {
            System.err.println("flatnet demo: --idle must be busy-spin or backoff, not " + idle);
            yield null;
          }
        };
    if (idleStrategy == null) {
      return 2;
    }
    if (dir == null) {
      dir = new File("/tmp/flatnet-demo-" + ProcessHandle.current().pid());
    }
    Files.createDirectories(dir.toPath());

    Eal.init(EalArguments.forProgram("flatnet-demo").logLevel("warning").build());
    PktMbufPool pool =
        PktMbufPool.create("demo-pool", 16383, 256, PktMbufPool.DEFAULT_DATA_ROOM, -1);
    List<String> sockets = List.of(socket("pod0"), socket("pod1"));
    int[] ports = new int[sockets.size()];
    for (int i = 0; i < ports.length; i++) {
      new File(sockets.get(i)).delete();
      ports[i] = Devices.probe("net_vhost" + i + ",iface=" + sockets.get(i) + ",queues=1");
      PortSetup.start(ports[i], PortSetup.Options.singleQueue(), pool);
    }
    QsbrDomain routeReaders = new QsbrDomain();
    DemoRoutes routes = DemoRoutes.install(ports, routeReaders);
    DataplaneCounters counters = DataplaneCounters.create(new File(dir, "counters.dat"));
    List<BurstQueue> rx = new ArrayList<>();
    List<BurstQueue> tx = new ArrayList<>();
    for (int port : ports) {
      rx.add(BurstQueue.rx(port, 0));
      tx.add(BurstQueue.tx(port, 0));
    }
    ForwardingWorker worker =
        new ForwardingWorker(
            0,
            workerCpu,
            rx,
            tx,
            routes.routes(),
            routeReaders.register(),
            new WorkerCounters(counters, 0));
    AgentRunner runner = new AgentRunner(idleStrategy, Throwable::printStackTrace, null, worker);

    System.out.printf(
        "flatnet demo: worker on CPU %d, testpmd flowgen on CPU %d, %d-byte frames, %d s%n",
        workerCpu, generatorCpu, frameSize, seconds);
    System.out.println("  routes: " + routes.describe());
    AgentRunner.startOnThread(runner);
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
      runner.close();
      return 3;
    }
    Thread cleanup = new Thread(generator::close, "flatnet-demo-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    int exit = 0;
    try {
      if (!waitForLinks(ports, generator)) {
        System.err.println(
            "flatnet demo: testpmd did not connect to the vhost-user sockets within 15 s."
                + " Its log ("
                + generator.log()
                + ") ends:\n"
                + generator.logTail(15));
        exit = 4;
      } else {
        exit = report(worker, counters, ports, routes, generator);
      }
    } finally {
      generator.close();
      runner.close();
      Runtime.getRuntime().removeShutdownHook(cleanup);
      for (int port : ports) {
        EthDev.stop(port);
        Devices.remove(port);
      }
      counters.close();
      for (String socket : sockets) {
        new File(socket).delete();
      }
    }
    return exit;
  }

  private String socket(String name) {
    return new File(dir, name + ".sock").getAbsolutePath();
  }

  private static boolean waitForLinks(int[] ports, TestpmdGenerator generator)
      throws InterruptedException {
    long deadline = System.nanoTime() + 15_000_000_000L;
    while (System.nanoTime() < deadline && generator.isAlive()) {
      boolean allUp = true;
      for (int port : ports) {
        allUp &= EthDev.link(port).up();
      }
      if (allUp) {
        return true;
      }
      Thread.sleep(50);
    }
    return false;
  }

  private int report(
      ForwardingWorker worker,
      DataplaneCounters counters,
      int[] ports,
      DemoRoutes routes,
      TestpmdGenerator generator)
      throws InterruptedException {
    WorkerCounters stats = worker.counters();
    long[] baseTx = new long[ports.length];
    for (int i = 0; i < ports.length; i++) {
      baseTx[i] = EthDev.stats(ports[i]).txPackets();
    }
    long startRx = stats.rxPackets();
    long startTx = stats.txPackets();
    long startDrops = stats.totalDrops();
    long[] startByReason = dropsByReason(stats);
    long lastRx = startRx;
    long lastTx = startTx;
    long lastDrops = startDrops;
    long started = System.nanoTime();
    long last = started;
    for (int second = 1; second <= seconds; second++) {
      Thread.sleep(
          Math.max(0, (started + second * 1_000_000_000L - System.nanoTime()) / 1_000_000));
      if (!generator.isAlive()) {
        System.err.println("flatnet demo: testpmd exited early:\n" + generator.logTail(15));
        return 5;
      }
      long now = System.nanoTime();
      long rx = stats.rxPackets();
      long tx = stats.txPackets();
      long drops = stats.totalDrops();
      double interval = (now - last) / 1e9;
      System.out.printf(
          Locale.ROOT,
          "  %3ds  rx %6.2f Mpps  tx %6.2f Mpps  forwarded %6.2f Mpps  drops %6.3f Mpps%n",
          second,
          (rx - lastRx) / interval / 1e6,
          (tx - lastTx) / interval / 1e6,
          (tx - lastTx) / interval / 1e6,
          (drops - lastDrops) / interval / 1e6);
      lastRx = rx;
      lastTx = tx;
      lastDrops = drops;
      last = now;
    }
    double elapsed = (last - started) / 1e9;
    long rx = lastRx - startRx;
    long forwarded = lastTx - startTx;
    long[] byPort = new long[ports.length];
    for (int i = 0; i < ports.length; i++) {
      byPort[i] = EthDev.stats(ports[i]).txPackets() - baseTx[i];
    }
    Map<String, Long> drops = new LinkedHashMap<>();
    long[] endByReason = dropsByReason(stats);
    for (DropReason reason : DropReason.values()) {
      long count = endByReason[reason.ordinal()] - startByReason[reason.ordinal()];
      if (count != 0) {
        drops.put(reason.label(), count);
      }
    }
    String routeCheck = routes.checkShares(byPort);
    System.out.println("  " + routeCheck);
    StringBuilder json = new StringBuilder();
    json.append(
        String.format(
            Locale.ROOT,
            "{\"forwarded\":%d,\"forwarded_mpps\":%.3f,\"rx\":%d,\"tx\":%d,\"seconds\":%.2f,"
                + "\"frame_size\":%d,\"tx_by_port\":{",
            forwarded,
            forwarded / elapsed / 1e6,
            rx,
            forwarded,
            elapsed,
            frameSize));
    for (int i = 0; i < ports.length; i++) {
      json.append(i == 0 ? "" : ",").append("\"pod").append(i).append("\":").append(byPort[i]);
    }
    json.append("},\"drops\":{");
    int n = 0;
    for (Map.Entry<String, Long> drop : drops.entrySet()) {
      json.append(n++ == 0 ? "" : ",")
          .append('"')
          .append(drop.getKey())
          .append("\":")
          .append(drop.getValue());
    }
    json.append("},\"routes_ok\":").append(routes.sharesMatch(byPort)).append('}');
    System.out.println(json);
    return routes.sharesMatch(byPort) && forwarded > 0 ? 0 : 6;
  }

  private static long[] dropsByReason(WorkerCounters stats) {
    long[] counts = new long[DropReason.values().length];
    for (DropReason reason : DropReason.values()) {
      counts[reason.ordinal()] = stats.drops(reason);
    }
    return counts;
  }
}
