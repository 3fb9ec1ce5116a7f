package io.flatnet.perf.gen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.flatnet.perf.e2e.Commands;
import io.flatnet.perf.e2e.DutSystem;
import io.flatnet.perf.e2e.FrameSize;
import io.flatnet.perf.e2e.Processes;
import io.flatnet.perf.e2e.RouteSet;
import io.flatnet.perf.e2e.SearchResult;
import io.flatnet.perf.e2e.TrialRunner;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * flatnet's generator against a real DPDK peer: dpdk-testpmd io-forwarding on two vhost-user ports
 * (the DUT), the generator in its own JVM on two virtio_user ports, driven through a short search
 * session exactly as the bench drives it. About 15 s.
 */
class GeneratorRealTest {

  private static Path testpmd() {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      Path p = Path.of(dir, "dpdk-testpmd");
      if (!dir.isEmpty() && Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  private static long freeHugepages() throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/meminfo"), StandardCharsets.UTF_8)) {
      if (line.startsWith("HugePages_Free:")) {
        return Long.parseLong(line.substring(15).strip());
      }
    }
    return 0;
  }

  @Test
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void searchSessionAgainstTestpmdIoCountsLossAndLatency() throws Exception {
    Path testpmd = testpmd();
    assumeTrue(testpmd != null, "dpdk-testpmd not on PATH");
    assumeTrue(Runtime.getRuntime().availableProcessors() >= 2, "needs 2 CPUs");
    assumeTrue(freeHugepages() >= 512, "needs 512 free hugepages");
    Path scratch = Files.createTempDirectory(Path.of("/tmp"), "flatnet-gen-test-");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Commands commands =
        new Commands(
            testpmd.toString(),
            null,
            java,
            "",
            System.getProperty("java.class.path"),
            1,
            0,
            0,
            null,
            null);
    PrintStream progress = System.out;
    try (Processes processes = new Processes(scratch)) {
      TrialRunner runner =
          new TrialRunner(processes, commands, scratch, scratch.resolve("logs"), progress);
      // Upper bound 2 Mpps, lower 1: the two search trials, then latency at 50% of the result.
      SearchResult r =
          runner.runSearch(
              1,
              DutSystem.TESTPMD_IO,
              64,
              RouteSet.standard(),
              1,
              2.0,
              new TrialRunner.SearchConfig(1000, 2, 0.5, 0.01, 0, new double[] {0.5}, 1000, 5000));
      assertNull(r.error(), "session failed: " + r.error());
      assertNotNull(r.warmup());
      assertTrue(r.warmup().returnedTotal() > 0, "nothing came back in the warm-up");
      // Latency probes went through the DUT and were recorded, whatever the load allowed.
      assertTrue(r.warmup().probesReceived() > 0, "no probe came back");
      assertNotNull(r.warmup().latency());
      assertEquals(r.warmup().probesReceived(), r.warmup().latency().getTotalCount());
      assertTrue(r.steps().size() >= 1 && r.steps().size() <= 2);
      for (SearchResult.SearchStep s : r.steps()) {
        GenTrial t = s.trial();
        assertTrue(t.offeredTotal() > 0);
        assertTrue(t.returnedTotal() > 0);
        // Loss is counted from offered and returned, and the verdict follows it.
        assertEquals(
            (t.offeredTotal() - Math.min(t.offeredTotal(), t.returnedTotal()))
                / (double) t.offeredTotal(),
            t.lossFraction(),
            1e-12);
        assertEquals(s.pass(), t.lossFraction() == 0 && !t.generatorLimited());
        // testpmd io cross-connects: what goes out of port 0 comes back on port 1.
        assertEquals(t.returned()[1], Math.min(t.returned()[1], t.accepted()[0]));
      }
      assertTrue(r.zeroLossMpps() >= 0);
      if (r.zeroLossMpps() > 0) {
        SearchResult.LatencyPoint p = r.at(0.5);
        assertNotNull(p);
        assertTrue(p.trial().probesReceived() > 100, "probes " + p.trial().probesReceived());
        assertNotNull(p.trial().latency());
        long p50 = p.trial().latency().getValueAtPercentile(50);
        assertTrue(p50 > 0 && p50 < 1_000_000_000L, "p50 " + p50 + " ns");
      }
      assertEquals(0, processes.liveCount());
    } finally {
      io.flatnet.perf.e2e.ProcessesAccess.deleteTree(scratch);
    }
  }

  /**
   * The IMIX offered-load trial (flatnet's generator unpaced) through testpmd io: what comes back
   * has the IMIX's mean packet length, 4,246 / 12 - 4 = 349.83 bytes. About 15 s.
   */
  @Test
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void imixOfferedLoadTrialSendsTheMix() throws Exception {
    Path testpmd = testpmd();
    assumeTrue(testpmd != null, "dpdk-testpmd not on PATH");
    assumeTrue(Runtime.getRuntime().availableProcessors() >= 2, "needs 2 CPUs");
    assumeTrue(freeHugepages() >= 512, "needs 512 free hugepages");
    Path scratch = Files.createTempDirectory(Path.of("/tmp"), "flatnet-gen-test-");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Commands commands =
        new Commands(
            testpmd.toString(),
            null,
            java,
            "",
            System.getProperty("java.class.path"),
            1,
            0,
            0,
            null,
            null);
    try (Processes processes = new Processes(scratch)) {
      Path logs = scratch.resolve("logs");
      TrialRunner runner = new TrialRunner(processes, commands, scratch, logs, System.out);
      io.flatnet.perf.e2e.TrialResult t =
          runner.run(1, DutSystem.TESTPMD_IO, FrameSize.IMIX, RouteSet.standard(), 1, 2);
      assertNull(t.error(), "trial failed: " + t.error());
      long returned = t.window().rx();
      assertTrue(returned > 1000, "returned " + returned);
      assertTrue(t.mpps() > 0);
      long bytes = -1;
      try (var files = Files.list(logs)) {
        for (Path log : files.filter(p -> p.toString().endsWith("-gen.log")).toList()) {
          for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
            if (line.startsWith("{\"gen_loop\":\"offered\"")) {
              String v = line.substring(line.indexOf("\"returned_bytes\":") + 17);
              bytes = Long.parseLong(v.substring(0, v.indexOf('}')));
            }
          }
        }
      }
      assertTrue(bytes > 0, "no returned_bytes in the generator's log");
      double mean = bytes / (double) returned;
      assertEquals(FrameSize.meanFrameBytes(FrameSize.IMIX) - 4, mean, 349.83 * 0.03, "mean");
      assertEquals(0, processes.liveCount());
    } finally {
      io.flatnet.perf.e2e.ProcessesAccess.deleteTree(scratch);
    }
  }
}
