package io.flatnet.dataplane.capture;

import io.flatnet.control.CaptureFile;
import io.flatnet.control.CaptureFilter;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A running capture or live trace, compiled once when it starts and published to the workers as one
 * immutable reference (what to take: ports, directions, drops, snaplen, the compiled filter); the
 * only shared mutable parts are the count of packets taken so far and the trace ids, both atomics
 * the workers bump without locks.
 */
public final class CaptureSpec {
  /** The session's id (the capture file header shows the running one). */
  public final long session;

  /** Ports selected, by port id; null: every port. */
  private final boolean[] ports;

  final boolean rx;
  final boolean tx;
  final boolean drops;

  /** A live trace: packets matching the filter are marked at RX and each stage is recorded. */
  final boolean trace;

  final int snaplen;
  final CaptureFilter filter;
  final boolean anyPacket;

  /** Packets to take (records for a capture, marked packets for a trace); 0: no limit. */
  final long count;

  private final AtomicLong taken = new AtomicLong();
  private final AtomicInteger traceIds = new AtomicInteger();
  final CaptureFile.Mapped file;

  private CaptureSpec(
      long session,
      CaptureFile.Mapped file,
      boolean[] ports,
      boolean rx,
      boolean tx,
      boolean drops,
      boolean trace,
      int snaplen,
      CaptureFilter filter,
      long count) {
    if (snaplen < 0 || snaplen > CaptureFile.MAX_SNAPLEN) {
      throw new IllegalArgumentException(
          "snaplen " + snaplen + " out of 0.." + CaptureFile.MAX_SNAPLEN);
    }
    if (count < 0) {
      throw new IllegalArgumentException("count " + count + " is negative");
    }
    this.session = session;
    this.file = file;
    this.ports = ports == null ? null : ports.clone();
    this.rx = rx;
    this.tx = tx;
    this.drops = drops;
    this.trace = trace;
    this.snaplen = snaplen;
    this.filter = filter;
    this.anyPacket = filter == CaptureFilter.ANY;
    this.count = count;
  }

  /**
   * A capture: {@code ports} by id (null: all), the directions, drops or not, bytes kept a packet,
   * the filter, and how many records to take (0: until stopped).
   */
  public static CaptureSpec capture(
      long session,
      CaptureFile.Mapped file,
      boolean[] ports,
      boolean rx,
      boolean tx,
      boolean drops,
      int snaplen,
      CaptureFilter filter,
      long count) {
    return new CaptureSpec(session, file, ports, rx, tx, drops, false, snaplen, filter, count);
  }

  /** A live trace of the next {@code count} packets matching {@code filter} (0: until stopped). */
  public static CaptureSpec trace(
      long session, CaptureFile.Mapped file, int snaplen, CaptureFilter filter, long count) {
    return new CaptureSpec(session, file, null, false, false, false, true, snaplen, filter, count);
  }

  boolean selected(int port) {
    return ports == null || (port >= 0 && port < ports.length && ports[port]);
  }

  /** Takes one more packet if the count allows (lock-free). */
  boolean take() {
    return count == 0 || taken.getAndIncrement() < count;
  }

  /** True once the count is reached (the control thread then ends the session). */
  public boolean done() {
    return count != 0 && taken.get() >= count;
  }

  /** Packets taken so far. */
  public long taken() {
    return Math.min(taken.get(), count == 0 ? Long.MAX_VALUE : count);
  }

  int nextTraceId() {
    return traceIds.incrementAndGet();
  }

  public boolean isTrace() {
    return trace;
  }

  public CaptureFilter filter() {
    return filter;
  }
}
