package io.flatnet.agent.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.flatnet.agent.config.PeerConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Node to peer mapping, no API server. */
class NodePeersTest {

  static Node node(String name, List<String> podCIDRs, String podCIDR, String... addresses) {
    NodeBuilder b =
        new NodeBuilder()
            .withNewMetadata()
            .withName(name)
            .endMetadata()
            .withNewSpec()
            .withPodCIDRs(podCIDRs)
            .withPodCIDR(podCIDR)
            .endSpec()
            .withNewStatus()
            .endStatus();
    for (int i = 0; i + 1 < addresses.length; i += 2) {
      b.editStatus()
          .addNewAddress()
          .withType(addresses[i])
          .withAddress(addresses[i + 1])
          .endAddress()
          .endStatus();
    }
    return b.build();
  }

  @Test
  void dualStackNodeTakesTheFirstInternalIpOfEachFamily() {
    NodePeers.Mapped m =
        NodePeers.map(
            node(
                "node-c",
                List.of("10.244.3.0/24", "fd00:244:3::/64"),
                "10.244.3.0/24",
                "Hostname",
                "node-c",
                "ExternalIP",
                "203.0.113.3",
                "InternalIP",
                "192.0.2.12",
                "InternalIP",
                "2001:db8:0:1::12",
                "InternalIP",
                "192.0.2.99"));
    assertNull(m.problem());
    assertEquals(
        new PeerConfig(
            "node-c",
            List.of("192.0.2.12", "2001:db8:0:1::12"),
            List.of("10.244.3.0/24", "fd00:244:3::/64")),
        m.peer());
  }

  @Test
  void podCidrIsTheFallbackForOlderNodes() {
    NodePeers.Mapped m =
        NodePeers.map(node("node-d", List.of(), "10.244.4.0/24", "InternalIP", "192.0.2.13"));
    assertEquals(
        new PeerConfig("node-d", List.of("192.0.2.13"), List.of("10.244.4.0/24")), m.peer());
  }

  @Test
  void nodesWithoutPodCidrsOrInternalIpAreSkippedSayingWhat() {
    NodePeers.Mapped noCidr =
        NodePeers.map(node("node-e", List.of(), null, "InternalIP", "192.0.2.14"));
    assertNull(noCidr.peer());
    assertEquals(
        "no spec.podCIDRs or spec.podCIDR (no pod range allocated yet?)", noCidr.problem());
    NodePeers.Mapped noIp =
        NodePeers.map(node("node-f", List.of("10.244.6.0/24"), null, "ExternalIP", "203.0.113.6"));
    assertNull(noIp.peer());
    assertEquals("no InternalIP in status.addresses", noIp.problem());
    NodePeers.Mapped bare =
        NodePeers.map(new NodeBuilder().withNewMetadata().withName("g").endMetadata().build());
    assertEquals("g", bare.name());
    assertEquals(
        "no spec.podCIDRs or spec.podCIDR (no pod range allocated yet?); no InternalIP in"
            + " status.addresses",
        bare.problem());
  }
}
