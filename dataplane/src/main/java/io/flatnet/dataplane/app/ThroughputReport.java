package io.flatnet.dataplane.app;

import io.flatnet.dataplane.DropReason;
import io.flatnet.dataplane.WorkerCounters;
import io.flatnet.dpdk.EthDev;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Locale;

/**
 * Rates and totals for a running router: one line per interval, and a JSON summary at the end.
 * Reads the worker's shared counters and the ports' own TX statistics; never touches the worker.
 */
public final class ThroughputReport {
  private final List<WorkerCounters> workers;
  private final List<Integer> ports;
  private final List<String> portNames;
  private final long startNanos;
  private final long startRx;
  private final long startTx;
  private long startGcs;
  private final long[] workerThreads;
  private long startWorkerAllocated;
  private final long[] startDrops = new long[DropReason.values().length];
  private final long[] startPortTx;
  private long[] startRouted;
  private long lastNanos;
  private long lastRx;
  private long lastTx;
  private long lastDrops;
  private long[] startLoopsTaking;

  public ThroughputReport(
      List<WorkerCounters> workers, List<Integer> ports, List<String> portNames) {
    this.workers = List.copyOf(workers);
    this.ports = List.copyOf(ports);
    this.portNames = List.copyOf(portNames);
    this.startPortTx = portTx();
    this.startRouted = new long[ports.size()];
    this.startRouted = routedByPort();
    for (DropReason reason : DropReason.values()) {
      startDrops[reason.ordinal()] = drops(reason);
    }
    this.startGcs = gcCount();
    this.workerThreads = workerThreadIds();
    this.startWorkerAllocated = workerAllocatedBytes();
    this.startNanos = System.nanoTime();
    this.startRx = rx();
    this.startTx = tx();
    this.lastNanos = startNanos;
    this.lastRx = startRx;
    this.lastTx = startTx;
    this.lastDrops = totalDrops();
    restartLoopWindow();
  }

  /** Loops of every worker by time bucket (as last published). */
  private long[] loopsTaking() {
    long[] b = new long[WorkerCounters.LOOP_BUCKETS];
    for (WorkerCounters w : workers) {
      for (int i = 0; i < b.length; i++) {
        b[i] += w.loopsTaking(i);
      }
    }
    return b;
  }

  private void restartLoopWindow() {
    workers.forEach(WorkerCounters::restartLoopWindow);
    startLoopsTaking = loopsTaking();
  }

  private long rx() {
    return workers.stream().mapToLong(WorkerCounters::rxPackets).sum();
  }

  private long tx() {
    return workers.stream().mapToLong(WorkerCounters::txPackets).sum();
  }

  private long drops(DropReason reason) {
    return workers.stream().mapToLong(w -> w.drops(reason)).sum();
  }

  private long totalDrops() {
    return workers.stream().mapToLong(WorkerCounters::totalDrops).sum();
  }

  /**
   * From now on the summary counts the workers' GCs and allocations: call it when the warm-up is
   * over (the JIT has compiled the loop; interpreted code may allocate what compiled code does
   * not).
   */
  public void markSteadyState() {
    startGcs = gcCount();
    startWorkerAllocated = workerAllocatedBytes();
    restartLoopWindow();
  }

