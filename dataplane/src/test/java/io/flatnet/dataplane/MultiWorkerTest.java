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

  /**
   * Network policy with two workers: A's RX queue 0 is worker 0's, B's queue 1 is worker 1's. A
   * opens a UDP flow to B on worker 0; B (which may start nothing: egress isolated, no rule)
   * replies on worker 1, which finds the flow in worker 0's table, copies it, and forwards the
   * reply.
   */
  @Test
  void aReplyOnTheOtherWorkerFindsTheFlow() throws Exception {
    DataplaneTestSupport.eal();
    String socketA = new File(dir, "pa.sock").getAbsolutePath();
    String socketB = new File(dir, "pb.sock").getAbsolutePath();
    PktMbufPool podPool =
        PktMbufPool.create(DataplaneTestSupport.unique("mwp-pods"), 4095, 0, 2176, -1);
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
      router.routeDirect(Ipv4Prefix.parse("10.9.0.0/16"), vhostA, EthDev.macAddress(podA));
      router.setPolicies(
          List.of(
              PolicyPackets.both(
                  "ns/b",
                  "10.1.0.2",
                  List.of(
                      PolicyPackets.rule(
                          "ns/udp",
                          0,
                          List.of("10.9.0.0/16"),
                          List.of(new io.flatnet.control.PolicySpec.PortRange("UDP", 1001, 1001)))),
                  List.of())));
      List<ForwardingWorker> workers =
          router.startWorkers(new int[] {-1, -1}, new BackoffIdleStrategy(10, 10, 1000, 100_000));
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (!(EthDev.link(vhostA).up() && EthDev.link(vhostB).up())) {
        assertTrue(System.nanoTime() < deadline, "vhost-user links did not come up");
        Thread.sleep(10);
      }
      Thread.sleep(200);
      MbufArray scratch = new MbufArray(arena, 32);
      byte[] request = PolicyPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 2), 1000, 1001);
      byte[] reply = PolicyPackets.udp(ip(10, 1, 0, 2), ip(10, 9, 0, 1), 1001, 1000);
      byte[] fresh = PolicyPackets.udp(ip(10, 1, 0, 2), ip(10, 9, 0, 1), 1001, 1234);
      assertEquals(1, sendAndCount(podPool, scratch, podA, 0, request, podB), "A -> B");
      assertEquals(1, sendAndCount(podPool, scratch, podB, 1, reply, podA), "B's reply -> A");
      assertEquals(0, sendAndCount(podPool, scratch, podB, 1, fresh, podA), "B starts nothing");
      Thread.sleep(100); // an idle loop publishes the counters
      assertEquals(1, workers.get(1).counters().events(WorkerEvent.FLOW_COPIED));
      assertEquals(1, workers.get(1).counters().drops(DropReason.POLICY_DENIED_EGRESS));
      assertEquals(0, workers.get(0).counters().drops(DropReason.POLICY_DENIED_EGRESS));
      DataplaneTestSupport.removePort(podA);
      DataplaneTestSupport.removePort(podB);
    } finally {
      podPool.free();
    }
  }

  /** Sends one frame on {@code queue} of {@code from}; how many arrive at {@code to} within 2 s. */
  private static int sendAndCount(
      PktMbufPool pool, MbufArray scratch, int from, int queue, byte[] frame, int to)
      throws InterruptedException {
    assertTrue(pool.allocBulk(scratch, 1));
    NativeMemory.copy(frame, Mbuf.dataAddress(scratch.get(0)));
    Mbuf.setLength(scratch.get(0), frame.length);
    assertEquals(1, BurstQueue.tx(from, queue).burst(scratch, 1));
    int received = 0;
    long until = System.nanoTime() + 2_000_000_000L;
    while (System.nanoTime() < until) {
      received += drain(to, scratch);
      if (received > 0) {
        Thread.sleep(50);
        received += drain(to, scratch);
        break;
      }
      Thread.sleep(1);
    }
    return received;
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
