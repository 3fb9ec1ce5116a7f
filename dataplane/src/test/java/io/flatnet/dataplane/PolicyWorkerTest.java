package io.flatnet.dataplane;

import static io.flatnet.dataplane.PolicyPackets.ACK;
import static io.flatnet.dataplane.PolicyPackets.SYN;
import static io.flatnet.dataplane.PolicyPackets.rule;
import static io.flatnet.dataplane.TestPackets.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.control.PolicySpec;
import io.flatnet.dataplane.policy.PolicyCounters;
import io.flatnet.dataplane.policy.PolicyTable;
import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.Ipv4Prefix;
import java.io.File;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Network policy in the real worker, on net_ring ports and real mbufs. Pod A (10.9.0.7) is routed
 * back out of the "in" port, pod B (10.1.2.3) out of "out"; both are in the policy table, as two
 * pods of this node would be. Every frame is received on "in".
 */
class PolicyWorkerTest {
  private static final int POOL_SIZE = 1023;
  private static final long IN_MAC = 0x02_00_00_00_ee_01L;
  private static final int A = ip(10, 9, 0, 7);
  private static final int B = ip(10, 1, 2, 3);

  @TempDir File dir;

  private Arena arena;
  private PktMbufPool pool;
  private int inPort;
  private int outPort;
  private DataplaneCounters counters;
  private PolicyCounters policyCounters;
  private TestRoutes routes;
  private ForwardingWorker worker;
  private BurstQueue inRing;
  private BurstQueue outRing;

  private record Exchange(List<byte[]> out, List<byte[]> back) {}

  @BeforeEach
  void setUp() {
    DataplaneTestSupport.eal();
    arena = Arena.ofConfined();
    pool = PktMbufPool.create(DataplaneTestSupport.unique("pol"), POOL_SIZE, 0, 2176, -1);
    inPort = DataplaneTestSupport.startPort(DataplaneTestSupport.unique("net_ring_pin"), pool);
    outPort = DataplaneTestSupport.startPort(DataplaneTestSupport.unique("net_ring_pout"), pool);
    counters = DataplaneCounters.create(new File(dir, "counters.dat"));
    policyCounters = new PolicyCounters(counters);
    routes = new TestRoutes(inPort, IN_MAC, outPort, 31);
    routes.fib4.add(
        Ipv4Prefix.parse("10.9.0.7/32"),
        routes.hops.addForward(inPort, TestPackets.SENDER_MAC, IN_MAC));
    worker =
        new ForwardingWorker(
            0,
            -1,
            List.of(BurstQueue.rx(inPort, 0)),
            List.of(BurstQueue.tx(inPort, 0), BurstQueue.tx(outPort, 0)),
            routes.state(),
            routes.domain.register(),
            new WorkerCounters(
                counters, 0, new int[] {inPort, outPort}, new String[] {"in", "out"}),
            new ControlChannel(),
            64);
    inRing = BurstQueue.tx(inPort, 0);
    outRing = BurstQueue.rx(outPort, 0);
  }

  @AfterEach
  void tearDown() {
    DataplaneTestSupport.removePort(inPort);
    DataplaneTestSupport.removePort(outPort);
    assertEquals(POOL_SIZE, pool.available(), "every mbuf, forwarded or denied, went back");
    pool.free();
    counters.close();
    routes.close();
    arena.close();
  }

  private PolicyTable policy(long generation, PolicySpec... specs) {
    PolicyTable table = PolicyTable.compile(generation, List.of(specs), policyCounters);
    worker.setPolicy(table);
    return table;
  }

  private Exchange exchange(byte[]... frames) {
    MbufArray mbufs = new MbufArray(arena, 32);
    send(mbufs, frames);
    worker.doWork();
    Exchange result = new Exchange(drain(outRing, mbufs), drain(BurstQueue.rx(inPort, 0), mbufs));
    worker.doWork(); // idle: the worker publishes its counters
    return result;
  }

  /** Puts {@code frames} on the "in" ring, in mbufs from the pool, for the worker's next loop. */
  private void send(MbufArray mbufs, byte[]... frames) {
    assertTrue(pool.allocBulk(mbufs, frames.length), "pool empty");
    for (int i = 0; i < frames.length; i++) {
      NativeMemory.copy(frames[i], Mbuf.dataAddress(mbufs.get(i)));
      Mbuf.setLength(mbufs.get(i), frames[i].length);
    }
    assertEquals(frames.length, inRing.burst(mbufs, frames.length));
  }

