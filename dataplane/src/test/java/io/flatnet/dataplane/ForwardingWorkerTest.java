package io.flatnet.dataplane;

import static io.flatnet.dataplane.TestPackets.ip;
import static io.flatnet.dataplane.TestPackets.u16;
import static io.flatnet.dataplane.TestPackets.u32;
import static io.flatnet.dataplane.TestPackets.u64;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.NextHops;
import java.io.File;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sends crafted frames through the real worker on net_ring ports and checks the bytes that come
 * out. A net_ring port's TX ring is its own RX ring: the test transmits into port "in" (the worker
 * receives them), then reads what the worker sent on "out" and what it answered back on "in".
 */
class ForwardingWorkerTest {
  private static final int POOL_SIZE = 1023;
  private static final long IN_MAC = 0x02_00_00_00_ee_01L;

  @TempDir File dir;

  private Arena arena;
  private PktMbufPool pool;
  private int inPort;
  private int outPort;
  private DataplaneCounters counters;
  private TestRoutes routes;
  private ControlChannel control;
  private ForwardingWorker worker;
  private BurstQueue inRing;
  private BurstQueue outRing;

  /** What one worker loop produced. */
  private record Exchange(List<byte[]> out, List<byte[]> back) {}

  @BeforeEach
  void setUp() {
    DataplaneTestSupport.eal();
    arena = Arena.ofConfined();
    pool = PktMbufPool.create(DataplaneTestSupport.unique("fwd"), POOL_SIZE, 0, 2176, -1);
    inPort = DataplaneTestSupport.startPort(DataplaneTestSupport.unique("net_ring_in"), pool);
    outPort = DataplaneTestSupport.startPort(DataplaneTestSupport.unique("net_ring_out"), pool);
    counters = DataplaneCounters.create(new File(dir, "counters.dat"));
    routes = new TestRoutes(inPort, IN_MAC, outPort, 31);
    control = new ControlChannel();
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
            control,
            64);
    inRing = BurstQueue.tx(inPort, 0);
    outRing = BurstQueue.rx(outPort, 0);
  }

  @AfterEach
  void tearDown() {
    DataplaneTestSupport.removePort(inPort);
    DataplaneTestSupport.removePort(outPort);
    assertEquals(
        POOL_SIZE, pool.available(), "every mbuf, forwarded, answered or dropped, went back");
    pool.free();
    counters.close();
    routes.close();
    arena.close();
  }

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
    worker.doWork(); // an idle loop: the worker publishes its detailed counters
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

  private List<byte[]> forward(byte[]... frames) {
    return exchange(frames).out();
  }

  private long drops(DropReason reason) {
    return worker.counters().drops(reason);
  }

  private static void assertIpv4ChecksumValid(byte[] frame) {
    assertEquals(TestPackets.ipChecksum(frame, 14, 20), u16(frame, 24), "IPv4 header checksum");
  }

  @Test
  void forwardedPacketHasNewMacsOneLessTtlValidChecksumAndUntouchedPayload() {
    byte[] sent = TestPackets.udp(ip(10, 9, 0, 7), ip(10, 1, 2, 3), 64, 100);
    List<byte[]> received = forward(sent);
    assertEquals(1, received.size());
    byte[] got = received.get(0);
    assertEquals(sent.length, got.length);
    assertEquals(TestRoutes.NEXT_HOP_MAC, TestPackets.mac(got, 0), "destination MAC = next hop");
    assertEquals(TestRoutes.OUT_PORT_MAC, TestPackets.mac(got, 6), "source MAC = out port");
    assertEquals(63, got[14 + 8] & 0xFF, "TTL minus one");
    assertIpv4ChecksumValid(got);
    assertArrayEquals(
        Arrays.copyOfRange(sent, 26, sent.length),
        Arrays.copyOfRange(got, 26, got.length),
        "addresses, ports and payload leave exactly as they came: no NAT");
    assertEquals(1, worker.counters().rxPackets());
    assertEquals(1, worker.counters().txPackets());
    assertEquals(1, worker.counters().portTx(outPort));
    assertEquals(0, worker.counters().totalDrops());
  }

  @Test
  void incrementalChecksumIsRightForEveryTtl() {
    for (int ttl = 2; ttl <= 255; ttl++) {
      byte[] got =
          forward(TestPackets.udp(ip(192, 168, ttl, 1), ip(10, 1, 0, ttl), ttl, 18)).get(0);
      assertIpv4ChecksumValid(got);
      assertEquals(ttl - 1, got[22] & 0xFF);
    }
  }

  @Test
  void ttlExpiryIsDroppedCountedAndAnsweredWithTimeExceededQuotingTheOriginal() {
    byte[] sent = TestPackets.udp(ip(10, 9, 0, 5), ip(10, 1, 0, 1), 1, 10);
    Exchange result = exchange(sent);
    assertEquals(List.of(), result.out());
    assertEquals(1, drops(DropReason.TTL_EXCEEDED));
    assertEquals(1, result.back().size(), "an ICMP time exceeded goes back to the sender");
    byte[] icmp = result.back().get(0);
    assertEquals(TestPackets.SENDER_MAC, TestPackets.mac(icmp, 0));
    assertEquals(IN_MAC, TestPackets.mac(icmp, 6));
    assertIpv4ChecksumValid(icmp);
    assertEquals(1, icmp[23], "protocol ICMP");
    assertEquals(TestRoutes.ROUTER_IP, u32(icmp, 26), "from the router's address on the port");
    assertEquals(ip(10, 9, 0, 5), u32(icmp, 30), "to the sender");
    assertEquals(11, icmp[34], "type time exceeded");
    assertEquals(0, icmp[35]);
    int icmpLength = u16(icmp, 16) - 20;
    assertEquals(8 + 28, icmpLength, "ICMP header + original IP header + 8 bytes");
    assertEquals(
        ~TestPackets.onesSum(icmp, 34, icmpLength, 2) & 0xFFFF, u16(icmp, 36), "ICMP checksum");
    assertArrayEquals(Arrays.copyOfRange(sent, 14, 14 + 28), Arrays.copyOfRange(icmp, 42, 42 + 28));
  }

  @Test
  void noRouteIsAnsweredWithNetUnreachable() {
    Exchange result = exchange(TestPackets.udp(ip(10, 9, 0, 5), ip(172, 16, 0, 1), 64, 10));
    assertEquals(1, drops(DropReason.NO_ROUTE));
    byte[] icmp = result.back().get(0);
    assertEquals(3, icmp[34], "destination unreachable");
    assertEquals(0, icmp[35], "net unreachable");
  }

  @Test
  void oversizedDontFragmentPacketGetsFragmentationNeededWithTheMtu() {
    routes.ports =
        routes.ports.with(outPort, PortTable.ROLE_UPLINK, TestRoutes.OUT_PORT_MAC, 576, 0, 0, 0);
    worker.setState(routes.state());
    Exchange result = exchange(TestPackets.udp(ip(10, 9, 0, 5), ip(10, 1, 0, 1), 64, 1000));
    assertEquals(List.of(), result.out());
    assertEquals(1, drops(DropReason.MTU_EXCEEDED));
    byte[] icmp = result.back().get(0);
    assertEquals(3, icmp[34]);
    assertEquals(4, icmp[35], "fragmentation needed");
    assertEquals(576, u16(icmp, 40), "next-hop MTU");
  }

  @Test
  void icmpErrorsAreNotSentAboutIcmpErrors() {
    byte[] timeExceeded = {11, 0, (byte) 0xF4, (byte) 0xFF, 0, 0, 0, 0};
    Exchange result =
        exchange(TestPackets.ipv4(ip(10, 9, 0, 5), ip(10, 1, 0, 1), 1, 1, timeExceeded, false));
    assertEquals(1, drops(DropReason.TTL_EXCEEDED));
    assertEquals(List.of(), result.back());
  }

  @Test
  void partialTxBurstsWaitWhileRxBurstsComeInFullAndLeaveWhenTheyDoNot() {
    byte[][] frames = new byte[ForwardingWorker.BURST][];
    for (int i = 0; i < frames.length - 1; i++) {
      frames[i] = TestPackets.udp(ip(10, 9, 0, 5), ip(10, 1, 0, i + 1), 64, 18);
    }
    frames[frames.length - 1] = TestPackets.ping(ip(10, 9, 0, 5), TestRoutes.ROUTER_IP, 64, 56);
    MbufArray mbufs = new MbufArray(arena, 32);
    assertTrue(pool.allocBulk(mbufs, frames.length), "pool empty");
    for (int i = 0; i < frames.length; i++) {
      NativeMemory.copy(frames[i], Mbuf.dataAddress(mbufs.get(i)));
      Mbuf.setLength(mbufs.get(i), frames[i].length);
    }
    assertEquals(frames.length, inRing.burst(mbufs, frames.length));

    worker.doWork(); // a full RX burst: 31 for the out port and 1 echo reply wait to fill up
    assertEquals(0, drain(outRing, mbufs).size(), "a partial TX burst waits under load");
    assertEquals(0, drain(BurstQueue.rx(inPort, 0), mbufs).size());

    worker.doWork(); // nothing came in: what waited leaves now
    assertEquals(frames.length - 1, drain(outRing, mbufs).size());
    assertEquals(1, drain(BurstQueue.rx(inPort, 0), mbufs).size(), "the echo reply");
    assertEquals(frames.length, worker.counters().txPackets());
  }

  @Test
  void echoToTheRouterIsAnswered() {
    byte[] ping = TestPackets.ping(ip(10, 9, 0, 5), TestRoutes.ROUTER_IP, 64, 56);
    Exchange result = exchange(ping);
    assertEquals(1, result.back().size());
    byte[] reply = result.back().get(0);
    assertEquals(TestPackets.SENDER_MAC, TestPackets.mac(reply, 0));
    assertIpv4ChecksumValid(reply);
    assertEquals(TestRoutes.ROUTER_IP, u32(reply, 26));
    assertEquals(ip(10, 9, 0, 5), u32(reply, 30));
    assertEquals(0, reply[34], "echo reply");
    int icmpLength = u16(reply, 16) - 20;
    assertEquals(~TestPackets.onesSum(reply, 34, icmpLength, 2) & 0xFFFF, u16(reply, 36));
    assertArrayEquals(
        Arrays.copyOfRange(ping, 38, ping.length), Arrays.copyOfRange(reply, 38, reply.length));
    assertEquals(1, worker.counters().events(WorkerEvent.ICMP_SENT));
  }

  @Test
  void arpRequestOnAPodPortIsAnsweredForAnyOtherAddressAndTheSenderIsReported() {
    Exchange result = exchange(TestPackets.arpRequest(ip(10, 9, 0, 5), ip(10, 9, 0, 99)));
    assertEquals(1, result.back().size(), "proxy ARP on pod ports");
    byte[] reply = result.back().get(0);
    assertEquals(TestPackets.SENDER_MAC, TestPackets.mac(reply, 0));
    assertEquals(IN_MAC, TestPackets.mac(reply, 6));
    assertEquals(0x0806, u16(reply, 12));
    assertEquals(2, u16(reply, 20), "ARP reply");
    assertEquals(IN_MAC, TestPackets.mac(reply, 22), "sender MAC = the router's port");
    assertEquals(ip(10, 9, 0, 99), u32(reply, 28));
    assertEquals(TestPackets.SENDER_MAC, TestPackets.mac(reply, 32));
    assertEquals(ip(10, 9, 0, 5), u32(reply, 38));
    int[] seen = new int[3];
    control.drain(
        (type, buffer, index, length) -> {
          seen[0] = type;
          seen[1] = buffer.getInt(index + 4);
          seen[2] = (int) buffer.getLong(index + 8);
        },
        10);
    assertEquals(ControlChannel.NEIGHBOR_V4, seen[0]);
    assertEquals(ip(10, 9, 0, 5), seen[1]);
    assertEquals((int) TestPackets.SENDER_MAC, seen[2]);
  }

  @Test
  void duplicateAddressProbesAndGratuitousArpAreNotAnswered() {
    Exchange result =
        exchange(
            TestPackets.arpRequest(0, ip(10, 9, 0, 5)),
            TestPackets.arpRequest(ip(10, 9, 0, 5), ip(10, 9, 0, 5)));
    assertEquals(List.of(), result.back());
    assertEquals(2, worker.counters().events(WorkerEvent.CONSUMED));
  }

  @Test
  void packetsWaitForTheirNeighbourAndLeaveOnceItResolves() {
    byte[] sent = TestPackets.udp(ip(10, 9, 0, 5), ip(10, 3, 1, 1), 64, 10);
    Exchange first = exchange(sent, sent);
    assertEquals(List.of(), first.out(), "held while the neighbour is unresolved");
    int[] resolveRequest = {-1};
    control.drain(
        (type, buffer, index, length) ->
            resolveRequest[0] = type == ControlChannel.RESOLVE ? buffer.getInt(index) : -2,
        10);
    assertEquals(
        routes.neighborHop, resolveRequest[0], "the worker asked the control path to resolve");
    assertEquals(NextHops.KIND_RESOLVE, routes.hops.kind(routes.neighborHop));

    routes.hops.resolve(routes.neighborHop, 0x02_00_00_00_77_77L);
    List<byte[]> released = exchange().out();
    assertEquals(2, released.size());
    assertEquals(0x02_00_00_00_77_77L, TestPackets.mac(released.get(0), 0));
    assertEquals(63, released.get(0)[22] & 0xFF);
    assertIpv4ChecksumValid(released.get(0));
  }

  @Test
  void blackholeRoutesAndNeighboursThatNeverAnswerDropWithTheirOwnReasons() throws Exception {
    exchange(
        TestPackets.udp(ip(10, 9, 0, 5), ip(10, 66, 0, 1), 64, 10),
        TestPackets.udp(ip(10, 9, 0, 5), ip(10, 3, 9, 9), 64, 10));
    assertEquals(1, drops(DropReason.BLACKHOLE));
    Thread.sleep(NeighborWait.TIMEOUT_NANOS / 1_000_000 + 200);
    exchange();
    assertEquals(1, drops(DropReason.NEIGHBOR_UNRESOLVED), "the held packet expired");
  }

  @Test
  void neighbourQueueIsBounded() {
    byte[] sent = TestPackets.udp(ip(10, 9, 0, 5), ip(10, 3, 1, 1), 64, 10);
    byte[][] burst = new byte[NeighborWait.PER_NEXT_HOP + 3][];
    Arrays.fill(burst, sent);
    exchange(burst);
    assertEquals(3, drops(DropReason.NEIGHBOR_QUEUE_FULL));
    routes.hops.resolve(routes.neighborHop, 0x02_00_00_00_77_77L);
    assertEquals(NeighborWait.PER_NEXT_HOP, exchange().out().size());
  }

  @Test
  void malformedIpv4IsDroppedAsBadHeader() {
    byte[] badChecksum = TestPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 1), 64, 10);
    badChecksum[25] ^= 0x55;
    byte[] badVersion = TestPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 1), 64, 10);
    badVersion[14] = 0x65;
    byte[] shortHeaderLength = TestPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 1), 64, 10);
    shortHeaderLength[14] = 0x44;
    byte[] totalLengthPastFrame = TestPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 1), 64, 10);
    totalLengthPastFrame[16] = 0x05;
    byte[] truncated = Arrays.copyOf(TestPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 1), 64, 10), 30);
    assertEquals(
        List.of(),
        forward(badChecksum, badVersion, shortHeaderLength, totalLengthPastFrame, truncated));
    assertEquals(5, drops(DropReason.BAD_IPV4_HEADER));
  }

  @Test
  void everyOtherDropHasItsOwnReason() {
    byte[] unknownType = TestPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 1), 64, 10);
    unknownType[12] = (byte) 0x88;
    unknownType[13] = (byte) 0xCC;
    byte[] runt = new byte[10];
    byte[] badArp = Arrays.copyOf(TestPackets.arpRequest(ip(10, 9, 0, 5), ip(10, 9, 0, 9)), 30);
    byte[] badIpv6 = TestPackets.udp6(TestRoutes.SENDER_IP6, TestRoutes.FORWARDED_IP6, 64, 10);
    badIpv6[14] = 0x40;
    byte[] tcpToRouter =
        TestPackets.ipv4(ip(10, 9, 0, 5), TestRoutes.ROUTER_IP, 64, 6, new byte[20], true);
    List<byte[]> out =
        forward(
            unknownType,
            runt,
            badArp,
            badIpv6,
            tcpToRouter,
            TestPackets.udp(ip(10, 9, 0, 1), ip(10, 2, 0, 1), 64, 10),
            TestPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 1), 64, 10));
    assertEquals(1, out.size(), "only the routable packet leaves");
    assertEquals(2, drops(DropReason.NOT_IP));
    assertEquals(1, drops(DropReason.BAD_NEIGHBOR_PACKET));
    assertEquals(1, drops(DropReason.BAD_IPV6_HEADER));
    assertEquals(1, drops(DropReason.LOCAL_UNHANDLED));
    assertEquals(1, drops(DropReason.PORT_DOWN));
    assertEquals(6, worker.counters().totalDrops());
    assertEquals(
        1,
        counters.sum(WorkerCounters.dropLabel(0, DropReason.PORT_DOWN)),
        "the shared counters file holds the same figures");
  }

  @Test
  void ipv6IsForwardedWithOneLessHopLimitAndNewMacs() {
    byte[] sent = TestPackets.udp6(TestRoutes.SENDER_IP6, TestRoutes.FORWARDED_IP6, 64, 40);
    byte[] got = forward(sent).get(0);
    assertEquals(TestRoutes.NEXT_HOP_MAC, TestPackets.mac(got, 0));
    assertEquals(TestRoutes.OUT_PORT_MAC, TestPackets.mac(got, 6));
    assertEquals(63, got[21] & 0xFF, "hop limit minus one");
    assertArrayEquals(
        Arrays.copyOfRange(sent, 22, sent.length), Arrays.copyOfRange(got, 22, got.length));
  }

  @Test
  void ipv6HopLimitExpiryGetsTimeExceededWithValidChecksum() {
    byte[] sent = TestPackets.udp6(TestRoutes.SENDER_IP6, TestRoutes.FORWARDED_IP6, 1, 40);
    Exchange result = exchange(sent);
    assertEquals(1, drops(DropReason.TTL_EXCEEDED));
    byte[] icmp = result.back().get(0);
    assertEquals(0x86DD, u16(icmp, 12));
    assertEquals(58, icmp[20]);
    assertEquals(TestRoutes.ROUTER_IP6[0], u64(icmp, 22), "from the router's address");
    assertEquals(TestRoutes.SENDER_IP6[1], u64(icmp, 46), "to the sender");
    assertEquals(3, icmp[54], "time exceeded");
    assertEquals(TestPackets.icmp6Checksum(icmp, 58), u16(icmp, 56), "ICMPv6 checksum");
    assertArrayEquals(
        Arrays.copyOfRange(sent, 14, sent.length),
        Arrays.copyOfRange(icmp, 62, icmp.length),
        "quotes the whole packet");
  }

  @Test
  void ipv6TooBigForTheOutPortGetsPacketTooBig() {
    routes.ports =
        routes.ports.with(outPort, PortTable.ROLE_UPLINK, TestRoutes.OUT_PORT_MAC, 1280, 0, 0, 0);
    worker.setState(routes.state());
    Exchange result =
        exchange(TestPackets.udp6(TestRoutes.SENDER_IP6, TestRoutes.FORWARDED_IP6, 64, 1300));
    assertEquals(1, drops(DropReason.MTU_EXCEEDED));
    byte[] icmp = result.back().get(0);
    assertEquals(2, icmp[54], "packet too big");
    assertEquals(1280, u32(icmp, 58), "MTU");
    assertEquals(TestPackets.icmp6Checksum(icmp, 58), u16(icmp, 56));
    assertTrue(icmp.length <= 14 + 1280, "fits the IPv6 minimum MTU");
  }

  @Test
  void ipv6EchoToTheRouterIsAnswered() {
    Exchange result = exchange(TestPackets.ping6(TestRoutes.SENDER_IP6, TestRoutes.ROUTER_IP6, 64));
    byte[] reply = result.back().get(0);
    assertEquals(129, reply[54] & 0xFF);
    assertEquals(TestRoutes.ROUTER_IP6[1], u64(reply, 30));
    assertEquals(TestRoutes.SENDER_IP6[1], u64(reply, 46));
    assertEquals(TestPackets.icmp6Checksum(reply, 58), u16(reply, 56));
  }

  @Test
  void echoToALinkLocalGatewayTheRouterOwnsIsAnswered() {
    long[] podLinkLocal = {0xFE80_0000_0000_0000L, 0x77};
    long[] gateway = {0xFE80_0000_0000_0000L, 1};
    Exchange result = exchange(TestPackets.ping6(podLinkLocal, gateway, 64));
    byte[] reply = result.back().get(0);
    assertEquals(129, reply[54] & 0xFF, "echo reply from fe80::1");
    assertEquals(1, u64(reply, 30));
    assertEquals(TestPackets.icmp6Checksum(reply, 58), u16(reply, 56));
  }

  @Test
  void neighbourSolicitationIsAnsweredWithAnAdvertisementAndLearned() {
    long[] target = {0xFD00_0009_0000_0000L, 0x99};
    Exchange result = exchange(TestPackets.neighborSolicitation(TestRoutes.SENDER_IP6, target));
    assertEquals(1, result.back().size());
    byte[] advert = result.back().get(0);
    assertEquals(TestPackets.SENDER_MAC, TestPackets.mac(advert, 0));
    assertEquals(255, advert[21] & 0xFF, "hop limit 255");
    assertEquals(136, advert[54] & 0xFF, "neighbour advertisement");
    assertEquals(target[1], u64(advert, 70), "target");
    assertEquals(2, advert[78], "target link-layer address option");
    assertEquals(IN_MAC, TestPackets.mac(advert, 80));
    assertEquals(TestPackets.icmp6Checksum(advert, 58), u16(advert, 56));
    int[] type = {0};
    control.drain((t, buffer, index, length) -> type[0] = t, 10);
    assertEquals(ControlChannel.NEIGHBOR_V6, type[0]);
  }
}
