package io.flatnet.vhost;

import static io.flatnet.vhost.VhostTestSupport.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.dataplane.DropReason;
import io.flatnet.dataplane.Router;
import io.flatnet.dataplane.WorkerCounters;
import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.EthDev;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.Ipv4Prefix;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 20 vhost-user pod ports (alternately server and client mode, each checked, routed, monitored) are
 * added and removed through {@link VhostPorts} while two other vhost-user pods exchange traffic:
 * those two lose nothing. The two pods are virtio_user ports in this process driven by the test
 * thread, as in the dataplane's LivePortChurnTest: every packet pod A's ring accepted is counted,
 * and the same number must come out of pod B's ring, which the test thread drains (a 1024-slot ring
 * absorbs the milliseconds the thread is descheduled on two shared CPUs).
 */
class VhostPortChurnTest {
  @TempDir Path dir;

  @Test
  void addingAndRemovingTwentyVhostPortsLosesNothingBetweenTwoOthers() throws Exception {
    VhostTestSupport.eal();
    PktMbufPool podPool =
        PktMbufPool.create(VhostTestSupport.unique("churn-pods"), 4095, 0, 2176, -1);
    try (Arena arena = Arena.ofConfined();
        Router router = Router.open(Router.Sizes.defaults(), dir.toFile());
        VhostPorts ports =
            new VhostPorts(
                router, dir, VhostPortChecks.Policy.defaults(), VhostPorts.standardLog())) {
      int vhostA =
          ports.add(new VhostPortSpec("pod-a", dir.resolve("a.sock"), VhostMode.SERVER, 1));
      int vhostB =
          ports.add(new VhostPortSpec("pod-b", dir.resolve("b.sock"), VhostMode.SERVER, 1));
      int podA = VhostTestSupport.startPod(dir.resolve("a.sock").toString(), 256, podPool);
      int podB = VhostTestSupport.startPod(dir.resolve("b.sock").toString(), 1024, podPool);
      router.routeDirect(Ipv4Prefix.parse("10.1.0.0/16"), vhostB, EthDev.macAddress(podB));
      router.startWorker(1, new BusySpinIdleStrategy());
      ports.startMonitor(Duration.ofMillis(100));
      PodPeerRestartTest.awaitState(ports, "pod-a", VhostPortState.RUNNING, Duration.ofSeconds(60));
      PodPeerRestartTest.awaitState(ports, "pod-b", VhostPortState.RUNNING, Duration.ofSeconds(60));

      byte[] frame = VhostTestSupport.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 2), 64, 18);
      MbufArray scratch = new MbufArray(arena, 32);
      BurstQueue podATx = BurstQueue.tx(podA, 0);
      BurstQueue podBRx = BurstQueue.rx(podB, 0);
      long warmUntil = System.nanoTime() + 1_000_000_000L;
      while (System.nanoTime() < warmUntil) {
        VhostTestSupport.send(podPool, podATx, scratch, frame, 8);
        VhostTestSupport.drain(podBRx, scratch);
      }
      // Drain until nothing arrived for 300 ms: warm-up packets still in flight (a preempted
      // worker on a busy machine) must not be counted as received during the churn.
      long quietSince = System.nanoTime();
      while (System.nanoTime() - quietSince < 300_000_000L) {
        if (VhostTestSupport.drain(podBRx, scratch) > 0) {
          quietSince = System.nanoTime();
        }
        Thread.sleep(1);
      }
      long txFullBefore = router.counters().sum(WorkerCounters.dropLabel(0, DropReason.TX_FULL));

      long sent = 0;
      long received = 0;
      AtomicReference<Throwable> failure = new AtomicReference<>();
      long[] churnNanos = new long[1];
      Thread churn =
          new Thread(
              () -> {
                try {
                  long start = System.nanoTime();
                  for (int i = 0; i < 20; i++) {
                    VhostMode mode = i % 2 == 0 ? VhostMode.SERVER : VhostMode.CLIENT;
                    String name = "churn-" + i;
                    int port =
                        ports.add(new VhostPortSpec(name, dir.resolve(name + ".sock"), mode, 1));
                    Ipv4Prefix prefix = Ipv4Prefix.parse("10.77." + i + ".0/24");
                    router.routeDirect(prefix, port, 0x02_00_00_00_77_01L);
                    Thread.sleep(10);
                    router.fib().delete(prefix);
                    ports.remove(name);
                  }
                  churnNanos[0] = System.nanoTime() - start;
                } catch (Throwable t) {
                  failure.set(t);
                }
              },
              "churn");
      churn.start();
      while (churn.isAlive()) {
        sent += VhostTestSupport.send(podPool, podATx, scratch, frame, 8);
        received += VhostTestSupport.drain(podBRx, scratch);
      }
      if (failure.get() != null) {
        throw new AssertionError("port churn failed", failure.get());
      }
      // The worker may be preempted with packets in hand on a busy machine: wait for them (the
      // loop ends as soon as all arrived), and only then call the rest lost.
      long drainUntil = System.nanoTime() + 30_000_000_000L;
      while (received < sent && System.nanoTime() < drainUntil) {
        received += VhostTestSupport.drain(podBRx, scratch);
      }
      long txFull =
          router.counters().sum(WorkerCounters.dropLabel(0, DropReason.TX_FULL)) - txFullBefore;
      System.out.printf(
          Locale.ROOT,
          "vhost churn: 20 vhost-user ports added and removed in %.2f s; pod A sent %d, pod B"
              + " received %d, router tx-full drops %d%n",
          churnNanos[0] / 1e9,
          sent,
          received,
          txFull);
      assertTrue(sent > 1000, "traffic flowed during the churn: " + sent);
      assertEquals(
          sent,
          received,
          "packets between the two pods lost during vhost-user churn (router tx-full drops "
              + txFull
              + ", pod B's port "
              + EthDev.stats(vhostB)
              + ")");
      assertEquals(List.of("pod-a", "pod-b"), ports.names());
      assertEquals(2, router.ports().size());
      try (Stream<Path> left = Files.list(dir)) {
        assertEquals(
            List.of(),
            left.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("churn")).toList(),
            "removed server ports leave no socket behind");
      }
      VhostTestSupport.removePort(podA);
      VhostTestSupport.removePort(podB);
    } finally {
      podPool.free();
    }
  }
}
