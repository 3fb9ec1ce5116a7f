package io.flatnet.vhost;

import static io.flatnet.vhost.VhostTestSupport.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.flatnet.dataplane.Router;
import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.EthDev;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.Ipv4Prefix;
import java.io.File;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two pods played by dpdk-testpmd in their own processes (B and C, server-mode flatnet ports, C
 * with two queue pairs), fed by a paced generator pod G in this process. Pod B is killed with
 * SIGKILL and started again; the monitor must record exactly one running to peer-gone, traffic to B
 * must resume within 2 s of its new device coming up, and pod C must lose nothing.
 *
 * <p>"Loses nothing", precisely: between a quiet start and a quiet end (generator paused and rings
 * drained both times), every packet G's virtio ring accepted for C was delivered into C's virtio
 * ring (router port C's TX count grew by exactly that many, and its TX errors did not grow), every
 * packet G's ring accepted was received by the router, and testpmd C reports the same packets
 * received (within one burst per queue that its PMD may not have read yet). The generator is paced
 * (some 10 to 15 kpps to each pod) so that C, whose testpmd shares a CPU with B's, with the
 * generator and with whatever else runs on the machine, can keep its 4096-slot rings from
 * overflowing while it is descheduled (about 300 ms of traffic; with 1024 slots, 70 ms, a load
 * average of 4 overran them in one run of five): a flooding generator would overrun C's ring
 * whatever the router did, and the claim would say nothing.
 *
 * <p>Timing: the machine may be busy (two CPUs shared by the router's worker, both testpmds, this
 * JVM and other builds), and the first run on a fresh machine starts everything cold. So the test
 * waits for conditions with generous deadlines (never for a fixed time that must be enough), and
 * sends until enough packets went to C rather than for a fixed time. The only time it asserts is
 * the claim itself, measured from when the new pod B's device was up (the monitor saw it running),
 * not from when its process started, which includes testpmd's own start-up.
 */
class PodPeerRestartTest {
  @TempDir Path dir;

  private static final int DEST_B = ip(10, 2, 0, 1);
  private static final int DEST_C = ip(10, 3, 0, 1);

  /** Deadline for anything that normally takes a second or two (peers starting, noticing). */
  private static final Duration SLOW = Duration.ofSeconds(60);

  /** Packets that must go to C while B is killed and restarted, for the claim to mean something. */
  private static final long ENOUGH_FOR_C = 30_000;

  @Test
  void restartedPeerResumesWithinTwoSecondsAndTheOtherPodLosesNothing() throws Exception {
    VhostTestSupport.eal();
    Path sockets = Files.createDirectory(dir.resolve("sockets"));
    Files.setPosixFilePermissions(sockets, PosixFilePermissions.fromString("rwxr-x---"));
    String group =
        Files.readAllLines(Path.of("/etc/group")).stream()
            .map(line -> line.split(":")[0])
            .filter(name -> name.equals("kvm") || name.equals("daemon"))
            .findFirst()
            .orElse(null);
    VhostPortChecks.Policy policy = VhostPortChecks.Policy.defaults().withSocketGroup(group);
    PktMbufPool podPool =
        PktMbufPool.create(VhostTestSupport.unique("restart-pods"), 8191, 0, 2176, -1);
    File testpmdDir = dir.toFile();
    TestpmdPeer podB = null;
    TestpmdPeer podC = null;
    try (Arena arena = Arena.ofConfined();
        Router router = Router.open(Router.Sizes.defaults(), dir.toFile());
        VhostPorts ports = new VhostPorts(router, dir, policy, VhostPorts.standardLog())) {
      VhostPortSpec specG =
          new VhostPortSpec("pod-g", sockets.resolve("g.sock"), VhostMode.SERVER, 1);
      VhostPortSpec specB =
          new VhostPortSpec("pod-b", sockets.resolve("b.sock"), VhostMode.SERVER, 1);
      VhostPortSpec specC =
          new VhostPortSpec("pod-c", sockets.resolve("c.sock"), VhostMode.SERVER, 2);
      int portG = ports.add(specG);
      int portB = ports.add(specB);
      int portC = ports.add(specC);
      assertEquals(
          "rw-rw----",
          PosixFilePermissions.toString(Files.getPosixFilePermissions(specB.socket())));
      if (group != null) {
        assertEquals(
            group,
            Files.readAttributes(specB.socket(), java.nio.file.attribute.PosixFileAttributes.class)
                .group()
                .getName());
      }
      router.routeDirect(Ipv4Prefix.parse("10.2.0.0/16"), portB, 0x02_00_00_00_00_0bL);
      router.routeDirect(Ipv4Prefix.parse("10.3.0.0/16"), portC, 0x02_00_00_00_00_0cL);
      router.startWorker(1, new BusySpinIdleStrategy());
      ports.startMonitor(Duration.ofMillis(100));

      int podG = VhostTestSupport.startPod(specG.socket().toString(), 1024, podPool);
      podB = startPod("pod-b", specB, 1, testpmdDir);
      podC = startPod("pod-c", specC, 2, testpmdDir);
      awaitState(ports, "pod-g", VhostPortState.RUNNING, SLOW);
      awaitState(ports, "pod-b", VhostPortState.RUNNING, SLOW);
      awaitState(ports, "pod-c", VhostPortState.RUNNING, SLOW);
      VhostPortStatus statusC = find(ports, "pod-c");
      assertEquals(4, statusC.vrings(), "pod C negotiated two queue pairs: " + statusC);
      assertTrue(statusC.memoryRegions() > 0, "pod C's memory is mapped: " + statusC);

      Generator generator = new Generator(arena, podPool, podG);
      // Warm up: both pods receive, the JIT has compiled the path.
      long warmB = EthDev.stats(portB).txPackets();
      long warmC = EthDev.stats(portC).txPackets();
      generator.run(Duration.ofMillis(1500));
      generator.runUntil(
          () -> EthDev.stats(portB).txPackets() > warmB && EthDev.stats(portC).txPackets() > warmC,
          SLOW,
          () ->
              "pods B and C did not both receive during warm-up: B "
                  + EthDev.stats(portB)
                  + ", C "
                  + EthDev.stats(portC));

      // Quiet start.
      generator.quiesce(portG, portB, portC);
      long cBefore = EthDev.stats(portC).txPackets();
      long cErrorsBefore = EthDev.stats(portC).txErrors();
      long gRxBefore = EthDev.stats(portG).rxPackets();
      long bBefore = EthDev.stats(portB).txPackets();
      generator.reset();

      generator.run(Duration.ofMillis(1000));
      long killed = System.nanoTime();
      podB.kill();
      generator.runUntil(
          () -> ports.monitor().state("pod-b") == VhostPortState.WAITING_FOR_PEER,
          SLOW,
          () -> "the monitor did not see killed pod B go: " + find(ports, "pod-b"));
      double noticed = (System.nanoTime() - killed) / 1e9;
      assertEquals(
          1,
          ports.monitor().transitions("pod-b", VhostPortState.RUNNING, VhostPortState.PEER_GONE),
          "pod B's transitions after the kill: " + find(ports, "pod-b").transitionCounts());
      generator.run(Duration.ofMillis(500));

      long bBeforeRestart = EthDev.stats(portB).txPackets();
      podB = startPod("pod-b", specB, 1, testpmdDir);
      TestpmdPeer restartedB = podB;
      long restarted = podB.startedNanos;
      long[] runningAt = {0};
      generator.runUntil(
          () -> {
            if (runningAt[0] == 0 && ports.monitor().state("pod-b") == VhostPortState.RUNNING) {
              runningAt[0] = System.nanoTime();
            }
            return EthDev.stats(portB).txPackets() > bBeforeRestart;
          },
          SLOW,
          () ->
              "no traffic reached the restarted pod B: "
                  + find(ports, "pod-b")
                  + "; its testpmd log:\n"
                  + restartedB.logTail(20));
      long resumed = System.nanoTime();
      double recovery = (resumed - restarted) / 1e9;
      // Traffic may even resume before the monitor's next poll notices the device.
      double afterRunning = runningAt[0] == 0 ? 0 : (resumed - runningAt[0]) / 1e9;
      generator.run(Duration.ofMillis(1000));
      generator.runUntil(
          () -> generator.sentC >= ENOUGH_FOR_C,
          Duration.ofSeconds(120),
          () -> "only " + generator.sentC + " packets went to pod C");

      // Quiet end.
      generator.quiesce(portG, portB, portC);
      long deliveredC = EthDev.stats(portC).txPackets() - cBefore;
      long cErrors = EthDev.stats(portC).txErrors() - cErrorsBefore;
      long routerRxFromG = EthDev.stats(portG).rxPackets() - gRxBefore;
      long routerTxC = EthDev.stats(portC).txPackets();
      long[] testpmdC = awaitTestpmdRx(podC, routerTxC);
      System.out.printf(
          Locale.ROOT,
          "peer restart: pod B killed, monitor saw it gone in %.2f s; new pod B process to"
              + " traffic: %.2f s (%.3f s after its port was running);"
              + " pod C: sent %d, delivered %d, tx errors %d, testpmd C received %d of %d;"
              + " router took %d of %d from G; dropped for dead pod B %d%n",
          noticed,
          recovery,
          afterRunning,
          generator.sentC,
          deliveredC,
          cErrors,
          testpmdC[0],
          routerTxC,
          routerRxFromG,
          generator.sentB + generator.sentC,
          generator.sentB - (EthDev.stats(portB).txPackets() - bBefore));
      assertTrue(
          afterRunning < 2.0,
          "traffic to the restarted pod resumed "
              + afterRunning
              + " s after its port was running ("
              + recovery
              + " s after its process started)");
      assertTrue(generator.sentC >= ENOUGH_FOR_C, "traffic flowed to pod C: " + generator.sentC);
      StringBuilder drops = new StringBuilder("router drops:");
      for (io.flatnet.dataplane.DropReason reason : io.flatnet.dataplane.DropReason.values()) {
        long count =
            router.counters().sum(io.flatnet.dataplane.WorkerCounters.dropLabel(0, reason));
        if (count > 0) {
          drops.append(' ').append(reason.label()).append('=').append(count);
        }
      }
      drops
          .append("; C stats ")
          .append(EthDev.stats(portC))
          .append("; load average ")
          .append(loadAverage());
      // An earlier build lost 0.4-9 % of C's packets (as tx-full) on a heavily loaded machine,
      // cause not found; the current one lost none in six runs (quiet, with 2 and 4 busy loops,
      // in CI), so the claim is asserted. If this fails, the message names the drop reasons.
      assertEquals(
          generator.sentC,
          deliveredC,
          "pod C lost " + (generator.sentC - deliveredC) + " packets; " + drops);
      assertEquals(0, cErrors, "pod C's ring refused packets");
      assertEquals(generator.sentB + generator.sentC, routerRxFromG, "the router missed packets");
      // testpmd's own count is the receiver's side of the same ring. Once in CI (loaded, two
      // CPUs) it stayed exactly one burst short of the ring's used index for 5 s after the
      // router's count; the router-side claims above stay exact, and this one allows at most one
      // burst per queue still unread by testpmd's virtio_user PMD.
      long unreadByTestpmd = routerTxC - testpmdC[0];
      assertTrue(
          unreadByTestpmd >= 0 && unreadByTestpmd <= 32L * 2,
          "testpmd C received "
              + testpmdC[0]
              + " of the "
              + routerTxC
              + " the router put in its ring; log tail:\n"
              + podC.logTail(20));
      assertEquals(VhostPortState.RUNNING, ports.monitor().state("pod-b"));
      assertEquals(
          0,
          ports.monitor().transitions("pod-c", VhostPortState.RUNNING, VhostPortState.PEER_GONE));
      ports.writeStatus();
      String table = ShowPods.render(dir);
      System.out.print(table);
      assertTrue(table.contains("pod-b"), table);
      VhostTestSupport.removePort(podG);
    } finally {
      if (podB != null) {
        podB.close();
      }
      if (podC != null) {
        podC.close();
      }
      podPool.free();
    }
  }

  private static TestpmdPeer startPod(String name, VhostPortSpec spec, int queues, File dir)
      throws java.io.IOException {
    return TestpmdPeer.start(
        name,
        List.of("path=" + spec.socket() + ",queues=" + queues + ",queue_size=4096"),
        "rxonly",
        queues,
        0,
        dir);
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).trim();
    } catch (java.io.IOException e) {
      return "unknown";
    }
  }

  /**
   * Waits until testpmd's printed RX count reaches {@code expected} (it prints every second, when
   * it gets the CPU).
   */
  private static long[] awaitTestpmdRx(TestpmdPeer peer, long expected)
      throws InterruptedException {
    long deadline = System.nanoTime() + 30_000_000_000L;
    long[] rx = peer.rxPackets(1);
    while (rx[0] < expected && System.nanoTime() < deadline) {
      Thread.sleep(200);
      rx = peer.rxPackets(1);
    }
    return rx;
  }

  static VhostPortStatus find(VhostPorts ports, String name) {
    return ports.status().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
  }

  static void awaitState(VhostPorts ports, String name, VhostPortState state, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (ports.monitor().state(name) != state) {
      assertTrue(
          System.nanoTime() < deadline,
          name
              + " did not reach "
              + state.label()
              + " in "
              + timeout.toSeconds()
              + " s: "
              + find(ports, name));
      Thread.sleep(20);
    }
  }

  /**
   * Pod G: sends two packets to B and two to C, then parks for 100 µs (which lasts 140 to 200 µs
   * here), so each pod gets some 10 to 15 kpps; counts what its virtio ring accepted; drains what
   * it receives.
   */
  private static final class Generator {
    private final PktMbufPool pool;
    private final MbufArray scratch;
    private final BurstQueue tx;
    private final BurstQueue rx;
    private final byte[] toB = VhostTestSupport.udp(ip(10, 9, 0, 1), DEST_B, 64, 18);
    private final byte[] toC = VhostTestSupport.udp(ip(10, 9, 0, 1), DEST_C, 64, 18);
    long sentB;
    long sentC;

    Generator(Arena arena, PktMbufPool pool, int podG) {
      this.pool = pool;
      this.scratch = new MbufArray(arena, 32);
      this.tx = BurstQueue.tx(podG, 0);
      this.rx = BurstQueue.rx(podG, 0);
    }

    void reset() {
      sentB = 0;
      sentC = 0;
    }

    void step() {
      sentB += VhostTestSupport.send(pool, tx, scratch, toB, 2);
      sentC += VhostTestSupport.send(pool, tx, scratch, toC, 2);
      VhostTestSupport.drain(rx, scratch);
      LockSupport.parkNanos(100_000);
    }

    void run(Duration duration) {
      long until = System.nanoTime() + duration.toNanos();
      while (System.nanoTime() < until) {
        step();
      }
    }

    /** Sends until {@code done}; fails after {@code timeout}, saying what {@code seen} says. */
    void runUntil(BooleanSupplier done, Duration timeout, Supplier<String> seen) {
      long until = System.nanoTime() + timeout.toNanos();
      while (!done.getAsBoolean()) {
        if (System.nanoTime() > until) {
          fail("timed out after " + timeout.toSeconds() + " s: " + seen.get());
        }
        for (int i = 0; i < 5; i++) {
          step();
        }
      }
    }

    /**
     * Stops sending and waits until the router's counters on every port stay still for 300 ms (a
     * worker preempted on a busy machine may hold packets for a while); fails, with the counters,
     * if they do not within 60 s.
     */
    void quiesce(int... ports) throws InterruptedException {
      long deadline = System.nanoTime() + SLOW.toNanos();
      long last = -1;
      long stillSince = System.nanoTime();
      while (System.nanoTime() - stillSince < 300_000_000L) {
        if (System.nanoTime() > deadline) {
          StringBuilder counters = new StringBuilder();
          for (int port : ports) {
            counters.append(" port ").append(port).append(' ').append(EthDev.stats(port));
          }
          fail("the router's counters did not settle in " + SLOW.toSeconds() + " s:" + counters);
        }
        VhostTestSupport.drain(rx, scratch);
        long sum = 0;
        for (int port : ports) {
          EthDev.Stats stats = EthDev.stats(port);
          sum += stats.rxPackets() + stats.txPackets() + stats.txErrors();
        }
        if (sum != last) {
          last = sum;
          stillSince = System.nanoTime();
        }
        Thread.sleep(10);
      }
    }
  }
}
