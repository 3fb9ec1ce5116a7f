package io.flatnet.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.config.PeerConfig;
import io.flatnet.agent.state.InMemoryDataplane;
import io.flatnet.control.RouteSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Peers from a {@link PeerSource} (a plain in-memory one here; Kubernetes is tested in {@code
 * kube.NodeWatcherTest}): merged with the config's, validated the same way, a bad one left out
 * without touching the rest, bursts debounced into one generation.
 */
class AgentPeerSourceTest {

  /** A source the test publishes to by hand. */
  static final class ManualSource implements PeerSource {
    volatile Consumer<List<PeerConfig>> listener;

    @Override
    public void subscribe(Consumer<List<PeerConfig>> l) {
      listener = l;
    }

    void publish(PeerConfig... peers) {
      listener.accept(List.of(peers));
    }
  }

  @TempDir Path dir;
  Path config;
  InMemoryDataplane dp;
  ManualSource source;

  @BeforeEach
  void setUp() throws Exception {
    config = dir.resolve("etc/node.yaml");
    Files.createDirectories(config.getParent());
    Files.writeString(config, TestConfigs.BASE);
    dp = new InMemoryDataplane();
    source = new ManualSource();
  }

  Agent agent() throws Exception {
    return new Agent(
        Agent.Options.defaults(config)
            .withStateDir(dir.resolve("state"))
            .withVhostSocketDir(dir.resolve("vhost"))
            .withValidator(TestConfigs.VALIDATOR)
            .withDebounce(Duration.ofMillis(100))
            .withPeerSource(source),
        dp);
  }

  static PeerConfig peer(String name, String ip, String cidr) {
    return new PeerConfig(name, List.of(ip), List.of(cidr));
  }

  RouteSpec route(String prefix) {
    return dp.installed().routes().get(prefix);
  }

  @Test
  void validPeersApplyInOneGenerationAndBadOnesAreLeftOutAndReported() throws Exception {
    try (Agent a = agent()) {
      assertTrue(a.start().ok());
      assertEquals(1, a.generation());
      // A burst: only the last list counts, in one generation.
      source.publish(peer("node-c", "192.0.2.12", "10.244.3.0/24"));
      source.publish(
          peer("node-c", "192.0.2.12", "10.244.3.0/24"),
          peer("node-a", "192.0.2.10", "10.244.1.0/24"));
      source.publish(
          peer("node-a", "192.0.2.10", "10.244.1.0/24"), // this node: ignored
          peer("node-c", "192.0.2.12", "10.244.3.0/24"),
          peer("node-d", "192.0.2.13", "10.244.4.0/24"),
          peer("node-x", "192.0.2.14", "10.244.1.0/25"), // overlaps our pod CIDR
          peer("node-y", "203.0.113.5", "10.244.6.0/24"), // not on-link
          peer("node-b", "192.0.2.15", "10.244.7.0/24")); // the config's peer's name
      AgentTest.await(() -> a.generation() == 2 && a.peerProblems().size() == 3);
      Thread.sleep(300);
      assertEquals(2, a.generation(), "one generation for the burst");
      assertEquals(
          new RouteSpec("10.244.3.0/24", "192.0.2.12", "uplink0", RouteSpec.ORIGIN_PEER),
          route("10.244.3.0/24"));
      assertEquals(
          new RouteSpec("10.244.4.0/24", "192.0.2.13", "uplink0", RouteSpec.ORIGIN_PEER),
          route("10.244.4.0/24"));
      assertEquals(
          new RouteSpec("10.244.2.0/24", "192.0.2.11", "uplink0", RouteSpec.ORIGIN_PEER),
          route("10.244.2.0/24"));
      assertEquals(
          List.of("node-c", "node-d"), a.sourcePeers().stream().map(PeerConfig::name).toList());
      assertEquals(
          "nodes[node-x].podCIDRs[0] \"10.244.1.0/25\": overlaps our own node.podCIDRs[0]"
              + " (10.244.1.0/24)",
          a.peerProblems().get("node-x"));
      assertTrue(
          a.peerProblems().get("node-y").contains("not on-link"), a.peerProblems().toString());
      assertTrue(
          a.peerProblems().get("node-b").contains("duplicate peer name: also peers[0]"),
          a.peerProblems().toString());

      // A new peer that overlaps one in use is the one left out; nothing else changes.
      source.publish(
          peer("node-c", "192.0.2.12", "10.244.3.0/24"),
          peer("node-d", "192.0.2.13", "10.244.4.0/24"),
          peer("a-new", "192.0.2.20", "10.244.3.0/24"));
      AgentTest.await(() -> a.peerProblems().containsKey("a-new"));
      assertEquals(2, a.generation());
      assertTrue(a.peerProblems().get("a-new").contains("overlaps nodes[node-c].podCIDRs[0]"));

      // A config route a peer would duplicate (errors on the route's path): the peer is left out.
      assertTrue(
          a.handle(AgentProtocol.Request.routeAdd("198.51.100.0/24", "192.0.2.7", "uplink0")).ok());
      source.publish(
          peer("node-c", "192.0.2.12", "10.244.3.0/24"),
          peer("node-z", "192.0.2.21", "198.51.100.0/24"));
      AgentTest.await(
          () -> a.peerProblems().containsKey("node-z") && route("10.244.4.0/24") == null);
      assertEquals("192.0.2.7", route("198.51.100.0/24").via());
      assertTrue(
          a.peerProblems().get("node-z").contains("duplicate route"), a.peerProblems().toString());
      assertFalse(a.peerProblems().containsKey("a-new"));

      // A reload keeps the source's peers.
      assertTrue(a.reload().ok());
      assertEquals("192.0.2.12", route("10.244.3.0/24").via());
    }
  }

  @Test
  void peersBeforeTheFirstGoodConfigWaitForIt() throws Exception {
    Files.writeString(config, "node: {name: node-a}\n");
    try (Agent a = agent()) {
      assertFalse(a.start().ok());
      source.publish(peer("node-c", "192.0.2.12", "10.244.3.0/24"));
      Thread.sleep(300);
      assertTrue(dp.installed().routes().isEmpty());
      Files.writeString(config, TestConfigs.BASE);
      assertTrue(a.reload().ok());
      assertEquals("192.0.2.12", route("10.244.3.0/24").via());
    }
  }
}
