package io.flatnet.dpdk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** EAL, mempool, mbuf and ethdev against real DPDK on net_ring and net_null vdevs. */
class EalMempoolEthdevTest {
  private static final AtomicInteger NAMES = new AtomicInteger();

  @BeforeAll
  static void eal() {
    TestEal.ensure();
  }

  private static String unique(String prefix) {
    return prefix + NAMES.incrementAndGet();
  }

  @Test
  void secondInitIsRefusedWithAClearError() {
    DpdkException e = assertThrows(DpdkException.class, () -> Eal.init(List.of("again")));
    assertTrue(e.getMessage().contains("already initialised"), e.getMessage());
  }

  @Test
  void mempoolAllocAndFreeBulkAreAccounted() {
    PktMbufPool pool =
        PktMbufPool.create(unique("t-pool"), 1023, 0, PktMbufPool.DEFAULT_DATA_ROOM, -1);
    try (Arena arena = Arena.ofConfined()) {
      MbufArray mbufs = new MbufArray(arena, 32);
      assertEquals(1023, pool.available());
      assertTrue(pool.allocBulk(mbufs, 32));
      assertEquals(1023 - 32, pool.available());
      for (int i = 0; i < 32; i++) {
        long m = mbufs.get(i);
        assertNotEquals(0, m);
        assertEquals(1, Mbuf.refCount(m));
        assertEquals(1, Mbuf.segmentCount(m));
        assertEquals(0, Mbuf.dataLength(m));
        assertEquals(DpdkLayout.MBUF_HEADROOM, Mbuf.dataOffset(m));
        assertEquals(pool.address(), Mbuf.pool(m));
        assertEquals(0, Mbuf.next(m));
      }
      PktMbufPool.freeBulk(mbufs.address(), 32);
      assertEquals(1023, pool.available());
      assertEquals(0, pool.inUse());
    } finally {
      pool.free();
    }
  }

  @Test
  void emptyPoolAllocatesNothingAndSaysSo() {
    PktMbufPool pool =
        PktMbufPool.create(unique("t-small"), 63, 0, PktMbufPool.DEFAULT_DATA_ROOM, -1);
    try (Arena arena = Arena.ofConfined()) {
      MbufArray mbufs = new MbufArray(arena, 64);
      assertFalse(pool.allocBulk(mbufs, 64), "64 from a pool of 63 must fail whole");
      assertEquals(63, pool.available());
    } finally {
      pool.free();
    }
  }

  @Test
  void badPoolArgumentsGiveTheDpdkErrorText() {
    DpdkException e =
        assertThrows(
            DpdkException.class,
            () -> PktMbufPool.create("", 0, 0, PktMbufPool.DEFAULT_DATA_ROOM, -1));
    assertTrue(e.getMessage().startsWith("rte_pktmbuf_pool_create"), e.getMessage());
    assertNotEquals(0, e.errno());
  }

