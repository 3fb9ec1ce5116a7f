package io.flatnet.dataplane;

import static io.flatnet.dataplane.PolicyPackets.SYN;
import static io.flatnet.dataplane.PolicyPackets.rule;
import static io.flatnet.dataplane.TestPackets.ip;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.control.CaptureFile;
import io.flatnet.control.CaptureFilter;
import io.flatnet.control.PolicySpec;
import io.flatnet.dataplane.capture.CaptureSpec;
import io.flatnet.dataplane.policy.PolicyCheck;
import io.flatnet.dataplane.policy.PolicyCounters;
import io.flatnet.dataplane.policy.PolicyTable;
import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.NextHops;
import java.io.File;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Capture and live trace in the real worker, on net_ring ports and real mbufs: what the ring holds
 * for a forwarded packet, for drops (no route, policy), and each path a traced packet can take. Pod
 * A (10.9.0.7) is routed back out of "in", pod B (10.1.2.3) out of "out"; routes as {@link
 * TestRoutes} (10.3/16 via an unresolved neighbour, 10.9.0.1 the router).
 */
class CaptureWorkerTest {
  private static final int POOL_SIZE = 4095;
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
  private CaptureFile.Mapped file;
  private long sessions;

  @BeforeEach
  void setUp() {
    DataplaneTestSupport.eal();
    arena = Arena.ofConfined();
    pool = PktMbufPool.create(DataplaneTestSupport.unique("cap"), POOL_SIZE, 0, 2176, -1);
    inPort = DataplaneTestSupport.startPort(DataplaneTestSupport.unique("net_ring_cin"), pool);
    outPort = DataplaneTestSupport.startPort(DataplaneTestSupport.unique("net_ring_cout"), pool);
    counters = DataplaneCounters.create(new File(dir, "counters.dat"));
    policyCounters = new PolicyCounters(counters);
    file = CaptureFile.create(new File(dir, CaptureFile.FILE), 1);
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
    worker.setCapture(null);
    exchange(); // sends or frees anything still queued
    DataplaneTestSupport.removePort(inPort);
    DataplaneTestSupport.removePort(outPort);
    assertEquals(POOL_SIZE, pool.available(), "every mbuf went back");
    pool.free();
    file.close();
    counters.close();
    routes.close();
    arena.close();
  }

  private record Exchange(List<byte[]> out, List<byte[]> back) {}

