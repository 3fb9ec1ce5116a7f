package io.flatnet.agent.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class NodeSupervisorTest {
  @Test
  void theAgentRunsOffTheWorkersCpus() {
    assertEquals(
        List.of(0, 1, 3),
        NodeSupervisor.agentCpus(List.of(), Set.of(0, 1, 2, 3), List.of(2), 4, false));
    // No workers named: the dataplane's default worker, the last CPU.
    assertEquals(
        List.of(0, 1, 2),
        NodeSupervisor.agentCpus(List.of(), Set.of(0, 1, 2, 3), List.of(), 4, false));
    // Confined by the caller (taskset, a cpuset): only what is left of that.
    assertEquals(
        List.of(5), NodeSupervisor.agentCpus(List.of(), Set.of(5, 6), List.of(6), 8, false));
  }

  @Test
  void nothingLeftSharedOrExplicit() {
    // Every allowed CPU is a worker's: no pinning (the agent shares, as everything must).
    assertEquals(List.of(), NodeSupervisor.agentCpus(List.of(), Set.of(1), List.of(1), 2, false));
    assertEquals(List.of(), NodeSupervisor.agentCpus(List.of(), Set.of(0, 1), List.of(1), 2, true));
    assertEquals(
        List.of(0, 1), NodeSupervisor.agentCpus(List.of(1, 0, 1), Set.of(1), List.of(1), 2, false));
  }

  @Test
  void itsStartLineSaysWhetherItSharesAWorkersCpu() {
    assertEquals("on CPUs [0], off the workers'", NodeSupervisor.placement(List.of(0), List.of(1)));
    assertEquals("on CPUs [1], with a worker", NodeSupervisor.placement(List.of(1), List.of(1)));
    assertEquals(
        "on this process's CPUs, the workers' too",
        NodeSupervisor.placement(List.of(), List.of(1)));
  }

  @Test
  void readsItsOwnAllowedCpus() {
    Set<Integer> allowed = NodeSupervisor.allowedCpus();
    assertFalse(allowed.isEmpty());
    assertEquals(Runtime.getRuntime().availableProcessors(), allowed.size());
  }
}
