package io.flatnet.dataplane;

import io.flatnet.dataplane.capture.Tap;
import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import java.lang.foreign.Arena;

/**
 * Packets waiting for one TX queue. A worker sends it the moment it holds a full burst, and drains
 * what is left at the end of a loop (see {@link ForwardingWorker#doWork}); what the queue does not
 * take is freed and counted as {@code tx-full}.
 */
final class TxBuffer {
  private final BurstQueue queue;
  private final MbufArray pending;
  private final long slots; // pending's native address: add stores there directly
  private final int capacity;
  private int count;

  TxBuffer(Arena arena, BurstQueue queue, int capacity) {
    this.queue = queue;
    this.pending = new MbufArray(arena, capacity);
    this.slots = pending.address();
    this.capacity = capacity;
  }

  int port() {
    return queue.port();
  }

  /** Queues one mbuf, and sends the buffer as soon as it holds a full burst. */
  void add(long mbuf, WorkerCounters counters, Tap tap) {
    NativeMemory.putLong(slots + ((long) count << 3), mbuf); // count < capacity: flushed at it
    if (++count == capacity) {
      flush(counters, tap);
    }
  }

  /** Forgets what is queued without sending it (benchmarks that reuse their mbufs). */
  void discard() {
    count = 0;
  }

  /** Sends what is queued; {@code tap}: the running capture or trace, or null (one branch). */
  void flush(WorkerCounters counters, Tap tap) {
    if (count == 0) {
      return;
    }
    if (tap != null) { // before the PMD owns them
      tap.transmitting(pending, 0, count, queue.port());
    }
    int sent = queue.burst(pending, count);
    if (sent < count) {
      if (tap != null) {
        tap.freeing(pending, sent, count, DropReason.TX_FULL.ordinal());
      }
      PktMbufPool.freeBulk(pending.addressOf(sent), count - sent);
      counters.drop(DropReason.TX_FULL, count - sent);
      counters.pendingPortTxFull[queue.port()] += count - sent;
    }
    counters.pendingTx += sent;
    counters.pendingPortTx[queue.port()] += sent;
    count = 0;
  }
}
