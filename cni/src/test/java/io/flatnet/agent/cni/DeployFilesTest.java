package io.flatnet.agent.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.flatnet.agent.TestConfigs;
import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.NodeConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * docs/deploy/ stays usable: its CNI config parses as the plugin reads it, its node configs
 * validate.
 */
class DeployFilesTest {

  static final Path DEPLOY = Path.of("..", "docs", "deploy");

  /** What a runtime hands the plugin: the plugin entry plus the list's cniVersion and name. */
  static CniConfig pluginConfig(JsonNode conflist) throws CniError {
    ObjectNode plugin = ((ObjectNode) conflist.path("plugins").get(0)).deepCopy();
    plugin.put("cniVersion", conflist.path("cniVersion").asText());
    plugin.put("name", conflist.path("name").asText());
    return CniConfig.parse(plugin);
  }

  @Test
  void conflistParses() throws Exception {
    JsonNode conflist = CniFixture.parse(Files.readString(DEPLOY.resolve("10-flatnet.conflist")));
    CniConfig c = pluginConfig(conflist);
    assertEquals("flatnet", c.type());
    assertEquals("netns", c.kind());
    assertEquals(List.of(), c.podCIDRs());
    assertEquals(Path.of("/run/flatnet/agent.sock"), c.agentSocket());
  }

  @Test
  void daemonSetConfigMapsAreValid() throws Exception {
    List<JsonNode> docs = new ArrayList<>();
    try (MappingIterator<JsonNode> it =
        new YAMLMapper()
            .readerFor(JsonNode.class)
            .readValues(DEPLOY.resolve("flatnet-daemonset.yaml").toFile())) {
      it.forEachRemaining(docs::add);
    }
    assertEquals(
        List.of(
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "ConfigMap",
            "DaemonSet"),
        docs.stream().map(d -> d.path("kind").asText()).toList());
    JsonNode nodes = docs.get(4).path("data");
    for (String key : List.of("node-a.yaml", "node-b.yaml")) {
      NodeConfig c = ConfigLoader.parse(nodes.path(key).asText(), key);
      assertEquals(List.of(), TestConfigs.VALIDATOR.validate(c), key);
    }
    JsonNode inline =
        CniFixture.parse(docs.get(5).path("data").path("10-flatnet.conflist").asText());
    assertEquals(CniFixture.parse(Files.readString(DEPLOY.resolve("10-flatnet.conflist"))), inline);
    pluginConfig(inline);
    JsonNode role = docs.get(2);
    // Read-only: peers from Nodes, network policy from NetworkPolicies, Pods and Namespaces.
    assertEquals(
        "[{\"apiGroups\":[\"\"],\"resources\":[\"nodes\",\"pods\",\"namespaces\"],"
            + "\"verbs\":[\"get\",\"list\",\"watch\"]},"
            + "{\"apiGroups\":[\"networking.k8s.io\"],\"resources\":[\"networkpolicies\"],"
            + "\"verbs\":[\"get\",\"list\",\"watch\"]}]",
        role.path("rules").toString());
    JsonNode pod = docs.get(6).path("spec").path("template").path("spec");
    assertEquals("flatnet", pod.path("serviceAccountName").asText());
    // Two processes, two containers: the kubelet restarts the agent without the dataplane.
    JsonNode containers = pod.path("containers");
    assertEquals("dataplane", containers.get(0).path("name").asText());
    assertEquals("dataplane", containers.get(0).path("command").get(1).asText());
    assertEquals("agent", containers.get(1).path("name").asText());
    assertEquals("agent", containers.get(1).path("command").get(1).asText());
  }
}
