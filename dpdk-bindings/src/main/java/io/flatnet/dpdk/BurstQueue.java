package io.flatnet.dpdk;

import static io.flatnet.dpdk.DpdkLayout.*;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * One RX or TX queue of a started port, for the fast path. {@code rte_eth_rx_burst} and {@code
 * rte_eth_tx_burst} are static inline in C, so there is no symbol: like the inline code, this reads
 * the PMD's burst function and the queue's data pointer from {@code rte_eth_fp_ops[port]} and calls
 * the function directly, with a {@code critical} downcall (no thread-state transition, no
 * allocation). RX/TX callbacks are not run; flatnet installs none.
 *
 * <p>Bind a queue after {@code rte_eth_dev_start}: start and stop rewrite {@code rte_eth_fp_ops}.
 */
@SuppressWarnings("restricted") // the bindings are where native access belongs
public final class BurstQueue {
  /** {@code uint16_t (*)(void *queue, struct rte_mbuf **pkts, uint16_t n)}, RX and TX alike. */
  private static final MethodHandle BURST =
      Dpdk.LINKER.downcallHandle(
          FunctionDescriptor.of(JAVA_SHORT, JAVA_LONG, JAVA_LONG, JAVA_SHORT),
          Linker.Option.critical(false));

  private final int port;
  private final int queue;
  private final boolean rx;
  private final MemorySegment function;
  private final long queueData;

  private BurstQueue(int port, int queue, boolean rx) {
    if (queue < 0 || queue >= MAX_QUEUES_PER_PORT) {
      throw new IllegalArgumentException("queue " + queue + " is out of range");
    }
    if (!EthDev.isValidPort(port)) {
      throw new DpdkException("port " + port + " does not exist");
    }
    this.port = port;
    this.queue = queue;
    this.rx = rx;
    long fn = EthDev.fastPathField(port, rx ? ETH_FP_OPS_RX_PKT_BURST : ETH_FP_OPS_TX_PKT_BURST);
    long queues = EthDev.fastPathField(port, rx ? ETH_FP_OPS_RXQ_DATA : ETH_FP_OPS_TXQ_DATA);
    long data = queues == 0 ? 0 : NativeMemory.getLong(queues + ((long) queue << 3));
    if (fn == 0 || data == 0) {
      throw new DpdkException(
          (rx ? "rx" : "tx")
              + " queue "
              + queue
              + " of port "
              + port
              + " is not set up, or the port is not started");
    }
    this.function = MemorySegment.ofAddress(fn);
    this.queueData = data;
  }

  public static BurstQueue rx(int port, int queue) {
    return new BurstQueue(port, queue, true);
  }

  public static BurstQueue tx(int port, int queue) {
    return new BurstQueue(port, queue, false);
  }

  public int port() {
    return port;
  }

  public int queue() {
    return queue;
  }

  public boolean isRx() {
    return rx;
  }

  /**
   * RX: receives up to {@code count} mbufs into the pointer array at {@code pointers}. TX: offers
   * {@code count} mbufs from it; those not taken stay the caller's to free or retry.
   *
   * @return how many mbufs were received or taken
   */
  public int burst(long pointers, int count) {
    try {
      return (short) BURST.invokeExact(function, queueData, pointers, (short) count) & 0xFFFF;
    } catch (Throwable t) {
      throw Dpdk.rethrow("burst", t);
    }
  }

  public int burst(MbufArray mbufs, int count) {
    return burst(mbufs.address(), count);
  }

  @Override
  public String toString() {
    return (rx ? "rx" : "tx") + "[port " + port + " queue " + queue + "]";
  }
}
