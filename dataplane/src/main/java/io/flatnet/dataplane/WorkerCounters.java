package io.flatnet.dataplane;

import org.agrona.concurrent.status.AtomicCounter;

/**
 * One worker's counters. The worker adds to plain local fields per packet and publishes them to the
 * shared counters once per burst (one release store each), so counting costs almost nothing.
 */
public final class WorkerCounters {
  private final AtomicCounter rxPackets;
  private final AtomicCounter txPackets;
  private final AtomicCounter[] drops = new AtomicCounter[DropReason.ALL.length];

  long pendingRx;
  long pendingTx;
  final long[] pendingDrops = new long[DropReason.ALL.length];

  public WorkerCounters(DataplaneCounters counters, int workerId) {
    String prefix = "worker " + workerId + " ";
    rxPackets = counters.newCounter(DataplaneCounters.TYPE_WORKER, prefix + "rx-packets");
    txPackets = counters.newCounter(DataplaneCounters.TYPE_WORKER, prefix + "tx-packets");
    for (DropReason reason : DropReason.ALL) {
      drops[reason.ordinal()] =
          counters.newCounter(DataplaneCounters.TYPE_DROP, prefix + "drop " + reason.label());
    }
  }

  /** Label of the per-worker drop counter for {@code reason}, as {@link #sum} expects. */
  public static String dropLabel(int workerId, DropReason reason) {
    return "worker " + workerId + " drop " + reason.label();
  }

  void drop(DropReason reason) {
    pendingDrops[reason.ordinal()]++;
  }

  void drop(DropReason reason, int count) {
    pendingDrops[reason.ordinal()] += count;
  }

  /** Publishes what this burst counted. */
  void publish() {
    if (pendingRx != 0) {
      rxPackets.getAndAddRelease(pendingRx);
      pendingRx = 0;
    }
    if (pendingTx != 0) {
      txPackets.getAndAddRelease(pendingTx);
      pendingTx = 0;
    }
    for (int i = 0; i < pendingDrops.length; i++) {
      if (pendingDrops[i] != 0) {
        drops[i].getAndAddRelease(pendingDrops[i]);
        pendingDrops[i] = 0;
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

  public long totalDrops() {
    long total = 0;
    for (AtomicCounter counter : drops) {
      total += counter.get();
    }
    return total;
  }
}
