package io.flatnet.vhost;

import io.flatnet.dataplane.PortSetup;
import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.Devices;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import io.flatnet.dpdk.EthDev;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/** One EAL per test JVM, in-process virtio_user pods, and frames. */
final class VhostTestSupport {
  private VhostTestSupport() {}

  private static final AtomicInteger NAMES = new AtomicInteger();

  /**
   * Memory is reserved up front (-m): in-process virtio_user pods would otherwise re-send their
   * memory table from inside EAL's memory lock when a port added later allocates (see the dataplane
   * tests). Pods in other processes (testpmd) never meet that.
   */
  static void eal() {
    Eal.initOnce(
        EalArguments.forProgram("flatnet-vhost-user-test")
            .logLevel("warning")
            .extra("-m", "512")
            .build());
  }

  static String unique(String prefix) {
    return prefix + NAMES.incrementAndGet();
  }

  /** An in-process virtio_user pod on {@code socket}, one queue of {@code queueSize}. */
  static int startPod(String socket, int queueSize, PktMbufPool pool) {
    int port =
        Devices.probe(
            unique("net_virtio_user") + ",path=" + socket + ",queues=1,queue_size=" + queueSize);
    PortSetup.start(port, PortSetup.Options.singleQueue(), pool);
    return port;
  }

  static void removePort(int port) {
    EthDev.stop(port);
    Devices.remove(port);
  }

  static int ip(int a, int b, int c, int d) {
    return a << 24 | b << 16 | c << 8 | d;
  }

  /** A UDP-in-IPv4 Ethernet frame with a valid header checksum. */
  static byte[] udp(int source, int destination, int ttl, int payload) {
    int ipLength = 20 + 8 + payload;
    ByteBuffer frame = ByteBuffer.allocate(14 + ipLength);
    frame.putShort((short) 0x0200).putInt(0x0000bb01); // router side, not checked
    frame.putShort((short) 0x0200).putInt(0x0000aa01);
    frame.putShort((short) 0x0800);
    frame.put((byte) 0x45).put((byte) 0).putShort((short) ipLength);
    frame.putShort((short) 0x1234).putShort((short) 0x4000);
    frame.put((byte) ttl).put((byte) 17).putShort((short) 0);
    frame.putInt(source).putInt(destination);
    frame.putShort((short) 1000).putShort((short) 1001).putShort((short) (8 + payload));
    frame.putShort((short) 0);
    byte[] bytes = frame.array();
    int sum = 0;
    for (int i = 14; i < 34; i += 2) {
      sum += (bytes[i] & 0xFF) << 8 | bytes[i + 1] & 0xFF;
    }
    while (sum >>> 16 != 0) {
      sum = (sum & 0xFFFF) + (sum >>> 16);
    }
    int checksum = ~sum & 0xFFFF;
    bytes[24] = (byte) (checksum >>> 8);
    bytes[25] = (byte) checksum;
    return bytes;
  }

  /** Allocates {@code count} mbufs holding {@code frame}; false if the pool is empty. */
  static boolean fill(PktMbufPool pool, MbufArray scratch, byte[] frame, int count) {
    if (!pool.allocBulk(scratch, count)) {
      return false;
    }
    for (int i = 0; i < count; i++) {
      NativeMemory.copy(frame, Mbuf.dataAddress(scratch.get(i)));
      Mbuf.setLength(scratch.get(i), frame.length);
    }
    return true;
  }

  /** Sends {@code count} copies of {@code frame}; returns how many the queue took. */
  static int send(PktMbufPool pool, BurstQueue tx, MbufArray scratch, byte[] frame, int count) {
    if (!fill(pool, scratch, frame, count)) {
      return 0;
    }
    int taken = tx.burst(scratch, count);
    PktMbufPool.freeBulk(scratch.addressOf(taken), count - taken);
    return taken;
  }

  /** Receives and frees everything waiting. */
  static int drain(BurstQueue rx, MbufArray scratch) {
    int total = 0;
    int n;
    while ((n = rx.burst(scratch, 32)) > 0) {
      PktMbufPool.freeBulk(scratch.address(), n);
      total += n;
    }
    return total;
  }
}