  @Test
  void ringPortLoopsPacketsBackThroughFastPathBursts() {
    String name = unique("net_ring");
    int port = Devices.probe(name);
    assertEquals(port, EthDev.portIdOf(name));
    PktMbufPool pool =
        PktMbufPool.create(unique("t-ring"), 1023, 32, PktMbufPool.DEFAULT_DATA_ROOM, -1);
    try (Arena arena = Arena.ofConfined()) {
      EthDev.DeviceInfo info = EthDev.info(port);
      assertEquals("net_ring", info.driverName());
      assertTrue(info.maxRxQueues() >= 1);
      EthDev.configure(port, EthDev.PortConfig.of(1, 1));
      EthDev.rxQueueSetup(port, 0, 256, EthDev.socketId(port), pool);
      EthDev.txQueueSetup(port, 0, 256, EthDev.socketId(port));
      EthDev.start(port);
      EthDev.promiscuous(port, true);
      assertTrue(EthDev.link(port).up(), "a started ring port reports link up");

      BurstQueue tx = BurstQueue.tx(port, 0);
      BurstQueue rx = BurstQueue.rx(port, 0);
      MbufArray out = new MbufArray(arena, 32);
      assertTrue(pool.allocBulk(out, 32));
      for (int i = 0; i < 32; i++) {
        long m = out.get(i);
        byte[] frame = new byte[60];
        frame[0] = (byte) i;
        frame[59] = (byte) (0xA0 + i);
        NativeMemory.copy(frame, Mbuf.dataAddress(m));
        Mbuf.setLength(m, frame.length);
      }
      assertEquals(32, tx.burst(out, 32));

      MbufArray in = new MbufArray(arena, 32);
      int received = rx.burst(in, 32);
      assertEquals(32, received);
      for (int i = 0; i < received; i++) {
        long m = in.get(i);
        assertEquals(60, Mbuf.dataLength(m));
        byte[] bytes = NativeMemory.toArray(Mbuf.dataAddress(m), 60);
        assertEquals((byte) i, bytes[0]);
        assertArrayEquals(new byte[] {(byte) (0xA0 + i)}, new byte[] {bytes[59]});
      }
      PktMbufPool.freeBulk(in.address(), received);

      EthDev.Stats stats = EthDev.stats(port);
      assertEquals(32, stats.txPackets());
      assertEquals(32, stats.rxPackets());
      assertTrue(
          EthDev.xstats(port).stream()
              .anyMatch(x -> x.name().equals("rx_good_packets") && x.value() == 32),
          "xstats carry rx_good_packets");
      assertEquals(0, rx.burst(in, 32), "nothing more to receive");
    } finally {
      EthDev.stop(port);
      Devices.remove(port);
      pool.free();
    }
    assertFalse(EthDev.isValidPort(port), "removed port is gone");
  }

  @Test
  void nullPortReceivesGeneratedPacketsAndReportsMac() {
    String name = unique("net_null");
    int port = Devices.probe(name + ",size=64");
    PktMbufPool pool =
        PktMbufPool.create(unique("t-null"), 1023, 32, PktMbufPool.DEFAULT_DATA_ROOM, -1);
    try (Arena arena = Arena.ofConfined()) {
      EthDev.configure(port, EthDev.PortConfig.of(1, 1));
      EthDev.rxQueueSetup(port, 0, 128, -1, pool);
      EthDev.txQueueSetup(port, 0, 128, -1);
      EthDev.start(port);
      long mac = EthDev.macAddress(port);
      assertEquals(mac, mac & 0xFFFF_FFFF_FFFFL);
      MbufArray in = new MbufArray(arena, 32);
      int received = BurstQueue.rx(port, 0).burst(in, 32);
      assertEquals(32, received);
      assertEquals(64, Mbuf.packetLength(in.get(0)));
      assertEquals(32, BurstQueue.tx(port, 0).burst(in, received), "net_null swallows all");
    } finally {
      EthDev.stop(port);
      Devices.remove(port);
      pool.free();
    }
  }

  @Test
  void unknownDeviceAndStoppedPortGiveClearErrors() {
    DpdkException noPort = assertThrows(DpdkException.class, () -> EthDev.portIdOf("no_such_port"));
    assertTrue(noPort.getMessage().contains("no_such_port"), noPort.getMessage());
    DpdkException badProbe = assertThrows(DpdkException.class, () -> Devices.probe("net_bogus0"));
    assertTrue(badProbe.getMessage().contains("net_bogus0"), badProbe.getMessage());
    DpdkException notStarted = assertThrows(DpdkException.class, () -> BurstQueue.rx(31, 0));
    assertTrue(notStarted.getMessage().contains("port 31"), notStarted.getMessage());
  }

  @Test
  void registeredThreadPinsItself() throws Exception {
    Throwable[] failure = new Throwable[1];
    Thread thread =
        new Thread(
            () -> {
              try {
                Lcore.registerCurrentThread();
                Lcore.pinCurrentThread(Runtime.getRuntime().availableProcessors() - 1);
                Lcore.unregisterCurrentThread();
              } catch (Throwable t) {
                failure[0] = t;
              }
            });
    thread.start();
    thread.join();
    if (failure[0] != null) {
      throw new AssertionError(failure[0]);
    }
    assertThrows(IllegalArgumentException.class, () -> Lcore.pinCurrentThread(-1));
  }
}
