package io.flatnet.dataplane;

import static io.flatnet.dataplane.TestPackets.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.ThreadMXBean;
import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.FlowHash;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Prefix;
import java.io.File;
import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.util.List;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ECMP through the real worker on net_ring ports: a group over two neighbours on ports A and B.
 * Flows spread over both, each flow stays on one port, the port is the one the flow hash picks (the
 * code {@code ctl trace} runs), a member removed in place while the worker runs loses nothing, and
 * the worker still allocates nothing.
 */
class EcmpWorkerTest {
  private static final int POOL_SIZE = 2047;
  private static final long MAC_A = 0x02_00_00_00_aa_01L;
  private static final long MAC_B = 0x02_00_00_00_bb_01L;
  private static final int FLOWS = 256;

  @TempDir File dir;

  private Arena arena;
  private PktMbufPool pool;
  private int in;
  private int portA;
  private int portB;
  private DataplaneCounters counters;
  private TestRoutes routes;
  private ForwardingWorker worker;
  private int memberA;
  private int memberB;
  private int group;

  @BeforeEach
  void setUp() {
    DataplaneTestSupport.eal();
    arena = Arena.ofConfined();
    pool = PktMbufPool.create(DataplaneTestSupport.unique("ecmp"), POOL_SIZE, 0, 2176, -1);
    in = DataplaneTestSupport.startPort(DataplaneTestSupport.unique("net_ring_ecmp_in"), pool);
    portA = DataplaneTestSupport.startPort(DataplaneTestSupport.unique("net_ring_ecmp_a"), pool);
    portB = DataplaneTestSupport.startPort(DataplaneTestSupport.unique("net_ring_ecmp_b"), pool);
    counters = DataplaneCounters.create(new File(dir, "counters.dat"));
    routes = new TestRoutes(in, 0x02_00_00_00_ee_01L, portA, 31);
    routes.ports = routes.ports.with(portB, PortTable.ROLE_UPLINK, MAC_B + 1, 1500, 0, 0, 0);
    memberA = routes.hops.addForward(portA, MAC_A, TestRoutes.OUT_PORT_MAC);
    memberB = routes.hops.addForward(portB, MAC_B, MAC_B + 1);
    group = routes.hops.addGroup(new int[] {memberA, memberB}, new int[] {1, 1});
    routes.fib4.add(Ipv4Prefix.parse("10.50.0.0/16"), group);
    routes.hops.retain(group);
    routes.fib6.add(Ipv6Prefix.parse("fd00:50::/64"), group);
    worker =
        new ForwardingWorker(
            0,
            -1,
            List.of(BurstQueue.rx(in, 0)),
            List.of(BurstQueue.tx(in, 0), BurstQueue.tx(portA, 0), BurstQueue.tx(portB, 0)),
            routes.state(),
            routes.domain.register(),
            new WorkerCounters(
                counters, 0, new int[] {in, portA, portB}, new String[] {"in", "a", "b"}),
            new ControlChannel(),
            64);
  }

  @AfterEach
  void tearDown() {
    DataplaneTestSupport.removePort(in);
    DataplaneTestSupport.removePort(portA);
    DataplaneTestSupport.removePort(portB);
    assertEquals(POOL_SIZE, pool.available(), "every mbuf went back");
    pool.free();
    counters.close();
    routes.close();
    arena.close();
  }

  /** Flow {@code f}: UDP from 10.9.(f/256).(f%256+1) port 1000+f to 10.50.0.7 port 4789. */
  private static byte[] flow(int f) {
    byte[] frame = TestPackets.udp(ip(10, 9, f >>> 8, (f & 0xFF) + 1), ip(10, 50, 0, 7), 64, 18);
    int sport = 1000 + f;
    frame[34] = (byte) (sport >>> 8);
    frame[35] = (byte) sport;
    frame[36] = (byte) (4789 >>> 8);
    frame[37] = (byte) 4789;
    frame[40] = frame[41] = 0; // no UDP checksum
    return frame;
  }

  /** The port the flow hash picks for flow {@code f}, as ctl trace computes it. */
  private int expectedPort(int f) {
    int hash =
        FlowHash.ipv4(
            ip(10, 9, f >>> 8, (f & 0xFF) + 1),
            ip(10, 50, 0, 7),
            17,
            FlowHash.ports(17, 1000 + f, 4789));
    int member = routes.hops.groupMember(routes.hops.entry(group), hash);
    return routes.hops.port(member);
  }

  /** Sends flows [first, first + n) once each; returns nothing, the worker thread forwards. */
  private void send(MbufArray mbufs, int first, int n) {
    assertTrue(pool.allocBulk(mbufs, n), "pool empty");
    for (int i = 0; i < n; i++) {
      byte[] frame = flow((first + i) % FLOWS);
      NativeMemory.copy(frame, Mbuf.dataAddress(mbufs.get(i)));
      Mbuf.setLength(mbufs.get(i), frame.length);
    }
    int sent = BurstQueue.tx(in, 0).burst(mbufs, n);
    PktMbufPool.freeBulk(mbufs.address() + 8L * sent, n - sent);
    assertEquals(n, sent, "the in ring is full");
  }

