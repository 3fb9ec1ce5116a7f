package io.flatnet.agent.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.flatnet.agent.Agent;
import io.flatnet.agent.TestConfigs;
import io.flatnet.agent.state.InMemoryDataplane;
import io.flatnet.control.RouteSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Node watcher against fabric8's mock API server in CRUD mode, feeding an agent on {@link
 * InMemoryDataplane} (no DPDK): Nodes become peer routes; an update, a delete and an invalid Node
 * change only what they should.
 */
@EnableKubernetesMockClient(crud = true)
class NodeWatcherTest {

  KubernetesClient client;

  @TempDir Path dir;

  static Node node(String name, String internalIp, String... podCIDRs) {
    NodeBuilder b =
        new NodeBuilder()
            .withNewMetadata()
            .withName(name)
            .endMetadata()
            .withNewSpec()
            .withPodCIDRs(podCIDRs)
            .withPodCIDR(podCIDRs.length == 0 ? null : podCIDRs[0])
            .endSpec();
    if (internalIp != null) {
      b.withNewStatus()
          .addNewAddress()
          .withType("InternalIP")
          .withAddress(internalIp)
          .endAddress()
          .endStatus();
    }
    return b.build();
  }

  void create(Node n) {
    client.nodes().resource(n).create();
  }

  @Test
  void nodesBecomePeerRoutesAndChangesApplyWhileABadNodeIsLeftOut() throws Exception {
    Path config = dir.resolve("etc/node.yaml");
    Files.createDirectories(config.getParent());
    Files.writeString(config, TestConfigs.BASE); // node-a; config peer node-b 10.244.2.0/24
    InMemoryDataplane dp = new InMemoryDataplane();
    create(node("node-a", "192.0.2.10", "10.244.1.0/24")); // this node
    create(node("node-c", "192.0.2.12", "10.244.3.0/24"));
    create(node("node-d", "192.0.2.13", "10.244.4.0/24"));
    create(node("node-f", "192.0.2.16")); // no pod CIDR yet

    try (NodeWatcher nodes = new NodeWatcher(client, false)) {
      nodes.start().toCompletableFuture().get(10, TimeUnit.SECONDS);
      assertEquals(
          "no spec.podCIDRs or spec.podCIDR (no pod range allocated yet?)",
          nodes.skipped().get("node-f"));
      try (Agent agent =
          new Agent(
              Agent.Options.defaults(config)
                  .withStateDir(dir.resolve("state"))
                  .withVhostSocketDir(dir.resolve("vhost"))
                  .withValidator(TestConfigs.VALIDATOR)
                  .withDebounce(Duration.ofMillis(100))
                  .withPeerSource(nodes),
              dp)) {
        assertTrue(agent.start().ok());
        // The first generation already has the listed Nodes (the source published before start).
        await(() -> routes(dp).containsKey("10.244.4.0/24"));
        assertEquals(
            new RouteSpec("10.244.3.0/24", "192.0.2.12", "uplink0", RouteSpec.ORIGIN_PEER),
            routes(dp).get("10.244.3.0/24"));
        assertEquals(
            new RouteSpec("10.244.2.0/24", "192.0.2.11", "uplink0", RouteSpec.ORIGIN_PEER),
            routes(dp).get("10.244.2.0/24"));
        assertNull(routes(dp).get("10.244.1.0/24"), "this node is not its own peer");

        // Update: node-c's pod CIDR moves.
        client
            .nodes()
            .withName("node-c")
            .edit(
                n ->
                    new NodeBuilder(n)
                        .editSpec()
                        .withPodCIDRs("10.244.5.0/24")
                        .withPodCIDR("10.244.5.0/24")
                        .endSpec()
                        .build());
        await(() -> routes(dp).containsKey("10.244.5.0/24"));
        assertNull(routes(dp).get("10.244.3.0/24"));
        long before = agent.generation();

        // An invalid Node (its pod CIDR overlaps the config's peer node-b): reported, left out,
        // and nothing installed changes.
        create(node("node-e", "192.0.2.14", "10.244.2.0/24"));
        await(() -> agent.peerProblems().containsKey("node-e"));
        assertEquals(
            "nodes[node-e].podCIDRs[0] \"10.244.2.0/24\": overlaps peers[0].podCIDRs[0] (10.244.2.0/24)",
            agent.peerProblems().get("node-e"));
        assertEquals(before, agent.generation());
        assertEquals("192.0.2.11", routes(dp).get("10.244.2.0/24").via());

        // Delete node-d: its route goes, the rest stays, node-e is still left out.
        client.nodes().withName("node-d").delete();
        await(() -> !routes(dp).containsKey("10.244.4.0/24"));
        assertEquals("192.0.2.12", routes(dp).get("10.244.5.0/24").via());
        assertTrue(agent.peerProblems().containsKey("node-e"));
        assertEquals(List.of("node-c"), agent.sourcePeers().stream().map(p -> p.name()).toList());

        // node-f gets its range: it becomes a peer.
        client
            .nodes()
            .withName("node-f")
            .edit(
                n -> new NodeBuilder(n).editSpec().withPodCIDRs("10.244.6.0/24").endSpec().build());
        await(() -> routes(dp).containsKey("10.244.6.0/24"));
        assertEquals("192.0.2.16", routes(dp).get("10.244.6.0/24").via());
        assertTrue(nodes.skipped().isEmpty());
      }
    }
  }

  static void await(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out");
      }
      Thread.sleep(20);
    }
  }

  static java.util.Map<String, RouteSpec> routes(InMemoryDataplane dp) {
    return dp.installed().routes();
  }
}
