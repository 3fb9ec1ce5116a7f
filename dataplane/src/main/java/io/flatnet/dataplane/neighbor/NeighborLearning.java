package io.flatnet.dataplane.neighbor;

import io.flatnet.dataplane.ControlChannel;
import io.flatnet.dataplane.IcmpRateLimiter;
import io.flatnet.dataplane.WorkerCounters;
import io.flatnet.dataplane.WorkerEvent;

/**
 * What a worker tells the control path about neighbours it heard, rate-limited so that a pod
 * flooding ARP or NDP cannot flood the control path: claims beyond the rate are still answered,
 * only not learned from, and counted as {@code neighbor-learn-limited}.
 */
public final class NeighborLearning {
  /** Learned claims a second per worker, and the burst allowed above it. */
  static final int CLAIMS_PER_SECOND = 2000;

  static final int BURST = 200;

  private final ControlChannel.Writer control;
  private final WorkerCounters counters;
  private final IcmpRateLimiter limit = new IcmpRateLimiter(CLAIMS_PER_SECOND, BURST);

  public NeighborLearning(ControlChannel.Writer control, WorkerCounters counters) {
    this.control = control;
    this.counters = counters;
  }

  public void ipv4(int port, int address, long mac, boolean confirmed) {
    if (admit()) {
      control.neighborV4(port, address, mac, confirmed);
    }
  }

  public void ipv6(int port, long hi, long lo, long mac, boolean confirmed) {
    if (admit()) {
      control.neighborV6(port, hi, lo, mac, confirmed);
    }
  }

  private boolean admit() {
    if (limit.tryAcquire()) {
      counters.event(WorkerEvent.NEIGHBOR_LEARNED);
      return true;
    }
    counters.event(WorkerEvent.NEIGHBOR_LEARN_LIMITED);
    return false;
  }
}
