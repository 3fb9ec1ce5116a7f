package io.flatnet.dataplane;

import io.flatnet.dataplane.capture.Tap;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.PktMbufPool;
import java.lang.foreign.Arena;

/**
 * Where a worker's packets end: a TX buffer per out port, or the free list with a drop reason (or
 * as consumed, for packets the router answered or learned from). Frees go back to the pool in bulk.
 */
final class PacketIo {
  private WorkerPorts ports;
  private TxBuffer[] txByPort; // ports.txByPort, one load nearer the packet
  private final MbufArray toFree;
  private final byte[] freeReasons;
  private int toFreeCount;
  final WorkerCounters counters;

  /**
   * The running capture or trace, set by the worker once per loop; null (nearly always) when none
   * runs. Read once per burst by the paths that hand packets on (TX flush, bulk free).
   */
  Tap tap;

  PacketIo(Arena arena, int burst, WorkerCounters counters) {
    this.counters = counters;
    this.toFree = new MbufArray(arena, burst);
    this.freeReasons = new byte[burst];
  }

  /** Switches to new queues; only between loops, when every TX buffer is empty. */
  void use(WorkerPorts next) {
    ports = next;
    txByPort = next.txByPort;
  }

  /** Queues the packet on {@code port}, or drops it as {@code port-down} if this worker can't. */
  void send(int port, long mbuf) {
    TxBuffer tx = txByPort[port];
    if (tx == null) {
      drop(mbuf, DropReason.PORT_DOWN);
      return;
    }
    tx.add(mbuf, counters, tap);
  }

  boolean canSend(int port) {
    return txByPort[port] != null;
  }

  void drop(long mbuf, DropReason reason) {
    counters.drop(reason);
    free(mbuf, (byte) reason.ordinal());
  }

  /**
   * Counts a drop of a packet that is about to become something else (an ICMP error about it) or be
   * freed uncounted: a capture or trace sees it as dropped now, before it changes.
   */
  void noteDrop(long mbuf, DropReason reason) {
    counters.drop(reason);
    Tap t = tap;
    if (t != null) { // only on the ICMP-error paths, never per forwarded packet
      t.dropped(mbuf, reason.ordinal());
    }
  }

  /** Drops {@code packets[from..to)}, each under {@code reason}. */
  void drop(long[] packets, int from, int to, DropReason reason) {
    for (int i = from; i < to; i++) {
      drop(packets[i], reason);
    }
  }

  /** The packet did its job (answered, learned from): free it without counting a drop. */
  void consume(long mbuf) {
    counters.event(WorkerEvent.CONSUMED);
    free(mbuf, Tap.CONSUMED);
  }

  /** Frees a packet whose fate the caller has already counted. */
  void freeUncounted(long mbuf) {
    free(mbuf, Tap.NOTED);
  }

  /** Queues the mbuf for the bulk free, with why ({@link DropReason} ordinal, or a Tap code). */
  private void free(long mbuf, byte reason) {
    if (toFreeCount == toFree.capacity()) {
      flushFrees();
    }
    freeReasons[toFreeCount] = reason;
    toFree.set(toFreeCount++, mbuf);
  }

  void flushFrees() {
    if (toFreeCount > 0) {
      Tap t = tap;
      if (t != null) { // one branch per bulk free
        t.freeing(toFree, freeReasons, 0, toFreeCount);
      }
      PktMbufPool.freeBulk(toFree.address(), toFreeCount);
      toFreeCount = 0;
    }
  }

  /** Transmits everything queued and frees everything dropped. */
  void flush() {
    for (TxBuffer tx : ports.tx) {
      tx.flush(counters, tap);
    }
    flushFrees();
  }
}
