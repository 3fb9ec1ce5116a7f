package io.flatnet.perf.gen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.flatnet.perf.e2e.RouteSet;
import java.nio.ByteBuffer;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

class PacketTemplatesTest {

  @Test
  void templateIsAValidUdpFrameToTheFlowgenDestinations() {
    byte[] t = PacketTemplates.template(1023, 64, 0x0A0B0C0D0E0FL, 0x020000000001L);
    ByteBuffer b = ByteBuffer.wrap(t);
    assertEquals(0x0200, b.getShort(0) & 0xffff);
    assertEquals(0x0800, b.getShort(12) & 0xffff);
    assertEquals(46, b.getShort(16) & 0xffff); // IP total length: 60 - 14
    assertEquals(0x0AFD03FF, b.getInt(PacketTemplates.IP_DST)); // 10.253.3.255
    assertEquals(26, b.getShort(PacketTemplates.UDP + 4) & 0xffff);
    // The checksum over the whole header (its own field included) folds to 0xffff.
    int sum = 0;
    for (int i = 0; i < 20; i += 2) {
      sum += (t[14 + i] & 0xff) << 8 | (t[15 + i] & 0xff);
    }
    sum = (sum & 0xffff) + (sum >>> 16);
    assertEquals(0xffff, sum);
    assertEquals(0, b.getInt(PacketTemplates.PROBE_MAGIC)); // plain packets carry no probe
    assertEquals(1514, PacketTemplates.packetLength(1518));
    assertThrows(IllegalArgumentException.class, () -> PacketTemplates.packetLength(60));
  }

  @Test
  void expectedPortsFollowTheRoutes() {
    byte[] standard = GenMain.expectedPorts(RouteSet.standard());
    assertEquals(0, standard[0]);
    assertEquals(0, standard[511]);
    assertEquals(1, standard[512]);
    byte[] check = GenMain.expectedPorts(RouteSet.check());
    int port0 = 0;
    for (byte p : check) {
      port0 += p == 0 ? 1 : 0;
    }
    assertEquals(256, port0); // a quarter, as the routing check expects
    assertEquals(-1, GenMain.expectedPorts(null)[7]);
  }

  @Test
  void trialLineRoundTrips() {
    Histogram h = new Histogram(Generator.HIGHEST_NANOS, 3);
    for (int i = 1; i <= 1000; i++) {
      h.recordValue(i * 1000L);
    }
    GenTrial t =
        new GenTrial(
            "search1",
            2_000_000,
            2.0,
            new long[] {2_000_000, 2_000_000},
            new long[] {1_999_000, 2_000_000},
            new long[] {1_998_000, 2_000_000},
            3,
            0,
            1000,
            1000,
            0,
            h);
    GenTrial back = GenTrial.parse(t.toJson()).orElseThrow();
    assertEquals("search1", back.name());
    assertEquals(4_000_000, back.offeredTotal());
    assertEquals(2000 / 4e6, back.lossFraction(), 1e-12);
    assertEquals(2.0, back.offeredMpps(), 1e-9);
    assertEquals(1000, back.latency().getTotalCount());
    assertEquals(h.getValueAtPercentile(99), back.latency().getValueAtPercentile(99));
    assertEquals(false, back.generatorLimited());
    GenTrial slow =
        new GenTrial(
            "s",
            4_000_000,
            2.0,
            new long[] {3_000_000, 3_000_000},
            new long[2],
            new long[2],
            0,
            0,
            0,
            0,
            0,
            null);
    assertEquals(true, slow.generatorLimited()); // offered 3 Mpps of 4
  }
}
