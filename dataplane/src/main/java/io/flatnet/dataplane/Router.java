package io.flatnet.dataplane;

import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.Devices;
import io.flatnet.dpdk.EthDev;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.Ipv4Fib;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.QsbrDomain;
import java.io.File;
import java.util.ArrayList;
import java.util.List;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.IdleStrategy;

/**
 * The control path's handle on one running router: its mbuf pool, ports, route tables, counters and
 * forwarding worker. EAL must be initialised first. Routes change through {@link #fib()} and {@link
 * #nextHops()} while the worker runs; the worker never waits for them.
 */
public final class Router implements AutoCloseable {
  /** Sizes of what {@link #open} creates. */
  public record Sizes(int mbufs, int mbufCache, int nextHops, int tbl8Groups) {
    public static Sizes defaults() {
      return new Sizes(16383, 256, 4096, 4096);
    }
  }

  private final PktMbufPool pool;
  private final List<Integer> ports = new ArrayList<>();
  private final QsbrDomain routeReaders = new QsbrDomain();
  private final NextHopTable nextHops;
  private final Ipv4Fib fib;
  private final DataplaneCounters counters;
  private ForwardingWorker worker;
  private AgentRunner runner;

  private Router(Sizes sizes, File runDir) {
    this.pool =
        PktMbufPool.create(
            "flatnet-mbufs", sizes.mbufs(), sizes.mbufCache(), PktMbufPool.DEFAULT_DATA_ROOM, -1);
    this.nextHops = new NextHopTable(sizes.nextHops(), routeReaders);
    this.fib = new Ipv4Fib(routeReaders, nextHops, sizes.tbl8Groups());
    this.counters = DataplaneCounters.create(new File(runDir, "counters.dat"));
  }

  /** Creates the pool, tables and counters file (under {@code runDir}). */
  public static Router open(Sizes sizes, File runDir) {
    return new Router(sizes, runDir);
  }

  /**
   * Probes a device (for example {@code net_vhost0,iface=/run/flatnet/pod0.sock}) and starts it
   * with one queue each way.
   *
   * @return the DPDK port id
   */
  public int addPort(String devargs) {
    int port = Devices.probe(devargs);
    try {
      PortSetup.start(port, PortSetup.Options.singleQueue(), pool);
    } catch (RuntimeException e) {
      Devices.remove(port);
      throw e;
    }
    ports.add(port);
    return port;
  }

  public List<Integer> ports() {
    return List.copyOf(ports);
  }

  public Ipv4Fib fib() {
    return fib;
  }

  public NextHopTable nextHops() {
    return nextHops;
  }

  public DataplaneCounters counters() {
    return counters;
  }

  /** Starts one worker polling every port, pinned to {@code cpu}. */
  public ForwardingWorker startWorker(int cpu, IdleStrategy idle) {
    if (worker != null) {
      throw new IllegalStateException("worker already started");
    }
    List<BurstQueue> rx = new ArrayList<>();
    List<BurstQueue> tx = new ArrayList<>();
    for (int port : ports) {
      rx.add(BurstQueue.rx(port, 0));
      tx.add(BurstQueue.tx(port, 0));
    }
    worker =
        new ForwardingWorker(
            0,
            cpu,
            rx,
            tx,
            new Routes(fib, nextHops),
            routeReaders.register(),
            new WorkerCounters(counters, 0));
    runner = new AgentRunner(idle, Throwable::printStackTrace, null, worker);
    AgentRunner.startOnThread(runner);
    return worker;
  }

  /** True when every port reports link up (a vhost-user port: its peer connected). */
  public boolean allLinksUp() {
    for (int port : ports) {
      if (!EthDev.link(port).up()) {
        return false;
      }
    }
    return true;
  }

  /** Stops the worker, then the ports, then releases the tables and counters. */
  @Override
  public void close() {
    if (runner != null) {
      runner.close();
    }
    for (int port : ports) {
      try {
        EthDev.stop(port);
        Devices.remove(port);
      } catch (RuntimeException e) {
        System.err.println("flatnet: removing port " + port + ": " + e.getMessage());
      }
    }
    fib.close();
    counters.close();
  }
}
