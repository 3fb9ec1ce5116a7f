package io.flatnet.dataplane.app;

import io.flatnet.dataplane.Router;
import io.flatnet.route.Ipv4Prefix;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * Benchmark only ({@code flatnet run --route-churn-per-second N}, bench e2e's {@code
 * flatnet-routechurn}): a thread of the router's process that adds and deletes IPv4 routes at a set
 * rate while the workers forward, through the calls the agent's {@code ctl route add PREFIX via
 * ADDR port NAME} and {@code ctl route del PREFIX} end in ({@link Router#routeVia} and {@link
 * Router#removeRoute}: {@code RouterDataplane.addRoute/removeRoute} of a single-path route).
 *
 * <p>The routes are /28s of {@value #POOL_TEXT} (4,096 of them, 16 to each /24), which covers none
 * of the generators' traffic (10.254.0.0 to 10.253.0.0/22): the flows are unaffected. A window of
 * {@link #WINDOW} routes is installed; once it is full, each step deletes the oldest and adds the
 * next, so tbl8 groups are allocated and freed (after a QSBR grace period) as the window slides
 * over the /24s. Every add and every delete counts as one update.
 */
final class BenchRoutes {
  private BenchRoutes() {}

  static final String POOL_TEXT = "10.200.0.0/16";
  static final int POOL_BASE = 0x0AC8_0000; // 10.200.0.0
  static final int POOL = 4096;
  static final int LENGTH = 28;

  /** Routes installed at once once the window is full. */
  static final int WINDOW = 1024;

  /** The routes' next hop: a neighbour on the last port, never resolved (no traffic hits it). */
  static final int NEIGHBOR = 0x0AC7_0001; // 10.199.0.1

  /** Route {@code i} of the pool (wrapping): 10.200.0.0/28, 10.200.0.16/28, ... */
  static Ipv4Prefix prefix(long i) {
    int k = (int) Math.floorMod(i, (long) POOL);
    return new Ipv4Prefix(POOL_BASE + k * 16, LENGTH);
  }

  /** What the churn changes: route {@code i} of the pool. */
  interface Table {
    void add(long i);

    void delete(long i);
  }

  /** The router's table through the agent's calls. */
  static Table of(Router router, int port) {
    return new Table() {
      @Override
      public void add(long i) {
        router.routeVia(prefix(i), port, NEIGHBOR);
      }

      @Override
      public void delete(long i) {
        router.removeRoute(prefix(i));
      }
    };
  }

  /**
   * The churn thread. Rate control: every {@link #tickNanos} it does the updates due since it
   * started ({@code perSecond x elapsed} minus those done), at most {@link #maxBatch} at once; a
   * debt beyond that is dropped (counted in {@code skipped}), so a slow table lowers the achieved
   * rate, which is reported, instead of turning the thread into a busy loop on the worker's CPU.
   */
  static final class Churn extends Thread {
    private final Table table;
    private final double perSecond;
    private final int window;
    private final LongSupplier clock;
    final long tickNanos;
    final int maxBatch;
    private volatile boolean stop;
    private long start = Long.MIN_VALUE;
    private long due; // updates owed since start, including skipped ones
    volatile long adds;
    volatile long deletes;
    volatile long skipped;
    volatile long maxUpdateNanos;
    volatile long totalUpdateNanos;

    Churn(Table table, double perSecond, int window, LongSupplier clock, long tickNanos) {
      super("flatnet-route-churn");
      if (!(perSecond > 0) || window < 1 || tickNanos <= 0) {
        throw new IllegalArgumentException("rate > 0, window >= 1, tick > 0");
      }
      setDaemon(true);
      this.table = table;
      this.perSecond = perSecond;
      this.window = window;
      this.clock = clock;
      this.tickNanos = tickNanos;
      this.maxBatch = (int) Math.max(1, Math.ceil(perSecond * 10 * tickNanos / 1e9));
    }

    Churn(Router router, int port, double perSecond) {
      this(of(router, port), perSecond, WINDOW, System::nanoTime, 1_000_000L);
    }

    long updates() {
      return adds + deletes;
    }

    /** Does the updates due at {@code now}; returns how many it did. */
    int step(long now) {
      if (start == Long.MIN_VALUE) {
        start = now;
      }
      long owed = (long) Math.floor((now - start) / 1e9 * perSecond + 1e-6); // 2.9999.. is 3
      long n = owed - due;
      if (n > maxBatch) {
        skipped += n - maxBatch;
        n = maxBatch;
      }
      due = owed;
      for (long k = 0; k < n; k++) {
        long t0 = clock.getAsLong();
        if (adds - deletes < window) {
          table.add(adds);
          adds = adds + 1;
        } else {
          table.delete(deletes);
          deletes = deletes + 1;
        }
        long took = clock.getAsLong() - t0;
        totalUpdateNanos = totalUpdateNanos + took;
        if (took > maxUpdateNanos) {
          maxUpdateNanos = took;
        }
      }
      return (int) n;
    }

    @Override
    public void run() {
      long next = clock.getAsLong();
      while (!stop) {
        long wait = next - clock.getAsLong();
        if (wait > 0) {
          LockSupport.parkNanos(wait);
          continue;
        }
        next += tickNanos;
        step(clock.getAsLong());
      }
    }

    void finish() throws InterruptedException {
      stop = true;
      join(5_000);
    }

    /** A snapshot of the counters, for rates over a window. */
    long[] mark() {
      return new long[] {clock.getAsLong(), adds, deletes};
    }

    /**
     * The summary's {@code route_churn} object: the target rate, the achieved one since {@code
     * mark} (updates a second), adds, deletes, how long updates took (mean, max), the routes
     * installed and the updates skipped for falling behind.
     */
    String json(long[] mark) {
      long now = clock.getAsLong();
      double seconds = Math.max(1e-9, (now - mark[0]) / 1e9);
      long a = adds - mark[1];
      long d = deletes - mark[2];
      long all = adds + deletes;
      return String.format(
          Locale.ROOT,
          "\"route_churn\":{\"target_per_s\":%d,\"per_s\":%d,\"adds_per_s\":%d,"
              + "\"deletes_per_s\":%d,\"adds\":%d,\"deletes\":%d,\"update_mean_ns\":%d,"
              + "\"update_max_ns\":%d,\"installed\":%d,\"skipped\":%d,\"window_seconds\":%.2f}",
          Math.round(perSecond),
          Math.round((a + d) / seconds),
          Math.round(a / seconds),
          Math.round(d / seconds),
          adds,
          deletes,
          all == 0 ? 0 : totalUpdateNanos / all,
          maxUpdateNanos,
          adds - deletes,
          skipped,
          seconds);
    }
  }
}
