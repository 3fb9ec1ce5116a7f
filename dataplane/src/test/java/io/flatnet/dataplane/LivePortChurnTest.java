package io.flatnet.dataplane;

import static io.flatnet.dataplane.TestPackets.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.EthDev;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.Ipv4Prefix;
import java.io.File;
import java.lang.foreign.Arena;
import java.util.concurrent.atomic.AtomicReference;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ports come and go while the router forwards: traffic between two vhost-user pods (virtio_user
 * peers in this process) must lose nothing while 20 other ports are added and removed, each with a
 * route, and each removal waits for the workers to let go of the port.
 */
class LivePortChurnTest {
  @TempDir File dir;

  @Test
  void addingAndRemovingPortsLosesNothingOnOtherPorts() throws Exception {
    DataplaneTestSupport.eal();
    String socketA = new File(dir, "a.sock").getAbsolutePath();
    String socketB = new File(dir, "b.sock").getAbsolutePath();
    PktMbufPool podPool =
        PktMbufPool.create(DataplaneTestSupport.unique("churn-pods"), 4095, 0, 2176, -1);
    try (Arena arena = Arena.ofConfined();
        Router router = Router.open(Router.Sizes.defaults(), dir)) {
      int vhostA = router.addPort(DataplaneTestSupport.unique("net_vhost") + ",iface=" + socketA);
      int vhostB = router.addPort(DataplaneTestSupport.unique("net_vhost") + ",iface=" + socketB);
      int podA =
          DataplaneTestSupport.startPort(
              DataplaneTestSupport.unique("net_virtio_user") + ",path=" + socketA, podPool);
      // Pod B runs on this test's thread, which shares two CPUs with the worker and the churn
      // thread: a deep ring absorbs the milliseconds it is descheduled, as a real pod's own CPU
      // would.
      int podB =
          DataplaneTestSupport.startPort(
              DataplaneTestSupport.unique("net_virtio_user")
                  + ",path="
                  + socketB
                  + ",queue_size=1024",
              podPool);
      long podBMac = EthDev.macAddress(podB);
      router.routeDirect(Ipv4Prefix.parse("10.1.0.0/16"), vhostB, podBMac);
      router.startWorker(-1, new BusySpinIdleStrategy());
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (!(EthDev.link(vhostA).up() && EthDev.link(vhostB).up())) {
        assertTrue(System.nanoTime() < deadline, "vhost-user links did not come up");
        Thread.sleep(10);
      }

      byte[] frame = TestPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 2), 64, 18);
      MbufArray scratch = new MbufArray(arena, 32);
      BurstQueue podATx = BurstQueue.tx(podA, 0);
      BurstQueue podBRx = BurstQueue.rx(podB, 0);
      // Warm up until pod B's queue is live and the JIT has compiled the path; count from then on.
      long warmUntil = System.nanoTime() + 1_000_000_000L;
      while (System.nanoTime() < warmUntil) {
        if (pool(podPool, scratch, frame, 8)) {
          int taken = podATx.burst(scratch, 8);
          PktMbufPool.freeBulk(scratch.addressOf(taken), 8 - taken);
        }
        drain(podBRx, scratch);
      }
      Thread.sleep(100);
      drain(podBRx, scratch);
      long txFullBefore = router.counters().sum(WorkerCounters.dropLabel(0, DropReason.TX_FULL));
      long sent = 0;
      long received = 0;
      AtomicReference<Throwable> churnFailure = new AtomicReference<>();
      Thread churn =
          new Thread(
              () -> {
                try {
                  for (int i = 0; i < 20; i++) {
                    int extra = router.addPort(DataplaneTestSupport.unique("net_ring_churn"));
                    Ipv4Prefix prefix = Ipv4Prefix.parse("10.77." + i + ".0/24");
                    router.routeDirect(prefix, extra, 0x02_00_00_00_77_01L);
                    Thread.sleep(10);
                    router.removeRoute(prefix);
                    router.removePort(extra);
                  }
                } catch (Throwable t) {
                  churnFailure.set(t);
                }
              },
              "churn");
      churn.start();
      // The pods keep sending and receiving on this thread while the churn thread works.
      while (churn.isAlive()) {
        if (pool(podPool, scratch, frame, 8)) {
          int taken = podATx.burst(scratch, 8);
          PktMbufPool.freeBulk(scratch.addressOf(taken), 8 - taken);
          sent += taken;
        }
        received += drain(podBRx, scratch);
      }
      if (churnFailure.get() != null) {
        throw new AssertionError("port churn failed", churnFailure.get());
      }
      long drainUntil = System.nanoTime() + 2_000_000_000L;
      while (received < sent && System.nanoTime() < drainUntil) {
        received += drain(podBRx, scratch);
      }
      assertTrue(sent > 1000, "traffic flowed during the churn: " + sent);
      StringBuilder why = new StringBuilder("packets between the two pods lost during port churn;");
      for (DropReason reason : DropReason.values()) {
        long count =
            router.counters().sum(WorkerCounters.dropLabel(0, reason))
                - (reason == DropReason.TX_FULL ? txFullBefore : 0);
        if (count > 0) {
          why.append(' ').append(reason.label()).append('=').append(count);
        }
      }
      why.append(" router rx=").append(router.counters().sum("worker 0 rx-packets"));
      why.append(" tx=").append(router.counters().sum("worker 0 tx-packets"));
      why.append(" vhostA imissed=").append(EthDev.stats(vhostA).rxMissed());
      assertEquals(sent, received, why.toString());
      assertEquals(2, router.ports().size());
    } finally {
      podPool.free();
    }
  }

  private static boolean pool(PktMbufPool pool, MbufArray scratch, byte[] frame, int count) {
    if (!pool.allocBulk(scratch, count)) {
      return false;
    }
    for (int i = 0; i < count; i++) {
      NativeMemory.copy(frame, Mbuf.dataAddress(scratch.get(i)));
      Mbuf.setLength(scratch.get(i), frame.length);
    }
    return true;
  }

  private static int drain(BurstQueue rx, MbufArray scratch) {
    int total = 0;
    int n;
    while ((n = rx.burst(scratch, 32)) > 0) {
      PktMbufPool.freeBulk(scratch.address(), n);
      total += n;
    }
    return total;
  }
}
