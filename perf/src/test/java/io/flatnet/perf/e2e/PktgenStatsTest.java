package io.flatnet.perf.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class PktgenStatsTest {

  /** What pktgen 23.06.1 printed through script(1) in a trial against testpmd io (shortened). */
  private static final List<String> OUTPUT =
      List.of(
          "Executing '/tmp/pg/g.lua'\r",
          "\u001b[2J\u001b[1;r\u001b[100;1Hflatnet-pktgen ready frame 64 ports 2\r",
          "flatnet-pktgen sec warmup 1 rx0 1186887 rx1 1189478 tx0 1193700 tx1 1193664\r",
          "flatnet-pktgen warmup_latency 0 lat_pkts 900 lat_avg_us 80.500 lat_max_us 61000.250"
              + " tx 1000 rx 900\r",
          "flatnet-pktgen warmup_latency 1 lat_pkts 0 lat_avg_us 0.000 lat_max_us 0.000 tx 1000"
              + " rx 1000\r",
          "flatnet-pktgen sec partial 1 rx0 843981 rx1 845972 tx0 849558 tx1 849581\r",
          "flatnet-pktgen sec measure 1 rx0 2000000 rx1 2000000 tx0 2010000 tx1 2010000\r",
          "flatnet-pktgen sec measure 2 rx0 3000000 rx1 3000000 tx0 3010000 tx1 3010000\r",
          "flatnet-pktgen port 0 tx 4679974 rx 4648575 missed 0 ierrors 0 oerrors 0 nombuf 0"
              + " lat_pkts 300 lat_skipped 2 lat_min_us 40.500 lat_avg_us 100.000 lat_max_us"
              + " 5000.000\r",
          "flatnet-pktgen port 1 tx 4680114 rx 4661239 missed 3 ierrors 1 oerrors 0 nombuf 0"
              + " lat_pkts 100 lat_skipped 5 lat_min_us 45.800 lat_avg_us 200.000 lat_max_us"
              + " 40045.710\r",
          "flatnet-pktgen done\r");

  @Test
  void readsTheScriptsLinesThroughTheTerminal() {
    PktgenStats stats = new PktgenStats();
    assertFalse(stats.accept("** Version: DPDK 22.11.11, Command Line Interface"));
    for (String line : OUTPUT.subList(0, OUTPUT.size() - 1)) {
      stats.accept(line);
    }
    assertTrue(stats.ready());
    assertFalse(stats.done());
    stats.accept(OUTPUT.getLast());
    assertTrue(stats.done());
    PktgenStats.Result r = stats.result().orElseThrow();
    assertEquals(4, r.seconds().size());
    assertEquals(2, r.measuredSeconds());
    assertEquals(5.0, r.measuredRxMpps(), 1e-9); // (4 + 6) / 2
    assertEquals(List.of(0L, 3L), r.ports().stream().map(PktgenStats.Port::missed).toList());
    assertEquals(4, r.missed() + r.errors());
    assertEquals(400, r.latencyPackets());
    assertEquals(7, r.latencySkipped());
    assertEquals(125.0, r.latencyAvgMicros(), 1e-9); // weighted by probes
    assertEquals(40045.71, r.latencyMaxMicros(), 1e-9);
    assertEquals(40.5, r.latencyMinMicros(), 1e-9);
    assertEquals(61000.25, r.warmupLatencyMaxMicros(), 1e-9);
    assertEquals(0.05, r.warmupLossFraction(), 1e-12);
    TestpmdStats.Window w = r.window();
    assertEquals(4679974 + 4680114, w.tx());
    assertEquals(4648575 + 4661239, w.rx());
    assertEquals((w.tx() - w.rx()) / (double) w.tx(), w.lossFraction(), 1e-12);
    assertEquals(2, w.blocks());
    assertEquals(4, w.perSecondMpps().length);
  }

  @Test
  void noResultWithoutBothPortsTotals() {
    PktgenStats stats = new PktgenStats();
    OUTPUT.subList(0, 8).forEach(stats::accept);
    assertTrue(stats.result().isEmpty());
  }

  @Test
  void luaSendsEachPortToTheOtherPortsRoute() {
    List<PktgenScript.Flow> flows = PktgenScript.flows(RouteSet.standard());
    assertEquals("10.253.2.0", RouteSet.dotted(flows.get(0).firstDestination()));
    assertEquals("10.253.3.255", RouteSet.dotted(flows.get(0).lastDestination()));
    assertEquals("10.253.0.0", RouteSet.dotted(flows.get(1).firstDestination()));
    assertEquals(512, flows.get(1).flows());
    assertEquals(RouteSet.standard().lookup(flows.get(0).lastDestination()), 1);
    String lua = PktgenScript.lua(64, RouteSet.standard(), 4, 10, 100, 100);
    assertTrue(
        lua.contains("local WARMUP, MEASURE, FRAME, LAT_US, RATE = 4, 10, 64, 100, 100"), lua);
    assertTrue(lua.contains("first = \"10.253.2.0\", last = \"10.253.3.255\""), lua);
    assertTrue(lua.contains("pktgen.latency(\"all\", \"enable\")"));
    assertTrue(lua.contains("pktgen.clr()"));
    assertTrue(lua.contains("pktgen.quit()"));
    // Lua's format directives survive Java's.
    assertTrue(lua.contains("\"sec %s %d rx0 %d rx1 %d tx0 %d tx1 %d\""), lua);
  }

  @Test
  void pktgenRunsInAPseudoTerminalWithItsLcoresOnTheirCpus() {
    Commands c =
        new Commands(
            "dpdk-testpmd",
            null,
            "java",
            "",
            "",
            1,
            0,
            0,
            null,
            new Commands.Pktgen("/opt/pktgen/pktgen", 100));
    List<String> cmd =
        c.pktgenGenerator(Path.of("/t/p0.sock"), Path.of("/t/p1.sock"), Path.of("/t/pktgen.lua"));
    assertEquals(List.of("script", "-qfec"), cmd.subList(0, 2));
    assertEquals("/dev/null", cmd.getLast());
    String inner = cmd.get(2);
    assertTrue(inner.startsWith("/opt/pktgen/pktgen --in-memory --no-pci --single-file-segments"));
    assertTrue(inner.contains("--lcores=0@1,1@0"), inner);
    assertTrue(inner.contains("--vdev virtio_user0,path=/t/p0.sock,queues=1"), inner);
    // quoted, or the shell would expand the brackets as a glob
    assertTrue(inner.endsWith("-- -P -m '1.[0-1]' -f /t/pktgen.lua"), inner);
    assertEquals("'it'\\''s' a", Commands.shellJoin(List.of("it's", "a")));
  }
}