  /** The running forwarding workers' threads (named by {@code ForwardingWorker#roleName}). */
  private static long[] workerThreadIds() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().startsWith("flatnet-worker-"))
        .mapToLong(Thread::threadId)
        .toArray();
  }

  /** Bytes the worker threads have allocated so far (HotSpot's per-thread TLAB accounting). */
  private long workerAllocatedBytes() {
    if (workerThreads.length == 0
        || !(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean mx)) {
      return -1;
    }
    long sum = 0;
    for (long bytes : mx.getThreadAllocatedBytes(workerThreads)) {
      sum += Math.max(0, bytes);
    }
    return sum;
  }

  /** Garbage collections in this JVM so far: the workers allocate nothing, so this stays put. */
  private static long gcCount() {
    return ManagementFactory.getGarbageCollectorMXBeans().stream()
        .mapToLong(GarbageCollectorMXBean::getCollectionCount)
        .sum();
  }

  private long[] portTx() {
    long[] tx = new long[ports.size()];
    for (int i = 0; i < tx.length; i++) {
      tx[i] = EthDev.stats(ports.get(i)).txPackets();
    }
    return tx;
  }

  /** The line for the interval since the previous call, labelled with {@code seconds}. */
  public String intervalLine(int seconds) {
    long now = System.nanoTime();
    long rx = rx();
    long tx = tx();
    long drops = totalDrops();
    double interval = Math.max(1e-9, (now - lastNanos) / 1e9);
    String line =
        String.format(
            Locale.ROOT,
            "  %3ds  rx %6.2f Mpps  tx %6.2f Mpps  forwarded %6.2f Mpps  drops %6.3f Mpps",
            seconds,
            (rx - lastRx) / interval / 1e6,
            (tx - lastTx) / interval / 1e6,
            (tx - lastTx) / interval / 1e6,
            (drops - lastDrops) / interval / 1e6);
    lastNanos = now;
    lastRx = rx;
    lastTx = tx;
    lastDrops = drops;
    return line;
  }

  /**
   * Packets the workers routed to each port since the report started, whether its TX queue took
   * them or not: what the routes decided, independent of how fast each receiver drains.
   */
  public long[] routedByPort() {
    long[] routed = new long[ports.size()];
    for (int i = 0; i < routed.length; i++) {
      int port = ports.get(i);
      for (WorkerCounters worker : workers) {
        routed[i] += worker.portTx(port) + worker.portTxFull(port);
      }
      routed[i] -= startRouted[i];
    }
    return routed;
  }

  /** Packets each port transmitted since the report started, in port order. */
  public long[] txByPort() {
    long[] now = portTx();
    for (int i = 0; i < now.length; i++) {
      now[i] -= startPortTx[i];
    }
    return now;
  }

  /**
   * {@code "worker_loops":{...}}: over the window since the steady mark (or the start), the longest
   * loop of any worker ({@code longest_ns}: the longest time its RX rings went unpolled, see
   * WorkerCounters#loopStarted; exact, the worker's own maximum since the mark, taken within 1,024
   * loops of it), the loops timed and their histogram (buckets under 1 us, [1, 2), [2, 4) ... us,
   * as published every 1,024 loops), and the longest loop since the workers started.
   */
  String workerLoopsJson() {
    long[] now = loopsTaking();
    long loops = 0;
    StringBuilder buckets = new StringBuilder();
    long over8 = 0;
    for (int i = 0; i < now.length; i++) {
      long n = now[i] - startLoopsTaking[i];
      loops += n;
      if (i >= 4) { // [8, 16) us and up
        over8 += n;
      }
      buckets.append(i == 0 ? "" : ",").append(n);
    }
    long longest =
        workers.stream().mapToLong(WorkerCounters::windowLongestLoopNanos).max().orElse(0);
    long ever = workers.stream().mapToLong(WorkerCounters::longestLoopNanos).max().orElse(0);
    return String.format(
        Locale.ROOT,
        "\"worker_loops\":{\"longest_ns\":%d,\"loops\":%d,\"loops_8us_or_more\":%d,"
            + "\"loops_taking\":[%s],\"longest_since_start_ns\":%d}",
        longest,
        loops,
        over8,
        buckets,
        ever);
  }

  /**
   * One JSON object: forwarded (packets the worker sent out of the port its route chose), the rate
   * over the whole run, rx, tx, per-port TX and every non-zero drop reason.
   */
  public String summaryJson(String extraFields) {
    double elapsed = Math.max(1e-9, (System.nanoTime() - startNanos) / 1e9);
    long forwarded = tx() - startTx;
    StringBuilder json = new StringBuilder();
    json.append(
        String.format(
            Locale.ROOT,
            "{\"forwarded\":%d,\"forwarded_mpps\":%.3f,\"rx\":%d,\"tx\":%d,\"seconds\":%.2f,"
                + "\"gc_collections\":%d,\"worker_allocated_bytes\":%d,",
            forwarded,
            forwarded / elapsed / 1e6,
            rx() - startRx,
            forwarded,
            elapsed,
            gcCount() - startGcs,
            startWorkerAllocated < 0 ? -1 : workerAllocatedBytes() - startWorkerAllocated));
    json.append("\"tx_by_port\":{");
    long[] byPort = txByPort();
    for (int i = 0; i < byPort.length; i++) {
      json.append(i == 0 ? "" : ",")
          .append('"')
          .append(portNames.get(i))
          .append("\":")
          .append(byPort[i]);
    }
    json.append("},\"drops\":{");
    int written = 0;
    for (DropReason reason : DropReason.values()) {
      long count = drops(reason) - startDrops[reason.ordinal()];
      if (count != 0) {
        json.append(written++ == 0 ? "" : ",")
            .append('"')
            .append(reason.label())
            .append("\":")
            .append(count);
      }
    }
    json.append('}');
    json.append(',').append(workerLoopsJson());
    if (!extraFields.isEmpty()) {
      json.append(',').append(extraFields);
    }
    return json.append('}').toString();
  }
}
