package io.flatnet.dataplane;

import static io.flatnet.dataplane.TestPackets.ip;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.EthDev;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.QsbrDomain;
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
 * Sends crafted frames through the real forwarding loop on net_ring ports and checks the bytes that
 * come out. A net_ring port's TX ring is its own RX ring, so the test transmits into port "in" (the
 * worker receives them) and receives what the worker transmitted on port "out".
 */
class ForwardingWorkerTest {
  private static final int POOL_SIZE = 1023;

  @TempDir File dir;

  private Arena arena;
  private PktMbufPool pool;
  private int inPort;
  private int outPort;
  private DataplaneCounters counters;
  private ForwardingWorker worker;
  private BurstQueue inject;
  private BurstQueue capture;

  @BeforeEach
  void setUp() {
    DataplaneTestSupport.eal();
    arena = Arena.ofConfined();
    pool = PktMbufPool.create(DataplaneTestSupport.unique("fwd"), POOL_SIZE, 0, 2176, -1);
    inPort = DataplaneTestSupport.startPort(DataplaneTestSupport.unique("net_ring_in"), pool);
    outPort = DataplaneTestSupport.startPort(DataplaneTestSupport.unique("net_ring_out"), pool);
    counters = DataplaneCounters.create(new File(dir, "counters.dat"));
    worker =
        new ForwardingWorker(
            0,
            -1,
            List.of(BurstQueue.rx(inPort, 0)),
            List.of(BurstQueue.tx(outPort, 0)),
            TestRoutes.forwardingTo(outPort, 31),
            new QsbrDomain().register(),
            new WorkerCounters(counters, 0));
    inject = BurstQueue.tx(inPort, 0);
    capture = BurstQueue.rx(outPort, 0);
  }

  @AfterEach
  void tearDown() {
    DataplaneTestSupport.removePort(inPort);
    DataplaneTestSupport.removePort(outPort);
    assertEquals(POOL_SIZE, pool.available(), "every mbuf, forwarded or dropped, went back");
    pool.free();
    counters.close();
    arena.close();
  }

  private List<byte[]> forward(byte[]... frames) {
    MbufArray out = new MbufArray(arena, frames.length);
    if (!pool.allocBulk(out, frames.length)) {
      throw new IllegalStateException("pool empty");
    }
    for (int i = 0; i < frames.length; i++) {
      NativeMemory.copy(frames[i], Mbuf.dataAddress(out.get(i)));
      Mbuf.setLength(out.get(i), frames[i].length);
    }
    assertEquals(frames.length, inject.burst(out, frames.length));
    worker.doWork();
    MbufArray in = new MbufArray(arena, 32);
    List<byte[]> result = new ArrayList<>();
    int received = capture.burst(in, 32);
    for (int i = 0; i < received; i++) {
      result.add(NativeMemory.toArray(Mbuf.dataAddress(in.get(i)), Mbuf.dataLength(in.get(i))));
    }
    PktMbufPool.freeBulk(in.address(), received);
    return result;
  }

  private long drops(DropReason reason) {
    return worker.counters().drops(reason);
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
    int checksum = ((got[24] & 0xFF) << 8) | (got[25] & 0xFF);
    assertEquals(TestPackets.ipChecksum(got, 14, 20), checksum, "checksum valid after rewrite");
    assertArrayEquals(
        Arrays.copyOfRange(sent, 26, sent.length),
        Arrays.copyOfRange(got, 26, got.length),
        "addresses, ports and payload leave exactly as they came: no NAT");
    assertEquals(1, worker.counters().rxPackets());
    assertEquals(1, worker.counters().txPackets());
    assertEquals(0, worker.counters().totalDrops());
  }

  @Test
  void incrementalChecksumIsRightForEveryTtl() {
    for (int ttl = 2; ttl <= 255; ttl += 1) {
      byte[] sent = TestPackets.udp(ip(192, 168, ttl, 1), ip(10, 1, 0, ttl), ttl, 18);
      byte[] got = forward(sent).get(0);
      int checksum = ((got[24] & 0xFF) << 8) | (got[25] & 0xFF);
      assertEquals(TestPackets.ipChecksum(got, 14, 20), checksum, "ttl " + ttl);
      assertEquals(ttl - 1, got[22] & 0xFF);
    }
  }

  @Test
  void ttlExpiringPacketsAreDroppedAndCounted() {
    assertEquals(
        List.of(),
        forward(
            TestPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 1), 1, 10),
            TestPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 1), 0, 10)));
    assertEquals(2, drops(DropReason.TTL_EXCEEDED));
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
  void nonIpNoRouteUnresolvedAndUnownedPortEachHaveTheirOwnReason() {
    byte[] arp = TestPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 1), 64, 10);
    arp[12] = 0x08;
    arp[13] = 0x06;
    byte[] runt = new byte[10];
    List<byte[]> out =
        forward(
            arp,
            runt,
            TestPackets.udp(ip(10, 9, 0, 1), ip(172, 16, 0, 1), 64, 10),
            TestPackets.udp(ip(10, 9, 0, 1), ip(10, 3, 0, 1), 64, 10),
            TestPackets.udp(ip(10, 9, 0, 1), ip(10, 2, 0, 1), 64, 10),
            TestPackets.udp(ip(10, 9, 0, 1), ip(10, 1, 0, 1), 64, 10));
    assertEquals(1, out.size(), "only the routable packet leaves");
    assertEquals(2, drops(DropReason.NOT_IP));
    assertEquals(1, drops(DropReason.NO_ROUTE));
    assertEquals(1, drops(DropReason.NEIGHBOR_UNRESOLVED));
    assertEquals(1, drops(DropReason.PORT_DOWN));
    assertEquals(5, worker.counters().totalDrops());
    assertEquals(
        5,
        counters.sum(WorkerCounters.dropLabel(0, DropReason.NOT_IP))
            + counters.sum(WorkerCounters.dropLabel(0, DropReason.NO_ROUTE))
            + counters.sum(WorkerCounters.dropLabel(0, DropReason.NEIGHBOR_UNRESOLVED))
            + counters.sum(WorkerCounters.dropLabel(0, DropReason.PORT_DOWN)),
        "the shared counters file holds the same figures");
  }

  @Test
  void aFullBurstOf32IsForwardedInOrder() {
    byte[][] frames = new byte[32][];
    for (int i = 0; i < 32; i++) {
      frames[i] = TestPackets.udp(ip(10, 9, 0, i), ip(10, 1, 0, i), 64, 20 + i);
    }
    List<byte[]> out = forward(frames);
    assertEquals(32, out.size());
    for (int i = 0; i < 32; i++) {
      assertEquals(frames[i].length, out.get(i).length);
      assertEquals(i, out.get(i).length - 14 - 28 - 20, "packet " + i + " in order");
    }
    assertEquals(32, EthDev.stats(outPort).txPackets());
  }
}
