package io.flatnet.dataplane;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A single-producer single-consumer ring of mbuf pointers: how the control path hands packets it
 * built (ARP requests, neighbour solicitations) to a worker to transmit, since only workers own TX
 * queues. Lock-free: the producer publishes with a release store, the consumer reads with acquire.
 * The out port travels in the mbuf's own port field.
 */
final class MbufHandoff {
  private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);
  private static final VarHandle HEAD;
  private static final VarHandle TAIL;

  static {
    try {
      HEAD = MethodHandles.lookup().findVarHandle(MbufHandoff.class, "head", long.class);
      TAIL = MethodHandles.lookup().findVarHandle(MbufHandoff.class, "tail", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final long[] slots;
  private final int mask;

  @SuppressWarnings("unused") // accessed through HEAD
  private volatile long head; // next slot to read (consumer)

  @SuppressWarnings("unused") // accessed through TAIL
  private volatile long tail; // next slot to write (producer)

  MbufHandoff(int capacityPowerOfTwo) {
    if (Integer.bitCount(capacityPowerOfTwo) != 1) {
      throw new IllegalArgumentException("capacity must be a power of two");
    }
    this.slots = new long[capacityPowerOfTwo];
    this.mask = capacityPowerOfTwo - 1;
  }

  /** Producer: returns false if the ring is full (the caller frees the mbuf). */
  boolean offer(long mbuf) {
    long t = (long) TAIL.getOpaque(this);
    if (t - (long) HEAD.getAcquire(this) >= slots.length) {
      return false;
    }
    SLOT.setOpaque(slots, (int) (t & mask), mbuf);
    TAIL.setRelease(this, t + 1);
    return true;
  }

  /** Consumer: the next mbuf, or 0 if none. */
  long poll() {
    long h = (long) HEAD.getOpaque(this);
    if (h == (long) TAIL.getAcquire(this)) {
      return 0;
    }
    long mbuf = (long) SLOT.getOpaque(slots, (int) (h & mask));
    HEAD.setRelease(this, h + 1);
    return mbuf;
  }
}