  private static List<byte[]> drain(BurstQueue rx, MbufArray mbufs) {
    List<byte[]> result = new ArrayList<>();
    int received = rx.burst(mbufs, 32);
    for (int i = 0; i < received; i++) {
      result.add(
          NativeMemory.toArray(Mbuf.dataAddress(mbufs.get(i)), Mbuf.dataLength(mbufs.get(i))));
    }
    PktMbufPool.freeBulk(mbufs.address(), received);
    return result;
  }

  private static PolicySpec server(boolean silent) {
    List<PolicySpec.Rule> in = List.of(rule("ns/web", 0, List.of("10.9.0.7/32"), List.of(80)));
    return new PolicySpec("ns/b", List.of("10.1.2.3"), true, silent, in, List.of());
  }

  @Test
  void aDeniedSynIsCountedUnderPolicyDeniedIngressAndForThePod() {
    policy(1, server(false));
    Exchange e = exchange(PolicyPackets.tcp(A, B, 40000, 22, SYN));
    assertEquals(0, e.out().size());
    assertEquals(1, worker.counters().drops(DropReason.POLICY_DENIED_INGRESS));
    assertEquals(0, worker.counters().drops(DropReason.POLICY_DENIED_EGRESS));
    assertEquals(1, counters.sum("pod ns/b policy-denied-ingress"));
    assertEquals(1, counters.sum(WorkerCounters.dropLabel(0, DropReason.POLICY_DENIED_INGRESS)));
  }

  @Test
  void anAllowedFlowAndItsReplyPassEvenThoughTheReplierMayStartNothing() {
    PolicyTable table = policy(1, server(true));
    Exchange syn = exchange(PolicyPackets.tcp(A, B, 40000, 80, SYN));
    assertEquals(1, syn.out().size(), "A -> B:80 forwarded");
    assertEquals(63, syn.out().get(0)[22] & 0xFF, "and routed (TTL - 1)");
    Exchange reply = exchange(PolicyPackets.tcp(B, A, 80, 40000, SYN | ACK));
    assertEquals(1, reply.back().size(), "B's reply routed back to A");
    Exchange fresh = exchange(PolicyPackets.tcp(B, A, 80, 40001, SYN));
    assertEquals(0, fresh.back().size(), "a new connection from B");
    assertEquals(1, worker.counters().drops(DropReason.POLICY_DENIED_EGRESS));
    assertEquals(1, table.flowsAllowed(0), "one flow allowed by ns/web");
    // Packets to the router itself are not policed: A pings its gateway 10.9.0.1.
    policy(2, new PolicySpec("ns/a", List.of("10.9.0.7"), true, true, List.of(), List.of()));
    Exchange ping = exchange(TestPackets.ping(A, TestRoutes.ROUTER_IP, 64, 8));
    assertEquals(1, ping.back().size(), "echo reply from the router");
  }

  @Test
  void aPolicyChangeCutsAFlowItNoLongerAllows() {
    policy(1, server(false));
    assertEquals(1, exchange(PolicyPackets.tcp(A, B, 40000, 80, SYN)).out().size());
    assertEquals(1, exchange(PolicyPackets.tcp(A, B, 40000, 80, ACK)).out().size());
    policy(2, server(false)); // a new generation that still allows it: kept
    assertEquals(1, exchange(PolicyPackets.tcp(A, B, 40000, 80, ACK)).out().size());
    policy(3, new PolicySpec("ns/b", List.of("10.1.2.3"), true, false, List.of(), List.of()));
    assertEquals(0, exchange(PolicyPackets.tcp(A, B, 40000, 80, ACK)).out().size(), "cut");
    assertEquals(0, exchange(PolicyPackets.tcp(B, A, 80, 40000, ACK)).back().size(), "both ways");
    assertEquals(2, worker.counters().drops(DropReason.POLICY_DENIED_INGRESS));
  }

  @Test
  void withoutPoliciesNothingIsChecked() {
    policy(1);
    assertEquals(1, exchange(PolicyPackets.tcp(A, B, 40000, 22, SYN)).out().size());
    assertEquals(0, worker.flowTable().live(System.nanoTime()), "no flow recorded");
  }

