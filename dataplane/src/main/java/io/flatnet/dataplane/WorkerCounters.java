package io.flatnet.dataplane;

import io.flatnet.control.CountersFile;
import io.flatnet.dpdk.DpdkLayout;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * One worker's counters: totals, per port, per drop reason and per event. The worker adds to plain
 * local fields per packet and publishes them to the shared counters file once per loop (one release
 * store each), so counting costs almost nothing and another process reads them live.
 */
public final class WorkerCounters {
  /**
   * Buckets of the loop-time histogram: under 1 µs, then [1, 2), [2, 4), ... [8192, 16384) µs, and
   * 16384 µs or more. A 1024-descriptor ring fills in 1 ms at 1 Mpps and in 10 ms at 0.1 Mpps, so
   * the buckets go on past 1 ms.
   */
  public static final int LOOP_BUCKETS = CountersFile.LOOP_BUCKETS;

  /** The first bucket of loops of 1024 µs or more. */
  public static final int FIRST_MILLISECOND_BUCKET = CountersFile.FIRST_MILLISECOND_BUCKET;

  /** Loops timed between two publications of the loop counters (about 0.1 to 10 ms of loops). */
  static final int LOOPS_PER_PUBLISH = 1024;

  private final int workerId;
  private final AtomicCounter rxPackets;
  private final AtomicCounter txPackets;
  private final AtomicCounter[] drops = new AtomicCounter[DropReason.ALL.length];
  private final AtomicCounter[] events = new AtomicCounter[WorkerEvent.ALL.length];
  private final AtomicCounter[] portRx = new AtomicCounter[DpdkLayout.MAX_ETHPORTS];
  private final AtomicCounter[] portTx = new AtomicCounter[DpdkLayout.MAX_ETHPORTS];
  private final AtomicCounter[] portTxFull = new AtomicCounter[DpdkLayout.MAX_ETHPORTS];
  private final AtomicCounter loops;
  private final AtomicCounter longestLoopNanos;
  private final AtomicCounter longestLoopAtEpochMillis;
  private final AtomicCounter[] loopsTaking = new AtomicCounter[LOOP_BUCKETS];

  private int busyLoops;
  private long lastLoopStart;
  private long longestLoop;
  private long windowLongest; // <= longestLoop, so one compare per loop still suffices
  private volatile long windowLongestPublished;
  private volatile int windowRequests;
  private int windowSeen;
  private long pendingLoops;
  final long[] pendingLoopsTaking = new long[LOOP_BUCKETS];
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
    loops = counters.newCounter(DataplaneCounters.TYPE_LOOP, prefix + CountersFile.LOOPS);
    longestLoopNanos = counters.newCounter(DataplaneCounters.TYPE_LOOP, longestLoopLabel(workerId));
    longestLoopAtEpochMillis =
        counters.newCounter(DataplaneCounters.TYPE_LOOP, prefix + CountersFile.LONGEST_LOOP_AT);
    for (int b = 0; b < LOOP_BUCKETS; b++) {
      loopsTaking[b] =
          counters.newCounter(DataplaneCounters.TYPE_LOOP, prefix + loopBucketLabel(b));
    }
    for (int i = 0; i < ports.length; i++) {
      registerPort(counters, ports[i], names[i]);
    }
  }

  /** Label of the worker's longest loop, in nanoseconds since it started. */
  public static String longestLoopLabel(int workerId) {
    return "worker " + workerId + " " + CountersFile.LONGEST_LOOP;
  }

  /** Label (without the {@code worker N} prefix) of loop-time bucket {@code b}. */
  public static String loopBucketLabel(int b) {
    return CountersFile.loopBucketLabel(b);
  }

  /** The histogram bucket of a loop of {@code nanos}: 0 below 1 µs, then one per power of two. */
  static int loopBucket(long nanos) {
    int b = 64 - Long.numberOfLeadingZeros(nanos / 1000); // 0 -> 0, 1 -> 1, 2..3 -> 2, ...
    return Math.min(b, LOOP_BUCKETS - 1);
  }

  /**
   * Times a loop: called at the start of every worker loop with {@link System#nanoTime()}, it
   * counts the time since the previous loop started, which is the loop's own work, the idle
   * strategy's wait (a park, with {@code backoff}) and any time the thread was off its CPU
   * (preempted, a page fault, a safepoint, the hypervisor taking the vCPU). That is how long the RX
   * rings went unpolled. The longest is published at once; the loop count and the histogram every
   * {@link #LOOPS_PER_PUBLISH} loops and at {@link #publishAll}, together (a reader may see them a
   * batch apart while the worker runs; once it stops, the buckets sum to {@code loops}).
   *
   * <p>Cost: one vDSO clock read (37 to 56 ns measured on kvm-clock) and a multiply-shift per loop.
   */
  void loopStarted(long now) {
    long last = lastLoopStart;
    lastLoopStart = now;
    if (last == 0) {
      return; // the first loop: nothing to time yet
    }
    long nanos = now - last;
    pendingLoopsTaking[loopBucket(nanos)]++;
    if (nanos > windowLongest) {
      windowLongest = nanos;
      windowLongestPublished = nanos;
      if (nanos > longestLoop) {
        longestLoop = nanos;
        longestLoopNanos.setRelease(nanos);
        longestLoopAtEpochMillis.setRelease(System.currentTimeMillis());
      }
    }
    if (++pendingLoops == LOOPS_PER_PUBLISH) {
      publishLoops();
    }
  }

  private void publishLoops() {
    int requests = windowRequests;
    if (requests != windowSeen) { // a reader restarted the window (every 1024 loops at most)
      windowSeen = requests;
      windowLongest = 0;
      windowLongestPublished = 0;
    }
    if (pendingLoops != 0) {
      publish(loopsTaking, pendingLoopsTaking);
      loops.getAndAddRelease(pendingLoops);
      pendingLoops = 0;
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

  public void event(WorkerEvent event) {
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
  public void publishAll() {
    busyLoops = 1;
    publish(false);
    publishLoops();
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

  /** Loops timed so far (as last published). */
  public long loops() {
    return loops.get();
  }

  /** The longest loop since the worker started, in nanoseconds (see {@link #loopStarted}). */
  public long longestLoopNanos() {
    return longestLoopNanos.get();
  }

  /**
   * Control path: restarts the window of {@link #windowLongestLoopNanos}. The worker takes the
   * request at its next publication of the loop counters, within {@value #LOOPS_PER_PUBLISH} loops.
   */
  public void restartLoopWindow() {
    windowRequests = windowRequests + 1; // one caller at a time (the run's reporting thread)
  }

  /**
   * The longest loop since the last {@link #restartLoopWindow} (or the start), in nanoseconds: what
   * {@link #longestLoopNanos} is over a window, e.g. a benchmark's measured seconds.
   */
  public long windowLongestLoopNanos() {
    return windowLongestPublished;
  }

  /** Loops whose time fell in bucket {@code b} (see {@link #loopBucketLabel}). */
  public long loopsTaking(int b) {
    return loopsTaking[b].get();
  }

  public long totalDrops() {
    long total = 0;
    for (AtomicCounter counter : drops) {
      total += counter.get();
    }
    return total;
  }
}