  /** Reads what left on A and B; records the port of each flow (by its source port). */
  private int drain(MbufArray mbufs, int[] seenOn, int[] perPort) {
    int got = 0;
    for (int port : new int[] {portA, portB}) {
      int n = BurstQueue.rx(port, 0).burst(mbufs, 32);
      for (int i = 0; i < n; i++) {
        long frame = Mbuf.dataAddress(mbufs.get(i));
        int f = NativeMemory.getU16Be(frame + 34) - 1000;
        if (seenOn[f] == -1) {
          seenOn[f] = port;
        }
        assertEquals(seenOn[f], port, "flow " + f + " left on two ports");
        perPort[port == portA ? 0 : 1]++;
      }
      PktMbufPool.freeBulk(mbufs.address(), n);
      got += n;
    }
    return got;
  }

  @Test
  void flowsSpreadEachStaysOnOnePortAndRemovalInPlaceLosesNothing() {
    MbufArray mbufs = new MbufArray(arena, 32);
    AgentRunner runner =
        new AgentRunner(new BusySpinIdleStrategy(), Throwable::printStackTrace, null, worker);
    AgentRunner.startOnThread(runner);
    try {
      int[] seenOn = new int[FLOWS];
      java.util.Arrays.fill(seenOn, -1);
      int[] perPort = new int[2];
      long sent = 0;
      long received = 0;
      // every flow 8 times, a burst of 32 at a time
      for (int round = 0; round < FLOWS * 8 / 32; round++) {
        send(mbufs, round * 32, 32);
        sent += 32;
        received += waitFor(mbufs, seenOn, perPort, sent - received);
      }
      assertEquals(sent, received);
      for (int f = 0; f < FLOWS; f++) {
        assertEquals(expectedPort(f), seenOn[f], "flow " + f + ": the port ctl trace predicts");
      }
      assertTrue(
          perPort[0] > sent / 4 && perPort[1] > sent / 4,
          "both ports used: " + perPort[0] + "/" + perPort[1]);

      // B replaced in place by C (another neighbour, on port A) while the worker runs: A's flows
      // stay, B's move to C, nothing is lost
      int[] onA = seenOn.clone();
      int memberC = routes.hops.addForward(portA, MAC_A + 7, TestRoutes.OUT_PORT_MAC);
      routes.hops.retain(memberA); // the group takes over the caller's references
      // a burst in flight, then the change: the ring holds packets the worker has not seen yet
      send(mbufs, 0, 32);
      sent += 32;
      int moved = routes.hops.updateGroup(group, new int[] {memberA, memberC}, new int[] {1, 1});
      assertEquals(32, moved, "B's half of the 64 buckets, and only those");
      // The burst in flight met the old group or the new one (either is right): it is counted,
      // but its ports are not the new group's.
      int[] inFlight = new int[FLOWS];
      java.util.Arrays.fill(inFlight, -1);
      received += waitFor(mbufs, inFlight, perPort, sent - received);
      for (int f = 0; f < 32; f++) {
        if (onA[f] == portA) {
          assertEquals(portA, inFlight[f], "flow " + f + " was on A and must stay there");
        }
      }
      java.util.Arrays.fill(seenOn, -1);
      for (int round = 1; round < FLOWS * 8 / 32; round++) {
        send(mbufs, round * 32, 32);
        sent += 32;
        received += waitFor(mbufs, seenOn, perPort, sent - received);
      }
      received += waitFor(mbufs, seenOn, perPort, sent - received);
      assertEquals(sent, received, "no packet lost across the in-place change");
      for (int f = 0; f < FLOWS; f++) {
        if (onA[f] == portA) {
          assertEquals(portA, seenOn[f], "flow " + f + " was on A and must stay there");
        }
      }
      assertEquals(0, worker.counters().totalDrops());
    } finally {
      runner.close();
    }
  }

  private int waitFor(MbufArray mbufs, int[] seenOn, int[] perPort, long outstanding) {
    long deadline = System.nanoTime() + 5_000_000_000L;
    int got = 0;
    while (got < outstanding && System.nanoTime() < deadline) {
      got += drain(mbufs, seenOn, perPort);
    }
    return got;
  }

  /** With a group route the worker allocates nothing either (the ECMP pick, IPv4, many flows). */
  @Test
  void workerAllocatesNothingWithEcmp() {
    MbufArray mbufs = new MbufArray(arena, 32);
    AgentRunner runner =
        new AgentRunner(new BusySpinIdleStrategy(), Throwable::printStackTrace, null, worker);
    Thread thread = AgentRunner.startOnThread(runner);
    try {
      ThreadMXBean threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
      int[] seenOn = new int[FLOWS];
      int[] perPort = new int[2];
      pump(mbufs, seenOn, perPort, 1_000_000); // past C2 and its first deoptimization
      long before = threads.getThreadAllocatedBytes(thread.threadId());
      pump(mbufs, seenOn, perPort, 300_000);
      long after = threads.getThreadAllocatedBytes(thread.threadId());
      assertEquals(0, after - before, "worker allocated bytes while forwarding over a group");
      assertTrue(perPort[0] > 0 && perPort[1] > 0, "both paths used");
    } finally {
      runner.close();
    }
  }

  private void pump(MbufArray mbufs, int[] seenOn, int[] perPort, int packets) {
    long sent = 0;
    long received = 0;
    java.util.Arrays.fill(seenOn, -1);
    while (sent < packets) {
      send(mbufs, (int) (sent % FLOWS), 32);
      sent += 32;
      received += waitFor(mbufs, seenOn, perPort, sent - received);
    }
    assertEquals(sent, received);
  }
}