  private Exchange exchange(byte[]... frames) {
    MbufArray mbufs = new MbufArray(arena, 32);
    if (frames.length > 0) {
      assertTrue(pool.allocBulk(mbufs, frames.length), "pool empty");
      for (int i = 0; i < frames.length; i++) {
        NativeMemory.copy(frames[i], Mbuf.dataAddress(mbufs.get(i)));
        Mbuf.setLength(mbufs.get(i), frames[i].length);
      }
      assertEquals(frames.length, inRing.burst(mbufs, frames.length));
    }
    worker.doWork();
    Exchange result = new Exchange(drain(outRing, mbufs), drain(BurstQueue.rx(inPort, 0), mbufs));
    worker.doWork();
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

  private List<CaptureFile.Record> records() {
    List<CaptureFile.Record> out = new ArrayList<>();
    file.poll(out, Integer.MAX_VALUE);
    return out;
  }

  private CaptureSpec capture(
      boolean[] ports, boolean rx, boolean tx, boolean drops, String filter, long count) {
    CaptureSpec spec =
        CaptureSpec.capture(
            ++sessions, file, ports, rx, tx, drops, 128, CaptureFilter.parse(filter), count);
    worker.setCapture(spec);
    return spec;
  }

  private CaptureSpec trace(String filter, long count) {
    CaptureSpec spec = CaptureSpec.trace(++sessions, file, 128, CaptureFilter.parse(filter), count);
    worker.setCapture(spec);
    return spec;
  }

  private void policy(PolicySpec... specs) {
    worker.setPolicy(PolicyTable.compile(1, List.of(specs), policyCounters));
  }

  private static PolicySpec server() {
    List<PolicySpec.Rule> in = List.of(rule("ns/web", 0, List.of("10.9.0.7/32"), List.of(80)));
    return new PolicySpec("ns/b", List.of("10.1.2.3"), true, false, in, List.of());
  }

  @Test
  void capturesRxAndTxOfAForwardedPacket() {
    capture(null, true, true, false, "", 0);
    byte[] sent = TestPackets.udp(A, B, 64, 40);
    Exchange e = exchange(sent);
    assertEquals(1, e.out().size());
    List<CaptureFile.Record> got = records();
    assertEquals(2, got.size(), got.toString());
    CaptureFile.Record rx = got.get(0);
    assertEquals(CaptureFile.RX, rx.kind());
    assertEquals(inPort, rx.port());
    assertEquals(sent.length, rx.length());
    assertArrayEquals(sent, rx.data(), "the frame as it arrived");
    CaptureFile.Record tx = got.get(1);
    assertEquals(CaptureFile.TX, tx.kind());
    assertEquals(outPort, tx.port());
    assertArrayEquals(e.out().get(0), tx.data(), "the frame as it left: rewritten");
    assertEquals(63, tx.data()[22] & 0xFF);
    assertEquals(TestRoutes.NEXT_HOP_MAC, TestPackets.mac(tx.data(), 0));
    assertTrue(tx.time() >= rx.time());
    assertEquals(0, file.ringFullTotal());
  }

  @Test
  void dropsAreCapturedWithTheirReasonAsTheyArrived() {
    policy(server());
    capture(null, false, false, true, "", 0);
    byte[] noRoute = TestPackets.udp(A, ip(10, 200, 0, 1), 64, 10);
    byte[] denied = PolicyPackets.tcp(A, B, 40000, 22, SYN);
    byte[] allowed = PolicyPackets.tcp(A, B, 40000, 80, SYN);
    Exchange e = exchange(noRoute, denied, allowed);
    assertEquals(1, e.out().size(), "the allowed SYN");
    assertEquals(1, e.back().size(), "the ICMP unreachable about the unrouted packet");
    List<CaptureFile.Record> got = records();
    assertEquals(2, got.size(), "only the two drops (rx and tx are off): " + got);
    Map<DropReason, byte[]> byReason = new LinkedHashMap<>();
    for (CaptureFile.Record r : got) {
      assertEquals(CaptureFile.DROP, r.kind());
      assertEquals(inPort, r.port());
      byReason.put(DropReason.values()[r.reason()], r.data());
    }
    assertArrayEquals(noRoute, byReason.get(DropReason.NO_ROUTE), "before it became an error");
    assertArrayEquals(denied, byReason.get(DropReason.POLICY_DENIED_INGRESS));
  }

  @Test
  void portsDirectionFilterAndCountSelect() {
    boolean[] onlyOut = new boolean[64];
    onlyOut[outPort] = true;
    CaptureSpec spec = capture(onlyOut, true, true, false, "udp and dst port 53", 2);
    exchange(
        PolicyPackets.udp(A, B, 1000, 53),
        PolicyPackets.udp(A, B, 1000, 54),
        PolicyPackets.tcp(A, B, 1000, 53, SYN),
        PolicyPackets.udp(B, A, 53, 1000)); // back out of "in": not selected
    List<CaptureFile.Record> got = records();
    assertEquals(1, got.size(), got.toString());
    assertEquals(CaptureFile.TX, got.get(0).kind());
    assertEquals(53, TestPackets.u16(got.get(0).data(), 36));
    assertFalse(spec.done());
    exchange(PolicyPackets.udp(A, B, 1001, 53), PolicyPackets.udp(A, B, 1002, 53));
    assertEquals(1, records().size(), "the count (2) is taken");
    assertTrue(spec.done());
  }

  @Test
  void aFullRingDropsRecordsAndCountsThemWithoutStoppingTheWorker() {
    capture(null, true, false, false, "", 0);
    CaptureSpec big =
        CaptureSpec.capture(++sessions, file, null, true, false, false, 2048, CaptureFilter.ANY, 0);
    worker.setCapture(big);
    byte[] frame = TestPackets.udp(A, B, 64, 1400);
    byte[][] burst = new byte[32][];
    Arrays.fill(burst, frame);
    int forwarded = 0;
    for (int i = 0; i < 60; i++) {
      forwarded += exchange(burst).out().size();
    }
    assertEquals(60 * 32, forwarded, "forwarding went on");
    long full = file.ringFullTotal();
    int kept = records().size();
    assertTrue(full > 0, "ring-full counted");
    assertEquals(60 * 32, kept + full, "every packet either recorded or counted as lost");
  }

  /** Stage kinds of each traced packet, by trace id. */
  private Map<Integer, List<CaptureFile.Record>> paths() {
    return records().stream()
        .filter(CaptureFile.Record::isTrace)
        .collect(
            Collectors.groupingBy(
                CaptureFile.Record::traceId, LinkedHashMap::new, Collectors.toList()));
  }

  private static List<Integer> stages(List<CaptureFile.Record> path) {
    return path.stream().map(CaptureFile.Record::kind).toList();
  }

  @Test
  void liveTraceShowsAForwardedPacketsPath() {
    trace("dst host 10.1.2.3", 1);
    Exchange e =
        exchange(TestPackets.udp(A, ip(10, 1, 9, 9), 64, 10), TestPackets.udp(A, B, 64, 10));
    assertEquals(2, e.out().size());
    Map<Integer, List<CaptureFile.Record>> paths = paths();
    assertEquals(1, paths.size(), "one packet matched the filter");
    List<CaptureFile.Record> path = paths.values().iterator().next();
    assertEquals(
        List.of(
            CaptureFile.STAGE_RX,
            CaptureFile.STAGE_PARSED,
            CaptureFile.STAGE_LOOKUP,
            CaptureFile.STAGE_NEIGHBOR,
            CaptureFile.STAGE_REWRITE,
            CaptureFile.STAGE_TX),
        stages(path));
    assertEquals(inPort, path.get(0).port());
    assertEquals(4, path.get(1).a());
    assertEquals(NextHops.KIND_FORWARD, path.get(2).b());
    assertEquals(routes.hops.kind((int) path.get(2).a()), NextHops.KIND_FORWARD);
    assertEquals(outPort, path.get(2).port());
    assertEquals(TestRoutes.NEXT_HOP_MAC, path.get(4).a());
    assertEquals(outPort, path.get(5).port());
    for (int i = 1; i < path.size(); i++) {
      assertTrue(path.get(i).time() >= path.get(i - 1).time(), "stages in time order");
    }
    exchange(TestPackets.udp(A, B, 64, 10));
    assertEquals(0, paths().size(), "count 1: the next one is not marked");
  }

  @Test
  void liveTraceShowsALocalEchoAndAnArpHoldAndADrop() {
    trace("", 0);
    exchange(TestPackets.ping(A, TestRoutes.ROUTER_IP, 64, 8));
    List<CaptureFile.Record> echo = paths().values().iterator().next();
    assertEquals(
        List.of(
            CaptureFile.STAGE_RX,
            CaptureFile.STAGE_PARSED,
            CaptureFile.STAGE_LOOKUP,
            CaptureFile.STAGE_LOCAL,
            CaptureFile.STAGE_TX),
        stages(echo));
    assertEquals(NextHops.KIND_LOCAL, echo.get(2).b());
    assertEquals(inPort, echo.get(4).port(), "the reply goes back where it came from");

    exchange(TestPackets.udp(A, ip(10, 3, 1, 1), 64, 10));
    List<CaptureFile.Record> held = paths().values().iterator().next();
    assertEquals(
        List.of(
            CaptureFile.STAGE_RX,
            CaptureFile.STAGE_PARSED,
            CaptureFile.STAGE_LOOKUP,
            CaptureFile.STAGE_NEIGHBOR),
        stages(held));
    assertEquals(NextHops.KIND_RESOLVE, held.get(2).b());
    assertEquals(0, held.get(3).a(), "held: the neighbour is not resolved");
    routes.hops.resolve(routes.neighborHop, 0x02_00_00_00_77_77L);
    assertEquals(1, exchange().out().size());
    List<CaptureFile.Record> released = paths().values().iterator().next();
    assertEquals(List.of(CaptureFile.STAGE_TX), stages(released), "sent once resolved");
    assertEquals(held.get(0).traceId(), released.get(0).traceId(), "the same packet");

    exchange(TestPackets.udp(A, ip(10, 200, 0, 1), 64, 10));
    List<CaptureFile.Record> dropped = paths().values().iterator().next();
    assertEquals(
        List.of(
            CaptureFile.STAGE_RX,
            CaptureFile.STAGE_PARSED,
            CaptureFile.STAGE_LOOKUP,
            CaptureFile.STAGE_DROP),
        stages(dropped));
    assertEquals(NextHops.KIND_NO_ROUTE, dropped.get(2).b());
    assertEquals(DropReason.NO_ROUTE.ordinal(), dropped.get(3).reason());

    exchange(TestPackets.arpRequest(ip(10, 9, 0, 5), TestRoutes.ROUTER_IP));
    List<CaptureFile.Record> arp = paths().values().iterator().next();
    assertEquals(List.of(CaptureFile.STAGE_RX, CaptureFile.STAGE_TX), stages(arp), "answered");
  }

  @Test
  void ipv6IsFilteredCapturedAndTraced() {
    capture(null, true, false, false, "ip6 and dst net fd00:1::/64 and udp", 0);
    byte[] forwarded = TestPackets.udp6(TestRoutes.SENDER_IP6, TestRoutes.FORWARDED_IP6, 64, 10);
    exchange(
        forwarded,
        TestPackets.ping6(TestRoutes.SENDER_IP6, TestRoutes.ROUTER_IP6, 64),
        TestPackets.udp(A, B, 64, 10));
    List<CaptureFile.Record> got = records();
    assertEquals(1, got.size(), "only the IPv6 UDP packet to fd00:1::/64");
    assertArrayEquals(forwarded, got.get(0).data());

    trace("icmp6", 1);
    Exchange e = exchange(TestPackets.ping6(TestRoutes.SENDER_IP6, TestRoutes.ROUTER_IP6, 64));
    assertEquals(1, e.back().size(), "echo reply");
    List<CaptureFile.Record> path = paths().values().iterator().next();
    assertEquals(
        List.of(
            CaptureFile.STAGE_RX,
            CaptureFile.STAGE_PARSED,
            CaptureFile.STAGE_LOOKUP,
            CaptureFile.STAGE_LOCAL,
            CaptureFile.STAGE_TX),
        stages(path));
    assertEquals(6, path.get(1).a());
  }

  @Test
  void liveTraceNamesThePolicyRule() {
    policy(server());
    trace("tcp", 0);
    exchange(PolicyPackets.tcp(A, B, 40000, 80, SYN), PolicyPackets.tcp(A, B, 40001, 22, SYN));
    List<List<CaptureFile.Record>> paths = new ArrayList<>(paths().values());
    assertEquals(2, paths.size());
    CaptureFile.Record allowed = paths.get(0).get(3);
    assertEquals(CaptureFile.STAGE_POLICY, allowed.kind());
    assertEquals(0, allowed.a(), "pass");
    assertTrue(allowed.text().contains("allowed by ns/web rule 0"), allowed.text());
    assertEquals(CaptureFile.STAGE_TX, paths.get(0).get(paths.get(0).size() - 1).kind());
    List<CaptureFile.Record> denied = paths.get(1);
    assertEquals(CaptureFile.STAGE_POLICY, denied.get(3).kind());
    assertEquals(PolicyCheck.DENY_INGRESS, denied.get(3).a());
    assertTrue(denied.get(3).text().contains("ns/b: denied"), denied.get(3).text());
    CaptureFile.Record last = denied.get(denied.size() - 1);
    assertEquals(CaptureFile.STAGE_DROP, last.kind());
    assertEquals(DropReason.POLICY_DENIED_INGRESS.ordinal(), last.reason());
    // The flow's next packet is answered from the flow table.
    exchange(PolicyPackets.tcp(A, B, 40000, 80, PolicyPackets.ACK));
    CaptureFile.Record cached = paths().values().iterator().next().get(3);
    assertTrue(cached.text().startsWith("flow table"), cached.text());
  }

  /**
   * The cost of capture in the worker's own loop: bursts of 32 forwarded packets over 100 UDP flows
   * with capture off, and with 1 %, 10 % and 100 % of the packets captured both ways (a filter on
   * the source port; the ring drained between rounds); the median of alternating rounds, in ns per
   * packet. It prints the figures (see the surefire output) and checks only that forwarding goes
   * on.
   */
  @Test
  void captureCostInTheWorkerLoop() {
    byte[][] frames = new byte[100][];
    for (int i = 0; i < frames.length; i++) {
      frames[i] = PolicyPackets.udp(A, B, 1000 + i, 2000);
    }
    MbufArray mbufs = new MbufArray(arena, 32);
    String[] filters = {null, "udp and src port 1000", "udp and src port 1000-1009", ""};
    double[][] perPacket = new double[filters.length][7];
    for (int round = 0; round < 7; round++) {
      for (int f = 0; f < filters.length; f++) {
        if (filters[f] == null) {
          worker.setCapture(null);
        } else {
          capture(null, true, true, false, filters[f], 0);
        }
        perPacket[f][round] = loop(frames, mbufs, 10_000);
        records();
      }
    }
    StringBuilder line = new StringBuilder("capture cost (ns/packet, median of 7):");
    String[] names = {"off", "1%", "10%", "100%"};
    double[][] added = new double[filters.length][7]; // on minus off, in the same round
    for (int f = 0; f < filters.length; f++) {
      for (int round = 0; round < 7; round++) {
        added[f][round] = perPacket[f][round] - perPacket[0][round];
      }
    }
    for (int f = 0; f < filters.length; f++) {
      Arrays.sort(perPacket[f]);
      Arrays.sort(added[f]);
      line.append(String.format(" %s %.1f", names[f], perPacket[f][3]));
    }
    line.append("; added to off in the same round (median):");
    for (int f = 1; f < filters.length; f++) {
      line.append(String.format(" %s +%.1f", names[f], added[f][3]));
    }
    System.out.println(line);
    worker.setCapture(null);
  }

  private double loop(byte[][] frames, MbufArray mbufs, int bursts) {
    long total = 0;
    int next = 0;
    for (int b = 0; b < bursts; b++) {
      assertTrue(pool.allocBulk(mbufs, 32));
      for (int i = 0; i < 32; i++) {
        byte[] frame = frames[next];
        next = (next + 1) % frames.length;
        NativeMemory.copy(frame, Mbuf.dataAddress(mbufs.get(i)));
        Mbuf.setLength(mbufs.get(i), frame.length);
      }
      inRing.burst(mbufs, 32);
      long t0 = System.nanoTime();
      worker.doWork();
      total += System.nanoTime() - t0;
      int n = outRing.burst(mbufs, 32);
      assertEquals(32, n, "forwarded");
      PktMbufPool.freeBulk(mbufs.address(), n);
      if (b % 100 == 0) {
        records();
      }
    }
    return (double) total / (bursts * 32L);
  }
}
