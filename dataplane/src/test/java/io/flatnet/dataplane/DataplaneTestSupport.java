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

  static void eal() {
    Eal.initOnce(EalArguments.forProgram("flatnet-dataplane-test").logLevel("warning").build());
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
