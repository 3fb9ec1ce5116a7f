package io.flatnet.dataplane;

import java.nio.ByteBuffer;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

/**
 * Workers tell the control path what they learn (neighbour MACs) and need (a next hop to resolve)
 * through this lock-free many-to-one ring buffer. A worker never blocks on it: if it is full the
 * message is dropped and counted, and the worker asks again later.
 */
public final class ControlChannel {
  public static final int NEIGHBOR_V4 = 1;
  public static final int NEIGHBOR_V6 = 2;
  public static final int RESOLVE = 3;

  private static final int CAPACITY = 1 << 16;

  private final ManyToOneRingBuffer ring =
      new ManyToOneRingBuffer(
          new UnsafeBuffer(
              ByteBuffer.allocateDirect(CAPACITY + RingBufferDescriptor.TRAILER_LENGTH)));

  /** One per worker: its scratch buffer for encoding messages. */
  public final class Writer {
    private final UnsafeBuffer scratch = new UnsafeBuffer(new byte[32]);
    long dropped;

    /**
     * A neighbour said (by ARP) that {@code ipv4} is at {@code mac} on {@code port}; {@code
     * confirmed} if it was a reply, which proves it hears the router.
     */
    public void neighborV4(int port, int ipv4, long mac, boolean confirmed) {
      scratch.putInt(0, port);
      scratch.putInt(4, ipv4);
      scratch.putLong(8, mac);
      scratch.putInt(16, confirmed ? 1 : 0);
      if (!ring.write(NEIGHBOR_V4, scratch, 0, 20)) {
        dropped++;
      }
    }

    /**
     * A neighbour said (by NDP) that {@code hi:lo} is at {@code mac} on {@code port}; {@code
     * confirmed} for a solicited advertisement (RFC 4861 7.3.1).
     */
    public void neighborV6(int port, long hi, long lo, long mac, boolean confirmed) {
      scratch.putInt(0, port);
      scratch.putLong(4, hi);
      scratch.putLong(12, lo);
      scratch.putLong(20, mac);
      scratch.putInt(28, confirmed ? 1 : 0);
      if (!ring.write(NEIGHBOR_V6, scratch, 0, 32)) {
        dropped++;
      }
    }

    /** Packets wait for next hop {@code nextHop}: send an ARP request or neighbour solicitation. */
    void resolve(int nextHop) {
      scratch.putInt(0, nextHop);
      if (!ring.write(RESOLVE, scratch, 0, 4)) {
        dropped++;
      }
    }
  }

  public Writer newWriter() {
    return new Writer();
  }

  /** Control side: hands up to {@code limit} messages to {@code handler}. */
  public int drain(MessageHandler handler, int limit) {
    return ring.read(handler, limit);
  }
}
