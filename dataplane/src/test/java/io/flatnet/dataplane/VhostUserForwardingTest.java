package io.flatnet.dataplane;

import static io.flatnet.dataplane.TestPackets.ip;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.ThreadMXBean;
import io.flatnet.control.CaptureFile;
import io.flatnet.control.CaptureFilter;
import io.flatnet.dataplane.capture.CaptureSpec;
import io.flatnet.dataplane.policy.FlowTable;
import io.flatnet.dataplane.policy.PolicyCounters;
import io.flatnet.dataplane.policy.PolicyTable;
import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.EthDev;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import java.io.File;
import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.List;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real vhost-user path: flatnet's net_vhost ports are servers, and virtio_user ports in the
 * same process play the pods (as testpmd or QEMU would from another process). Packets go pod A
 * (virtio_user) -> vhost A -> worker -> vhost B -> pod B (virtio_user).
 */
class VhostUserForwardingTest {
  @TempDir File dir;

  private Arena arena;
  private PktMbufPool pool;
  private int vhostA;
  private int vhostB;
  private int podA;
  private int podB;
  private DataplaneCounters counters;
  private TestRoutes routes;

  @BeforeEach
  void setUp() throws InterruptedException {
    DataplaneTestSupport.eal();
    arena = Arena.ofShared();
    pool = PktMbufPool.create(DataplaneTestSupport.unique("vhost"), 8191, 256, 2176, -1);
    String socketA = new File(dir, "a.sock").getAbsolutePath();
    String socketB = new File(dir, "b.sock").getAbsolutePath();
    vhostA = DataplaneTestSupport.startPort(vhost(socketA), pool);
    vhostB = DataplaneTestSupport.startPort(vhost(socketB), pool);
    podA = DataplaneTestSupport.startPort(virtio(socketA), pool);
    podB = DataplaneTestSupport.startPort(virtio(socketB), pool);
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!(EthDev.link(vhostA).up() && EthDev.link(vhostB).up())) {
      assertTrue(System.nanoTime() < deadline, "vhost-user links did not come up in 10 s");
      Thread.sleep(10);
    }
    counters = DataplaneCounters.create(new File(dir, "counters.dat"));
  }

  private static String vhost(String socket) {
    return DataplaneTestSupport.unique("net_vhost") + ",iface=" + socket + ",queues=1";
  }

  private static String virtio(String socket) {
    return DataplaneTestSupport.unique("net_virtio_user") + ",path=" + socket + ",queues=1";
  }

  @AfterEach
  void tearDown() {
    for (int port : new int[] {podA, podB, vhostA, vhostB}) {
      DataplaneTestSupport.removePort(port);
    }
    counters.close();
    if (routes != null) {
      routes.close();
    }
    pool.free();
    arena.close();
  }

  private ForwardingWorker newWorker(int cpu) {
    return newWorker(cpu, FlowTable.DEFAULT_CAPACITY);
  }

  private ForwardingWorker newWorker(int cpu, int flowCapacity) {
    routes = new TestRoutes(vhostA, EthDev.macAddress(vhostA), vhostB, 31);
    return new ForwardingWorker(
        0,
        cpu,
        List.of(BurstQueue.rx(vhostA, 0)),
        List.of(BurstQueue.tx(vhostA, 0), BurstQueue.tx(vhostB, 0)),
        routes.state(),
        routes.domain.register(),
        new WorkerCounters(counters, 0, new int[] {vhostA, vhostB}, new String[] {"a", "b"}),
        new ControlChannel(),
        64,
        flowCapacity);
  }

  private void sendFromPodA(byte[] frame, int count, MbufArray scratch) {
    assertTrue(pool.allocBulk(scratch, count), "pool has mbufs");
    for (int i = 0; i < count; i++) {
      NativeMemory.copy(frame, Mbuf.dataAddress(scratch.get(i)));
      Mbuf.setLength(scratch.get(i), frame.length);
    }
    int sent = BurstQueue.tx(podA, 0).burst(scratch, count);
    PktMbufPool.freeBulk(scratch.addressOf(sent), count - sent);
  }

  @Test
  void packetCrossesVhostUserBothWaysWithRoutingRewrites() throws InterruptedException {
    ForwardingWorker worker = newWorker(-1);
    byte[] frame = TestPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 2), 17, 200);
    MbufArray scratch = new MbufArray(arena, 32);
    sendFromPodA(frame, 1, scratch);
    BurstQueue podBRx = BurstQueue.rx(podB, 0);
    int received = 0;
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (received == 0 && System.nanoTime() < deadline) {
      worker.doWork();
      received = podBRx.burst(scratch, 32);
    }
    assertEquals(1, received, "pod B received the routed packet");
    byte[] got =
        NativeMemory.toArray(Mbuf.dataAddress(scratch.get(0)), Mbuf.dataLength(scratch.get(0)));
    PktMbufPool.freeBulk(scratch.address(), received);
    assertEquals(frame.length, got.length);
    assertEquals(TestRoutes.NEXT_HOP_MAC, TestPackets.mac(got, 0));
    assertEquals(16, got[22] & 0xFF, "TTL 17 -> 16");
    assertArrayEquals(
        Arrays.copyOfRange(frame, 26, frame.length), Arrays.copyOfRange(got, 26, got.length));
    assertEquals(1, EthDev.stats(vhostB).txPackets());
  }

  /**
   * The worker thread allocates nothing in steady state: ThreadMXBean's allocated-bytes counter for
   * the worker thread does not move over more than a million forwarded packets after warm-up.
   */
  @Test
  void workerAllocatesNothingInSteadyState() throws InterruptedException {
    ForwardingWorker worker = newWorker(-1);
    AgentRunner runner =
        new AgentRunner(new BusySpinIdleStrategy(), Throwable::printStackTrace, null, worker);
    Thread workerThreadHandle = AgentRunner.startOnThread(runner);
    try {
      ThreadMXBean threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
      long workerThread = workerThreadHandle.threadId();
      byte[] frame = TestPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 2), 64, 18);
      MbufArray scratch = new MbufArray(arena, 32);
      BurstQueue podBRx = BurstQueue.rx(podB, 0);

      pump(frame, scratch, podBRx, 500_000);
      long allocatedBefore = threads.getThreadAllocatedBytes(workerThread);
      long forwardedBefore = worker.counters().txPackets();
      pump(frame, scratch, podBRx, 1_500_000);
      long allocatedAfter = threads.getThreadAllocatedBytes(workerThread);
      long forwarded = forwardedSince(worker, forwardedBefore, 1_000_000);

      // Pod B's count includes what was in flight when the window opened (at most a ring).
      assertTrue(forwarded >= 995_000, "forwarded only " + forwarded + " packets");
      assertEquals(
          0,
          allocatedAfter - allocatedBefore,
          "worker allocated bytes while forwarding " + forwarded + " packets");
    } finally {
      runner.close();
    }
  }

  /**
   * The same with a capture of every packet both ways through a compiled filter (the ring drained
   * by another thread, as ctl does), and then with a live trace of every packet with policy on
   * (each stage recorded, the policy verdict written as text): the worker still allocates nothing.
   */
  @Test
  void workerAllocatesNothingWithCaptureAndLiveTraceOn() throws InterruptedException {
    ForwardingWorker worker = newWorker(-1);
    worker.setPolicy(
        PolicyTable.compile(
            1,
            List.of(
                PolicyPackets.ingressOnly(
                    "ns/b",
                    "10.1.0.2",
                    PolicyPackets.rule(
                        "ns/udp",
                        0,
                        List.of("10.9.0.0/16"),
                        List.of(new io.flatnet.control.PolicySpec.PortRange("UDP", 1, 65535))))),
            new PolicyCounters(counters)));
    CaptureFile.Mapped file = CaptureFile.create(new File(dir, CaptureFile.FILE), 1);
    java.util.concurrent.atomic.AtomicLong records = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.atomic.AtomicBoolean draining =
        new java.util.concurrent.atomic.AtomicBoolean(true);
    Thread drainer =
        Thread.ofPlatform()
            .start(
                () -> {
                  while (draining.get()) {
                    int n = file.ring(0).read((type, buffer, index, length) -> {}, 1024);
                    records.addAndGet(n);
                    if (n == 0) {
                      Thread.onSpinWait();
                    }
                  }
                });
    AgentRunner runner =
        new AgentRunner(new BusySpinIdleStrategy(), Throwable::printStackTrace, null, worker);
    Thread workerThreadHandle = AgentRunner.startOnThread(runner);
    try {
      ThreadMXBean threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
      long workerThread = workerThreadHandle.threadId();
      byte[] frame = TestPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 2), 64, 18);
      MbufArray scratch = new MbufArray(arena, 32);
      BurstQueue podBRx = BurstQueue.rx(podB, 0);
      CaptureSpec[] specs = {
        CaptureSpec.capture(
            1,
            file,
            null,
            true,
            true,
            true,
            128,
            CaptureFilter.parse("udp and net 10.1.0.0/16 and not port 53"),
            0),
        CaptureSpec.trace(2, file, 128, CaptureFilter.parse("udp"), 0)
      };
      for (CaptureSpec spec : specs) {
        worker.setCapture(spec);
        pump(frame, scratch, podBRx, 300_000);
        long allocatedBefore = threads.getThreadAllocatedBytes(workerThread);
        long forwardedBefore = worker.counters().txPackets();
        long recordsBefore = records.get();
        pump(frame, scratch, podBRx, 1_100_000);
        long allocatedAfter = threads.getThreadAllocatedBytes(workerThread);
        long forwarded = forwardedSince(worker, forwardedBefore, 1_000_000);
        // Pod B's count includes what was in flight when the window opened (at most a ring).
        assertTrue(forwarded >= 995_000, "forwarded only " + forwarded + " packets");
        assertTrue(
            records.get() - recordsBefore + file.ringFullTotal() >= forwarded,
            "every packet was recorded (or counted lost)");
        assertEquals(
            0,
            allocatedAfter - allocatedBefore,
            "worker allocated bytes while "
                + (spec.isTrace() ? "tracing " : "capturing ")
                + forwarded
                + " packets");
      }
    } finally {
      runner.close();
      draining.set(false);
      drainer.join();
      file.close();
    }
  }

  /**
   * The same with network policy on: pod B (10.1.0.2) takes UDP 1001 only, from 10.9.0.0/16; the
   * traffic cycles over 512 flows (new flows classified and recorded all the time in a 64-slot
   * table, so older ones are evicted), a quarter of them to port 1002 (denied, and cached).
   */
  @Test
  void workerAllocatesNothingWithPoliciesAndFlowChurn() throws InterruptedException {
    ForwardingWorker worker = newWorker(-1, 64);
    worker.setPolicy(
        PolicyTable.compile(
            1,
            List.of(
                PolicyPackets.ingressOnly(
                    "ns/b",
                    "10.1.0.2",
                    PolicyPackets.rule(
                        "ns/udp",
                        0,
                        List.of("10.9.0.0/16"),
                        List.of(new io.flatnet.control.PolicySpec.PortRange("UDP", 1001, 1001))))),
            new PolicyCounters(counters)));
    byte[][] frames = new byte[512][];
    for (int i = 0; i < frames.length; i++) {
      frames[i] =
          PolicyPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 2), 2000 + i, i % 4 == 3 ? 1002 : 1001);
    }
    AgentRunner runner =
        new AgentRunner(new BusySpinIdleStrategy(), Throwable::printStackTrace, null, worker);
    Thread workerThreadHandle = AgentRunner.startOnThread(runner);
    try {
      ThreadMXBean threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
      long workerThread = workerThreadHandle.threadId();
      MbufArray scratch = new MbufArray(arena, 32);
      BurstQueue podBRx = BurstQueue.rx(podB, 0);

      pump(frames, scratch, podBRx, 300_000);
      long allocatedBefore = threads.getThreadAllocatedBytes(workerThread);
      long forwardedBefore = worker.counters().txPackets();
      pump(frames, scratch, podBRx, 1_000_000);
      long allocatedAfter = threads.getThreadAllocatedBytes(workerThread);
      long forwarded = forwardedSince(worker, forwardedBefore, 1_000_000);

      // Pod B's count includes what was in flight when the window opened (at most a ring).
      assertTrue(forwarded >= 995_000, "forwarded only " + forwarded + " packets");
      assertEquals(
          0,
          allocatedAfter - allocatedBefore,
          "worker allocated bytes while forwarding " + forwarded + " packets with policy");
    } finally {
      runner.close();
    }
    assertTrue(worker.counters().drops(DropReason.POLICY_DENIED_INGRESS) > 100_000, "denied");
    assertTrue(worker.counters().events(WorkerEvent.FLOW_EVICTED) > 1_000, "flows evicted");
    assertTrue(counters.sum("policy ns/udp flows-allowed") > 1_000, "flows allowed counted");
  }

  /**
   * The worker's TX count since {@code before}, once it reaches {@code atLeast} or after 1 s: pod B
   * can receive a burst a moment before the worker adds it to its count.
   */
  private static long forwardedSince(ForwardingWorker worker, long before, long atLeast) {
    long deadline = System.nanoTime() + 1_000_000_000L;
    while (worker.counters().txPackets() - before < atLeast && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    return worker.counters().txPackets() - before;
  }

  private void pump(byte[][] frames, MbufArray scratch, BurstQueue podBRx, long packets) {
    long received = 0;
    int next = 0;
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (received < packets && System.nanoTime() < deadline) {
      assertTrue(pool.allocBulk(scratch, 32), "pool has mbufs");
      for (int i = 0; i < 32; i++) {
        byte[] frame = frames[next];
        next = (next + 1) % frames.length;
        NativeMemory.copy(frame, Mbuf.dataAddress(scratch.get(i)));
        Mbuf.setLength(scratch.get(i), frame.length);
      }
      int sent = BurstQueue.tx(podA, 0).burst(scratch, 32);
      PktMbufPool.freeBulk(scratch.addressOf(sent), 32 - sent);
      int n;
      while ((n = podBRx.burst(scratch, 32)) > 0) {
        received += n;
        PktMbufPool.freeBulk(scratch.address(), n);
      }
    }
    assertTrue(received >= packets, "pod B received only " + received + " of " + packets);
  }

  /** Sends bursts from pod A and drains pod B until {@code packets} have arrived or 60 s pass. */
  private void pump(byte[] frame, MbufArray scratch, BurstQueue podBRx, long packets) {
    long received = 0;
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (received < packets && System.nanoTime() < deadline) {
      sendFromPodA(frame, 32, scratch);
      int n;
      while ((n = podBRx.burst(scratch, 32)) > 0) {
        received += n;
        PktMbufPool.freeBulk(scratch.address(), n);
      }
    }
    assertTrue(received >= packets, "pod B received only " + received + " of " + packets);
  }
}
