package io.flatnet.dataplane;

import static io.flatnet.dataplane.PolicyPackets.ACK;
import static io.flatnet.dataplane.PolicyPackets.SYN;
import static io.flatnet.dataplane.PolicyPackets.rule;
import static io.flatnet.dataplane.TestPackets.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
    assertTrue(pool.allocBulk(mbufs, frames.length), "pool empty");
    for (int i = 0; i < frames.length; i++) {
      NativeMemory.copy(frames[i], Mbuf.dataAddress(mbufs.get(i)));
      Mbuf.setLength(mbufs.get(i), frames[i].length);
    }
    assertEquals(frames.length, inRing.burst(mbufs, frames.length));
    worker.doWork();
    Exchange result = new Exchange(drain(outRing, mbufs), drain(BurstQueue.rx(inPort, 0), mbufs));
    worker.doWork(); // idle: the worker publishes its counters
    return result;
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
}
