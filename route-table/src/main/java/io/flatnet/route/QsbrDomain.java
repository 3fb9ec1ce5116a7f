package io.flatnet.route;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Quiescent-state-based reclamation (QSBR), as in DPDK's {@code rte_rcu_qsbr} / liburcu-qsbr.
 *
 * <p>Readers (dataplane workers) {@linkplain #register() register} a {@link QsbrReader} and call
 * {@link QsbrReader#quiescent()} once per poll loop, at a point where they hold no reference into
 * any table. The writer unlinks memory, calls {@link #advance()} to get a target epoch, and frees
 * the memory only once {@link #isGracePeriodOver(long)} says every online reader has announced that
 * epoch (or a later one). Offline readers never block the writer.
 *
 * <p>The read side is one acquire load of the global epoch plus, when it changed, one release store
 * to the reader's own padded cache line: no allocation, no lock, no CAS.
 *
 * <p>Writer-side methods are thread-safe but meant for the control plane; a thread must never wait
 * for a grace period while its own reader is online (it would wait for itself).
 */
public final class QsbrDomain {

  private static final VarHandle EPOCH;

  static {
    try {
      EPOCH = MethodHandles.lookup().findVarHandle(QsbrDomain.class, "epoch", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  // Read by every worker once per loop, written once per publish: keep it off the writer's lines.
  @SuppressWarnings("unused")
  private long p01, p02, p03, p04, p05, p06, p07;

  private volatile long epoch = 1;

  @SuppressWarnings("unused")
  private long p11, p12, p13, p14, p15, p16, p17;

  /** Copy-on-write: the writer scans it without locking, registration is rare. */
  private volatile QsbrReader[] readers = new QsbrReader[0];

  private final RetireList deferred = new RetireList();

  /** Registers a reader for the calling worker. It starts online, at the current epoch. */
  public synchronized QsbrReader register() {
    QsbrReader reader = new QsbrReader(this);
    reader.online();
    QsbrReader[] old = readers;
    QsbrReader[] copy = Arrays.copyOf(old, old.length + 1);
    copy[old.length] = reader;
    readers = copy;
    return reader;
  }

  synchronized void unregister(QsbrReader reader) {
    QsbrReader[] old = readers;
    int at = -1;
    for (int i = 0; i < old.length; i++) {
      if (old[i] == reader) {
        at = i;
      }
    }
    if (at < 0) {
      return;
    }
    QsbrReader[] copy = new QsbrReader[old.length - 1];
    System.arraycopy(old, 0, copy, 0, at);
    System.arraycopy(old, at + 1, copy, at, old.length - at - 1);
    readers = copy;
  }

  /** The number of registered readers. */
  public int readerCount() {
    return readers.length;
  }

  /** The current epoch. */
  public long epoch() {
    return epoch;
  }

  long epochAcquire() {
    return (long) EPOCH.getAcquire(this);
  }

  /**
   * Starts a new epoch. Call it after unlinking (publishing the replacement of) something: once the
   * grace period for the returned epoch is over, no reader can still see the old thing.
   */
  public long advance() {
    return (long) EPOCH.getAndAdd(this, 1L) + 1;
  }

  /** True when every online reader has announced {@code targetEpoch} or later. */
  public boolean isGracePeriodOver(long targetEpoch) {
    for (QsbrReader r : readers) {
      if (r.seenVolatile() < targetEpoch) {
        return false;
      }
    }
    return true;
  }

  /** Blocks until {@link #isGracePeriodOver(long)}: spins briefly, then yields, then parks. */
  public void awaitGracePeriod(long targetEpoch) {
    for (int spins = 0; !isGracePeriodOver(targetEpoch); spins++) {
      backoff(spins);
    }
  }

  /**
   * Like {@link #awaitGracePeriod(long)} with a time limit.
   *
   * @return false if the grace period was not over in time
   */
  public boolean awaitGracePeriod(long targetEpoch, long timeout, TimeUnit unit) {
    long deadline = System.nanoTime() + unit.toNanos(timeout);
    for (int spins = 0; !isGracePeriodOver(targetEpoch); spins++) {
      if (System.nanoTime() - deadline >= 0) {
        return false;
      }
      backoff(spins);
    }
    return true;
  }

  /** Advances the epoch and waits for its grace period ({@code synchronize_rcu}). */
  public void synchronize() {
    awaitGracePeriod(advance());
  }

  /**
   * Runs {@code action} (e.g. freeing memory already unlinked) once the grace period of a new epoch
   * is over, from a later {@link #reclaim()} call. Never blocks.
   */
  public synchronized void defer(Runnable action) {
    deferred.add(advance(), action);
  }

  /** Runs the deferred actions whose grace period is over; returns how many ran. */
  public int reclaim() {
    Runnable[] ready;
    synchronized (this) {
      ready = deferred.takeReady(this);
    }
    for (Runnable r : ready) {
      r.run(); // outside the lock: an action may take its owner's lock
    }
    return ready.length;
  }

  /** Deferred actions still waiting for their grace period. */
  public synchronized int pendingReclaims() {
    return deferred.size();
  }

  static void backoff(int spins) {
    if (spins < 256) {
      Thread.onSpinWait();
    } else if (spins < 512) {
      Thread.yield();
    } else {
      LockSupport.parkNanos(20_000);
    }
  }
}