  /**
   * The hitless claim, counted exactly: while another thread publishes generation after generation
   * (one other pod edited, B's own rules edited, a compile from scratch), every packet of 32
   * allowed flows and their replies is forwarded, and every packet of a denied flow is denied, with
   * nothing else dropped.
   */
  @Test
  void publishesUnderTrafficLoseNoAllowedPacket() throws Exception {
    List<List<PolicySpec>> variants = publishVariants();
    PolicyTable first = policy(1, variants.get(0).toArray(PolicySpec[]::new));
    int flows = 32;
    for (int f = 0; f < flows; f++) {
      assertEquals(1, exchange(PolicyPackets.tcp(A, B, 40000 + f, 80, SYN)).out().size());
    }
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong publishes = new AtomicLong();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread publisher =
        Thread.ofPlatform()
            .name("policy-publisher")
            .start(
                () -> {
                  PolicyTable previous = first;
                  try {
                    for (long g = 2; !stop.get(); g++) {
                      int v = (int) (g % variants.size());
                      PolicyTable next =
                          PolicyTable.compile(
                              g, variants.get(v), policyCounters, v == 3 ? null : previous);
                      worker.setPolicy(next);
                      policyCounters.retire(previous, next);
                      previous = next;
                      publishes.incrementAndGet();
                      LockSupport.parkNanos(200_000);
                    }
                  } catch (Throwable t) {
                    failure.set(t);
                  }
                });
    // 20 forward, 6 replies and 5 denied SYNs per burst: under 32, so each burst leaves in its
    // loop.
    byte[][] burst = new byte[31][];
    MbufArray mbufs = new MbufArray(arena, 32);
    BurstQueue back = BurstQueue.rx(inPort, 0);
    long forwardSent = 0, replySent = 0, deniedSent = 0, forwarded = 0, returned = 0;
    long deadline = System.nanoTime() + 20_000_000_000L;
    for (int round = 0;
        (publishes.get() < 300 || round < 20_000) && System.nanoTime() < deadline;
        round++) {
      for (int i = 0; i < burst.length; i++) {
        int flow = (round * 31 + i) % flows;
        if (i < 20) {
          burst[i] = PolicyPackets.tcp(A, B, 40000 + flow, 80, ACK);
          forwardSent++;
        } else if (i < 26) {
          burst[i] = PolicyPackets.tcp(B, A, 80, 40000 + flow, ACK);
          replySent++;
        } else {
          burst[i] = PolicyPackets.tcp(A, B, 50000 + flow, 22, SYN);
          deniedSent++;
        }
      }
      send(mbufs, burst);
      worker.doWork();
      forwarded += drain(outRing, mbufs).size();
      returned += drain(back, mbufs).size();
    }
    stop.set(true);
    publisher.join();
    assertNull(failure.get(), "the publisher failed");
    worker.doWork();
    forwarded += drain(outRing, mbufs).size();
    returned += drain(back, mbufs).size();
    assertTrue(publishes.get() >= 300, publishes.get() + " publishes under traffic");
    assertEquals(forwardSent, forwarded, "every allowed packet A -> B:80 forwarded");
    assertEquals(replySent, returned, "every reply B:80 -> A forwarded");
    assertEquals(deniedSent, worker.counters().drops(DropReason.POLICY_DENIED_INGRESS));
    for (DropReason reason : DropReason.values()) {
      if (reason != DropReason.POLICY_DENIED_INGRESS) {
        assertEquals(0, worker.counters().drops(reason), reason.label());
      }
    }
  }

  /** Four tables that all allow A -> B:80 and deny A -> B:22; the 4th is compiled from scratch. */
  private static List<List<PolicySpec>> publishVariants() {
    PolicySpec b = server(false);
    PolicySpec bWider =
        new PolicySpec(
            "ns/b",
            List.of("10.1.2.3"),
            true,
            false,
            List.of(
                rule("ns/web", 0, List.of("10.9.0.7/32"), List.of(80)),
                rule("ns/extra", 0, List.of("10.9.0.0/24"), List.of(81, 8080))),
            List.of());
    PolicySpec c443 = otherPod(443);
    PolicySpec c8443 = otherPod(8443);
    return List.of(List.of(b, c443), List.of(b, c8443), List.of(bWider, c8443), List.of(b, c443));
  }

  private static PolicySpec otherPod(int port) {
    return new PolicySpec(
        "ns/c",
        List.of("10.1.2.4"),
        true,
        false,
        List.of(rule("ns/c-" + port, 0, List.of("10.9.0.0/16"), List.of(port))),
        List.of());
  }
}
