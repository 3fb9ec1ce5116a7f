package io.flatnet.dataplane;

import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.DpdkLayout;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.PktMbufPool;
import java.lang.foreign.Arena;
import java.util.List;

/**
 * Where a worker's packets end: a TX buffer per out port, or the free list with a drop reason (or
 * as consumed, for packets the router answered or learned from). Frees go back to the pool in bulk.
 */
final class PacketIo {
  private final TxBuffer[] txByPort = new TxBuffer[DpdkLayout.MAX_ETHPORTS];
  private final TxBuffer[] txBuffers;
  private final MbufArray toFree;
  private int toFreeCount;
  final WorkerCounters counters;

  PacketIo(Arena arena, List<BurstQueue> txQueues, int burst, WorkerCounters counters) {
    this.counters = counters;
    this.txBuffers = new TxBuffer[txQueues.size()];
    for (int i = 0; i < txBuffers.length; i++) {
      BurstQueue tx = txQueues.get(i);
      if (tx.isRx() || txByPort[tx.port()] != null) {
        throw new IllegalArgumentException("bad or duplicate tx queue " + tx);
      }
      txBuffers[i] = new TxBuffer(arena, tx, burst);
      txByPort[tx.port()] = txBuffers[i];
    }
    this.toFree = new MbufArray(arena, burst);
  }

  /** Queues the packet on {@code port}, or drops it as {@code port-down} if this worker can't. */
  void send(int port, long mbuf) {
    TxBuffer tx = txByPort[port];
    if (tx == null) {
      drop(mbuf, DropReason.PORT_DOWN);
      return;
    }
    tx.add(mbuf, counters);
  }

  boolean canSend(int port) {
    return txByPort[port] != null;
  }

  void drop(long mbuf, DropReason reason) {
    counters.drop(reason);
    free(mbuf);
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

  /** End of a loop: transmit everything queued and free everything dropped. */
  void flush() {
    for (TxBuffer tx : txBuffers) {
      tx.flush(counters);
    }
    flushFrees();
  }
}
