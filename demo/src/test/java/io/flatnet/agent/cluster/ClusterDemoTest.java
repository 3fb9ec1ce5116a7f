package io.flatnet.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The mission's acceptance test: three flatnet nodes, each a router process with its agent, form
 * one flat pod network over a shared fabric; every pod reaches every other (IPv4 and IPv6, TTL one
 * lower per router), the receiver sees the sender's own address, hosts reach their pods, pods reach
 * remote node IPs, TCP flows, and churn and a router restart lose nothing on unaffected flows. The
 * demo checks all of it itself and exits non-zero on any failure.
 */
class ClusterDemoTest {

  @Test
  void threeNodesFormOneFlatPodNetwork() {
    int exit = new CommandLine(new ClusterDemo()).execute("--tcp-seconds", "2");
    assertEquals(0, exit, "the cluster demo reported failed checks (its output says which)");
  }
}
