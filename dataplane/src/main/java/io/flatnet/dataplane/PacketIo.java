package io.flatnet.dataplane;

import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.PktMbufPool;
import java.lang.foreign.Arena;

/**
 * Where a worker's packets end: a TX buffer per out port, or the free list with a drop reason (or
 * as consumed, for packets the router answered or learned from). Frees go back to the pool in bulk.
 */
final class PacketIo {
  private WorkerPorts ports;
  private final MbufArray toFree;
  private int toFreeCount;
  final WorkerCounters counters;

  PacketIo(Arena arena, int burst, WorkerCounters counters) {
    this.counters = counters;
    this.toFree = new MbufArray(arena, burst);
  }

  /** Switches to new queues; only between loops, when every TX buffer is empty. */
  void use(WorkerPorts next) {
    ports = next;
  }

  /** Queues the packet on {@code port}, or drops it as {@code port-down} if this worker can't. */
  void send(int port, long mbuf) {
    TxBuffer tx = ports.txByPort[port];
    if (tx == null) {
      drop(mbuf, DropReason.PORT_DOWN);
      return;
    }
    tx.add(mbuf, counters);
  }

  boolean canSend(int port) {
    return ports.txByPort[port] != null;
  }

  void drop(long mbuf, DropReason reason) {
    counters.drop(reason);
    free(mbuf);
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
    free(mbuf);
  }

  /** Frees a packet whose fate the caller has already counted. */
  void freeUncounted(long mbuf) {
    free(mbuf);
  }

  private void free(long mbuf) {
    if (toFreeCount == toFree.capacity()) {
      flushFrees();
    }
    toFree.set(toFreeCount++, mbuf);
  }

  void flushFrees() {
    if (toFreeCount > 0) {
      PktMbufPool.freeBulk(toFree.address(), toFreeCount);
      toFreeCount = 0;
    }
  }

  /** Transmits everything queued and frees everything dropped. */
  void flush() {
    for (TxBuffer tx : ports.tx) {
      tx.flush(counters);
    }
    flushFrees();
  }
}
