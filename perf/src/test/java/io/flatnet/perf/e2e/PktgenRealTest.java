package io.flatnet.perf.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A short offered-load trial of flatnet driven by a real Pktgen-DPDK, exactly as {@code bench e2e
 * --generator pktgen} runs one: flatnet on two vhost-user ports, pktgen on two virtio_user ports
 * under script(1) with the bench's Lua script, figures from pktgen's own counters. Runs when a
 * pktgen binary is found ({@code FLATNET_PKTGEN=/path/to/pktgen}, else pktgen on PATH; build it
 * with perf/pktgen/build-pktgen.sh); about 20 s.
 */
class PktgenRealTest {

  private static Path pktgen() {
    String env = System.getenv("FLATNET_PKTGEN");
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    return Prerequisites.onPath("pktgen");
  }

  private static long freeHugepages() throws Exception {
    return Prerequisites.freeHugepages(
        Files.readString(Path.of("/proc/meminfo"), StandardCharsets.UTF_8));
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void flatnetForwardsPktgensTrafficBothWaysAndPktgenCountsItAndItsLatency() throws Exception {
    Path pktgen = pktgen();
    assumeTrue(
        pktgen != null,
        "no Pktgen-DPDK: set FLATNET_PKTGEN=/path/to/pktgen or put pktgen on PATH (build it with"
            + " perf/pktgen/build-pktgen.sh, see docs/benchmarking.md)");
    assumeTrue(Files.isExecutable(pktgen), "FLATNET_PKTGEN=" + pktgen + " is not executable");
    assumeTrue(
        Prerequisites.onPath("script") != null,
        "script(1) (util-linux) not on PATH: pktgen needs a terminal");
    assumeTrue(Runtime.getRuntime().availableProcessors() >= 2, "needs 2 CPUs");
    assumeTrue(freeHugepages() >= 600, "needs 600 free hugepages (pktgen and flatnet)");
    Path scratch = Files.createTempDirectory(Path.of("/tmp"), "flatnet-pktgen-test-");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Commands commands =
        new Commands(
            "dpdk-testpmd",
            null,
            java,
            System.getProperty("java.class.path"),
            "",
            1,
            0,
            4,
            null,
            new Commands.Pktgen(pktgen.toString(), 100));
    try (Processes processes = new Processes(scratch)) {
      TrialRunner runner =
          new TrialRunner(processes, commands, scratch, scratch.resolve("logs"), System.out);
      TrialResult t = runner.run(1, DutSystem.FLATNET, 64, RouteSet.standard(), 2, 3);
      assertTrue(t.ok(), "trial failed: " + t.error());
      PktgenStats.Result p = t.pktgen();
      assertNotNull(p, "no pktgen figures");
      System.out.printf(
          "pktgen against flatnet: %.2f Mpps, loss %.4f%%, latency avg %.1f us max %.1f us"
              + " (warm-up max %.1f us), %d probes%n",
          t.mpps(),
          t.window().lossFraction() * 100,
          p.latencyAvgMicros(),
          p.latencyMaxMicros(),
          p.warmupLatencyMaxMicros(),
          p.latencyPackets());
      assertEquals(3, p.measuredSeconds());
      assertTrue(t.mpps() > 0, "nothing came back");
      // Both directions: each port sent, and received what the other sent through flatnet.
      for (PktgenStats.Port port : p.ports()) {
        assertTrue(port.tx() > 0 && port.rx() > 0, "port " + port);
        assertTrue(port.rx() <= p.ports().get(1 - port.port()).tx(), "more back than sent");
      }
      assertTrue(t.window().lossFraction() < 0.5, "loss " + t.window().lossFraction());
      // The probes went through flatnet and were timed.
      assertTrue(p.latencyPackets() > 0, "no latency probe came back");
      assertTrue(p.latencyAvgMicros() > 0 && p.latencyAvgMicros() < 1e6);
      assertTrue(p.latencyMaxMicros() >= p.latencyAvgMicros());
      // flatnet's own summary: it forwarded on both ports.
      assertNotNull(t.flatnet(), "no summary from flatnet");
      assertEquals(2, t.dutTxByPort().length);
      assertTrue(t.dutTxByPort()[0] > 0 && t.dutTxByPort()[1] > 0);
      assertEquals(0, processes.liveCount());
    } finally {
      ProcessesAccess.deleteTree(scratch);
    }
  }
}
