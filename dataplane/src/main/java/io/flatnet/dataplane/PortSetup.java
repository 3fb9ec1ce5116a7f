package io.flatnet.dataplane;

import io.flatnet.dpdk.EthDev;
import io.flatnet.dpdk.PktMbufPool;

/** Control path: configures and starts a port, like DPDK's {@code port_init} in basicfwd.c. */
public final class PortSetup {
  private PortSetup() {}

  /** How to set up a port. */
  public record Options(
      int rxQueues, int txQueues, int rxDescriptors, int txDescriptors, boolean promiscuous) {
    public static Options singleQueue() {
      return new Options(1, 1, 1024, 1024, true);
    }

    public static Options queues(int rxQueues, int txQueues) {
      return new Options(rxQueues, txQueues, 1024, 1024, true);
    }

    /** The same queues; promiscuous or not (then receiving all multicast, for NDP). */
    public Options withPromiscuous(boolean on) {
      return new Options(rxQueues, txQueues, rxDescriptors, txDescriptors, on);
    }
  }

  /** Configures the port's queues, starts it and, if asked, makes it promiscuous. */
  public static void start(int port, Options options, PktMbufPool pool) {
    EthDev.DeviceInfo info = EthDev.info(port);
    if (options.rxQueues() > info.maxRxQueues() || options.txQueues() > info.maxTxQueues()) {
      throw new IllegalArgumentException(
          "port "
              + port
              + " ("
              + info.driverName()
              + ") supports "
              + info.maxRxQueues()
              + " rx / "
              + info.maxTxQueues()
              + " tx queues, asked for "
              + options.rxQueues()
              + " / "
              + options.txQueues());
    }
    boolean rss = options.rxQueues() > 1 && info.rssHashFunctions() != 0;
    EthDev.configure(
        port, new EthDev.PortConfig(options.rxQueues(), options.txQueues(), 0, rss, 0));
    int socket = EthDev.socketId(port);
    for (int q = 0; q < options.rxQueues(); q++) {
      EthDev.rxQueueSetup(port, q, options.rxDescriptors(), socket, pool);
    }
    for (int q = 0; q < options.txQueues(); q++) {
      EthDev.txQueueSetup(port, q, options.txDescriptors(), socket);
    }
    EthDev.start(port);
    try {
      if (options.promiscuous()) {
        EthDev.promiscuous(port, true);
      } else {
        EthDev.allMulticast(port); // not promiscuous, but NDP's multicast groups still arrive
      }
    } catch (RuntimeException e) {
      // Virtual devices such as net_vhost have no MAC filter to open; that is fine.
    }
  }
}
