package io.flatnet.dataplane;

import io.flatnet.dpdk.DpdkLayout;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * One worker's counters: totals, per port, per drop reason and per event. The worker adds to plain
 * local fields per packet and publishes them to the shared counters file once per loop (one release
 * store each), so counting costs almost nothing and another process reads them live.
 */
public final class WorkerCounters {
  private final int workerId;
  private final AtomicCounter rxPackets;
  private final AtomicCounter txPackets;
  private final AtomicCounter[] drops = new AtomicCounter[DropReason.ALL.length];
  private final AtomicCounter[] events = new AtomicCounter[WorkerEvent.ALL.length];
  private final AtomicCounter[] portRx = new AtomicCounter[DpdkLayout.MAX_ETHPORTS];
  private final AtomicCounter[] portTx = new AtomicCounter[DpdkLayout.MAX_ETHPORTS];
  private final AtomicCounter[] portTxFull = new AtomicCounter[DpdkLayout.MAX_ETHPORTS];

  private int busyLoops;
  long pendingRx;
  long pendingTx;
  final long[] pendingDrops = new long[DropReason.ALL.length];
  final long[] pendingEvents = new long[WorkerEvent.ALL.length];
  final long[] pendingPortRx = new long[DpdkLayout.MAX_ETHPORTS];
  final long[] pendingPortTx = new long[DpdkLayout.MAX_ETHPORTS];
  final long[] pendingPortTxFull = new long[DpdkLayout.MAX_ETHPORTS];

  /**
   * @param ports the ports this worker receives from or sends to, with their names
   */
  public WorkerCounters(DataplaneCounters counters, int workerId, int[] ports, String[] names) {
    this.workerId = workerId;
    String prefix = "worker " + workerId + " ";
    rxPackets = counters.newCounter(DataplaneCounters.TYPE_WORKER, prefix + "rx-packets");
    txPackets = counters.newCounter(DataplaneCounters.TYPE_WORKER, prefix + "tx-packets");
    for (DropReason reason : DropReason.ALL) {
      drops[reason.ordinal()] =
          counters.newCounter(DataplaneCounters.TYPE_DROP, dropLabel(workerId, reason));
    }
    for (WorkerEvent event : WorkerEvent.ALL) {
      events[event.ordinal()] =
          counters.newCounter(DataplaneCounters.TYPE_WORKER, prefix + event.label());
    }
    for (int i = 0; i < ports.length; i++) {
      registerPort(counters, ports[i], names[i]);
    }
  }

  /**
   * Control path: counters for a port this worker will see. Written before the port is published to
   * the worker (a volatile store), so the worker sees them.
   */
  void registerPort(DataplaneCounters counters, int port, String name) {
    String label = "worker " + workerId + " port " + name + " ";
    portRx[port] = counters.newCounter(DataplaneCounters.TYPE_PORT, label + "rx-packets");
    portTx[port] = counters.newCounter(DataplaneCounters.TYPE_PORT, label + "tx-packets");
    portTxFull[port] = counters.newCounter(DataplaneCounters.TYPE_PORT, label + "tx-full");
  }

  /**
   * Control path: frees a removed port's counters, once the worker no longer uses the port (and has
   * published its counts: it does so when it switches ports). The slots are not reused before
   * {@link DataplaneCounters#FREE_TO_REUSE_TIMEOUT_MS}, so a late write lands in a dead slot.
   */
  void unregisterPort(int port) {
    if (portRx[port] != null) {
      portRx[port].close();
      portTx[port].close();
      portTxFull[port].close();
      portRx[port] = null;
      portTx[port] = null;
      portTxFull[port] = null;
    }
  }

  /** Label of the per-worker drop counter for {@code reason}. */
  public static String dropLabel(int workerId, DropReason reason) {
    return "worker " + workerId + " drop " + reason.label();
  }

  void drop(DropReason reason) {
    pendingDrops[reason.ordinal()]++;
  }

  void drop(DropReason reason, int count) {
    pendingDrops[reason.ordinal()] += count;
  }

  void event(WorkerEvent event) {
    pendingEvents[event.ordinal()]++;
  }

  /**
   * Publishes the totals every busy loop, and the per-port, per-reason and per-event counts every
   * 16th busy loop and on the first idle one (as ixy checks stats only every N iterations): a full
   * publish walks ~90 slots, too many for every burst.
   */
  void publish(boolean busy) {
    if (pendingRx != 0) {
      rxPackets.getAndAddRelease(pendingRx);
      pendingRx = 0;
    }
    if (pendingTx != 0) {
      txPackets.getAndAddRelease(pendingTx);
      pendingTx = 0;
    }
    if (busy ? (++busyLoops & 15) == 0 : busyLoops != 0) {
      busyLoops = 0;
      publish(drops, pendingDrops);
      publish(events, pendingEvents);
      publish(portRx, pendingPortRx);
      publish(portTx, pendingPortTx);
      publish(portTxFull, pendingPortTxFull);
    }
  }

  /** Publishes everything now: before the worker reports that it switched to new ports. */
  void publishAll() {
    busyLoops = 1;
    publish(false);
  }

  private static void publish(AtomicCounter[] shared, long[] pending) {
    for (int i = 0; i < pending.length; i++) {
      if (pending[i] != 0) {
        AtomicCounter counter = shared[i]; // one read: the control path may clear the slot
        if (counter != null) {
          counter.getAndAddRelease(pending[i]);
        }
        pending[i] = 0;
      }
    }
  }

  public long rxPackets() {
    return rxPackets.get();
  }

  public long txPackets() {
    return txPackets.get();
  }

  public long drops(DropReason reason) {
    return drops[reason.ordinal()].get();
  }

  public long events(WorkerEvent event) {
    return events[event.ordinal()].get();
  }

  public long portTx(int port) {
    return portTx[port] == null ? 0 : portTx[port].get();
  }

  /** Packets routed to {@code port} that its TX queue did not take (counted as tx-full drops). */
  public long portTxFull(int port) {
    return portTxFull[port] == null ? 0 : portTxFull[port].get();
  }

  public long portRx(int port) {
    return portRx[port] == null ? 0 : portRx[port].get();
  }

  public long totalDrops() {
    long total = 0;
    for (AtomicCounter counter : drops) {
      total += counter.get();
    }
    return total;
  }
}
