package io.flatnet.dataplane;

import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.DpdkLayout;
import java.lang.foreign.Arena;
import java.util.List;

/**
 * The queues one worker polls and sends on, as an immutable snapshot. The control path builds a new
 * one when a port comes or goes and publishes it; the worker switches between loops, when its TX
 * buffers are empty, and reports the generation it now uses so the control path knows when a
 * removed port's queues are no longer touched.
 */
final class WorkerPorts {
  final long generation;
  final BurstQueue[] rx;
  final TxBuffer[] tx;
  final TxBuffer[] txByPort = new TxBuffer[DpdkLayout.MAX_ETHPORTS];

  WorkerPorts(long generation, List<BurstQueue> rxQueues, List<BurstQueue> txQueues, int burst) {
    this.generation = generation;
    this.rx = rxQueues.toArray(BurstQueue[]::new);
    this.tx = new TxBuffer[txQueues.size()];
    Arena arena = Arena.ofAuto();
    for (int i = 0; i < tx.length; i++) {
      BurstQueue queue = txQueues.get(i);
      if (queue.isRx() || txByPort[queue.port()] != null) {
        throw new IllegalArgumentException("bad or duplicate tx queue " + queue);
      }
      tx[i] = new TxBuffer(arena, queue, burst);
      txByPort[queue.port()] = tx[i];
    }
  }
}
