package io.flatnet.perf.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.ConfigValidator;
import io.flatnet.agent.config.NodeConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node systems of bench e2e: the config the bench writes is one the agent's own loader and
 * validator accept, and a real node ({@code flatnet run --config}: supervisor, dataplane, agent)
 * forwards flatnet's generator's traffic after both sides resolve each other by ARP, and keeps
 * forwarding while its agent is killed and restarted.
 */
class NodeDutRealTest {

  @Test
  void theNodeConfigPassesTheAgentsOwnChecks(@TempDir Path dir) throws Exception {
    Path config = dir.resolve("node.yaml");
    Files.writeString(
        config,
        NodeDut.config(dir.resolve("p0.sock"), dir.resolve("p1.sock"), RouteSet.standard(), 1),
        StandardCharsets.UTF_8);
    NodeConfig node = ConfigLoader.load(config);
    assertEquals(List.of(), new ConfigValidator(Set.of(0, 1)).validate(node));
    assertEquals(List.of(1), node.workers().cpus());
    assertEquals(2, node.routes().size());
    // The generator asks for the node's address on each link, from the routes' next hop.
    assertEquals(
        List.of(
            "--resolve-gateway",
            "0=192.0.2.2,192.0.2.1",
            "--resolve-gateway",
            "1=198.51.100.2,198.51.100.1"),
        NodeDut.generatorArgs());
  }

  @Test
  void theNodeSharesTheDutsCpuOrKeepsItsWorkerAloneThere(@TempDir Path dir) throws Exception {
    NodeDut node = new NodeDut(dir.resolve("run"), 9479);
    String cp = System.getProperty("java.class.path");
    List<String> shared = node.command(cp, cp, dir.resolve("node.yaml"), dir, 1, -1);
    assertEquals("1", after(shared, "-c"), shared.toString());
    assertTrue(shared.contains("--share-cpus"), shared.toString());
    assertEquals("1", after(shared, "--agent-cpus"), shared.toString());

    List<String> apart = node.command(cp, cp, dir.resolve("node.yaml"), dir, 1, 2);
    assertEquals("1,2", after(apart, "-c"), "the supervisor and its children on both CPUs");
    assertFalse(apart.contains("--share-cpus"), "the dataplane confines its other threads");
    assertEquals("2", after(apart, "--agent-cpus"), apart.toString());
  }

  private static String after(List<String> argv, String option) {
    return argv.get(argv.indexOf(option) + 1);
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void aNodeForwardsAndItsAgentRestartsUnderTraffic() throws Exception {
    assumeTrue(Runtime.getRuntime().availableProcessors() >= 2, "needs 2 CPUs");
    assumeTrue(
        Prerequisites.freeHugepages(Files.readString(Path.of("/proc/meminfo"))) >= 512,
        "needs 512 free hugepages");
    Path root = Path.of("").toAbsolutePath().getParent(); // surefire runs in perf/
    Path scratch = Files.createTempDirectory(Path.of("/tmp"), "flatnet-node-test-");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Commands commands =
        new Commands(
            "dpdk-testpmd",
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
      TrialRunner runner =
          new TrialRunner(processes, commands, scratch, scratch.resolve("logs"), System.out)
              .withNode(
                  E2eCommand.snapshotModule(root, "dataplane-process", scratch.resolve("dp-cp")),
                  E2eCommand.snapshotModule(root, "agent", scratch.resolve("agent-cp")),
                  -1);
      // A low fixed window (0.05..0.1 Mpps): what is tested is the path, not the rate. Two steps:
      // if the generator falls below 0.1 Mpps on a busy CI machine (a failed step), the search
      // goes on at 0.05 instead of ending with no zero-loss rate and so no restart trial.
      SearchResult r =
          runner.runSearch(
              1,
              DutSystem.FLATNET_AGENTRESTART,
              64,
              RouteSet.standard(),
              2,
              0.1,
              new TrialRunner.SearchConfig(
                  1000, 2, 0.5, 0.01, 1.0, new double[] {0.5}, 1000, 1000));
      assertNull(r.error(), "session failed: " + r.error());
      assertTrue(r.warmup().returnedTotal() > 0, "nothing came back through the node");
      assertEquals(0, r.misrouted(), "packets came back on the wrong port");
      for (SearchResult.SearchStep s : r.steps()) {
        assertTrue(s.trial().returnedTotal() > 0);
      }
      Map<String, Double> node = r.node();
      assertEquals(1.0, node.get("agent_restarts"), node.toString());
      // The new agent found what the dataplane held and changed nothing.
      assertEquals(1.0, node.get("agent_restarts_unchanged"), node.toString());
      assertTrue(node.get("agent_restart_seconds") < 60, node.toString());
      assertTrue(node.get("restart_trial_offered") > 0, node.toString());
      // Traffic went on through the restart: far more came back than the 2 s before the kill.
      assertTrue(
          node.get("restart_trial_offered") - node.get("restart_trial_lost")
              > node.get("restart_trial_offered") / 2,
          node.toString());
      assertTrue(node.get("dataplane_cpu_ms_since_ready") > 0, node.toString());
      assertEquals(0, processes.liveCount());
    } finally {
      Processes.deleteTree(scratch);
    }
  }
}
