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
import java.util.List;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two workers share two-queue vhost-user ports: each RX queue belongs to one worker and each worker
 * owns one TX queue per port. Traffic on both queues of pod A reaches pod B through both workers.
 */
class MultiWorkerTest {
  @TempDir File dir;

  @Test
  void twoWorkersEachForwardTheirOwnQueues() throws Exception {
    DataplaneTestSupport.eal();
    String socketA = new File(dir, "a.sock").getAbsolutePath();
    String socketB = new File(dir, "b.sock").getAbsolutePath();
    PktMbufPool podPool =
        PktMbufPool.create(DataplaneTestSupport.unique("mw-pods"), 16383, 0, 2176, -1);
    try (Arena arena = Arena.ofConfined();
        Router router = Router.open(Router.Sizes.defaults().withWorkers(2), dir)) {
      int vhostA =
          router.addPort(
              DataplaneTestSupport.unique("net_vhost") + ",iface=" + socketA + ",queues=2");
      int vhostB =
          router.addPort(
              DataplaneTestSupport.unique("net_vhost") + ",iface=" + socketB + ",queues=2");
      int podA = startPod(socketA, podPool);
      int podB = startPod(socketB, podPool);
      router.routeDirect(Ipv4Prefix.parse("10.1.0.0/16"), vhostB, EthDev.macAddress(podB));
      List<ForwardingWorker> workers =
          router.startWorkers(new int[] {-1, -1}, new BackoffIdleStrategy(10, 10, 1000, 100_000));
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (!(EthDev.link(vhostA).up() && EthDev.link(vhostB).up())) {
        assertTrue(System.nanoTime() < deadline, "vhost-user links did not come up");
        Thread.sleep(10);
      }
      Thread.sleep(200); // both queue pairs enabled

      byte[] frame = TestPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 2), 64, 18);
      MbufArray scratch = new MbufArray(arena, 32);
      long sent = 0;
      long received = 0;
      long sendUntil = System.nanoTime() + 20_000_000_000L;
      while (sent < 2000 && System.nanoTime() < sendUntil) {
        for (int queue = 0; queue < 2; queue++) {
          assertTrue(podPool.allocBulk(scratch, 16));
          for (int i = 0; i < 16; i++) {
            NativeMemory.copy(frame, Mbuf.dataAddress(scratch.get(i)));
            Mbuf.setLength(scratch.get(i), frame.length);
          }
          int taken = BurstQueue.tx(podA, queue).burst(scratch, 16);
          PktMbufPool.freeBulk(scratch.addressOf(taken), 16 - taken);
          sent += taken;
        }
        received += drain(podB, scratch);
      }
      long until = System.nanoTime() + 3_000_000_000L;
      while (received < sent && System.nanoTime() < until) {
        received += drain(podB, scratch);
      }
      assertTrue(sent >= 1000, "sent " + sent);
      assertEquals(sent, received, "everything sent on both queues arrived");
      for (ForwardingWorker worker : workers) {
        assertTrue(worker.counters().txPackets() > 0, worker.roleName() + " forwarded nothing");
      }
      DataplaneTestSupport.removePort(podA);
      DataplaneTestSupport.removePort(podB);
    } finally {
      podPool.free();
    }
  }

  private static int startPod(String socket, PktMbufPool pool) {
    int port =
        io.flatnet.dpdk.Devices.probe(
            DataplaneTestSupport.unique("net_virtio_user")
                + ",path="
                + socket
                + ",queues=2,queue_size=1024"); // deep rings: this test thread shares the CPUs
    PortSetup.start(port, PortSetup.Options.queues(2, 2), pool);
    return port;
  }

  private static int drain(int port, MbufArray scratch) {
    int total = 0;
    for (int queue = 0; queue < 2; queue++) {
      int n;
      while ((n = BurstQueue.rx(port, queue).burst(scratch, 32)) > 0) {
        PktMbufPool.freeBulk(scratch.address(), n);
        total += n;
      }
    }
    return total;
  }
}
