package io.flatnet.dataplane;

import io.flatnet.dpdk.Devices;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import io.flatnet.dpdk.EthDev;
import io.flatnet.dpdk.PktMbufPool;
import java.util.concurrent.atomic.AtomicInteger;

/** One EAL per test JVM, and ports made from vdevs. */
final class DataplaneTestSupport {
  private DataplaneTestSupport() {}

  private static final AtomicInteger NAMES = new AtomicInteger();

  /**
   * Memory is reserved up front (-m): the virtio_user "pods" here live in the router's own process,
   * and a hugepage allocation while they run (a port added live) would make virtio_user re-send its
   * memory table to the in-process vhost backend from inside EAL's memory lock, a deadlock that
   * separate pod processes never meet.
   */
  static void eal() {
    Eal.initOnce(
        EalArguments.forProgram("flatnet-dataplane-test")
            .logLevel("warning")
            .extra("-m", "1024")
            .build());
  }

  static String unique(String prefix) {
    return prefix + NAMES.incrementAndGet();
  }

  /** Probes a vdev and starts it with one RX and one TX queue. */
  static int startPort(String devargs, PktMbufPool pool) {
    int port = Devices.probe(devargs);
    PortSetup.start(port, PortSetup.Options.singleQueue(), pool);
    return port;
  }

  static void removePort(int port) {
    EthDev.stop(port);
    Devices.remove(port);
  }
}
