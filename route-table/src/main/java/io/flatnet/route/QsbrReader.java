package io.flatnet.route;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/** Left padding: keeps {@code seen} off the cache line of whatever precedes this object. */
abstract class QsbrReaderPadLeft {
  @SuppressWarnings("unused")
  long p01, p02, p03, p04, p05, p06, p07;
}

/** The one hot field, written by its worker every loop. */
abstract class QsbrReaderSeen extends QsbrReaderPadLeft {
  /** The last epoch this reader announced; {@link QsbrReader#OFFLINE} when offline. */
  volatile long seen;
}

/** Right padding. */
abstract class QsbrReaderPadRight extends QsbrReaderSeen {
  @SuppressWarnings("unused")
  long p11, p12, p13, p14, p15, p16, p17;
}

/**
 * One worker's registration in a {@link QsbrDomain}. Owned by one thread: only that thread calls
 * {@link #quiescent()}, {@link #offline()} and {@link #online()}.
 *
 * <p>A worker calls {@link #quiescent()} once per loop iteration, when it holds no next-hop index
 * or table reference from an earlier lookup; {@link #offline()} before blocking or sleeping (so it
 * doesn't stall the writer) and {@link #online()} when it resumes, before its next lookup.
 */
public final class QsbrReader extends QsbrReaderPadRight implements AutoCloseable {

  static final long OFFLINE = Long.MAX_VALUE;

  private static final VarHandle SEEN;

  static {
    try {
      SEEN = MethodHandles.lookup().findVarHandle(QsbrReaderSeen.class, "seen", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final QsbrDomain domain;

  QsbrReader(QsbrDomain domain) {
    this.domain = domain;
    SEEN.set(this, OFFLINE);
  }

  /**
   * Announces a quiescent state: every lookup before this call is finished. Zero allocation; a
   * release store only when the epoch moved since the last call.
   */
  public void quiescent() {
    long e = domain.epochAcquire();
    long s = (long) SEEN.get(this); // own field: a plain read is enough
    if (s == e) {
      return;
    }
    if (s == OFFLINE) {
      online(); // needs the full fence
      return;
    }
    // Release: the lookups before this point happen-before the writer seeing the new epoch.
    SEEN.setRelease(this, e);
  }

  /** Stops blocking the writer (e.g. before the worker parks). No lookups until {@link #online}. */
  public void offline() {
    SEEN.setRelease(this, OFFLINE);
  }

  /**
   * Resumes. The volatile (StoreLoad-fenced) store orders the announcement before this worker's
   * next table load, so a writer that saw it offline cannot free what the worker then reads.
   */
  public void online() {
    SEEN.setVolatile(this, domain.epochAcquire());
  }

  public boolean isOnline() {
    return (long) SEEN.getVolatile(this) != OFFLINE;
  }

  long seenVolatile() {
    return (long) SEEN.getVolatile(this);
  }

  /** Unregisters: the reader no longer blocks anyone and must not be used again. */
  @Override
  public void close() {
    offline();
    domain.unregister(this);
  }
}
