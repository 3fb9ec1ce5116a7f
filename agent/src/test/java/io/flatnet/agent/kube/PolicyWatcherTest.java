package io.flatnet.agent.kube;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.flatnet.agent.Agent;
import io.flatnet.agent.TestConfigs;
import io.flatnet.agent.state.InMemoryDataplane;
import io.flatnet.control.PolicySpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The policy watch against fabric8's mock API server in CRUD mode, feeding an agent on {@link
 * InMemoryDataplane}: a NetworkPolicy selecting the config's pod {@code default/a} becomes its
 * compiled policy, with a peer pod of another node resolved by its labels; a pod's label change and
 * the policy's deletion follow.
 */
@EnableKubernetesMockClient(crud = true)
class PolicyWatcherTest {

  KubernetesClient client;

  @TempDir Path dir;

  static NetworkPolicy allowFromFrontend() {
    return new NetworkPolicyBuilder()
        .withNewMetadata()
        .withNamespace("default")
        .withName("allow-frontend")
        .endMetadata()
        .withNewSpec()
        .withNewPodSelector()
        .withMatchLabels(Map.of("app", "db"))
        .endPodSelector()
        .withPolicyTypes("Ingress")
        .addNewIngress()
        .addNewFrom()
        .withNewPodSelector()
        .withMatchLabels(Map.of("app", "frontend"))
        .endPodSelector()
        .endFrom()
        .addNewPort()
        .withProtocol("TCP")
        .withNewPort(5432)
        .endPort()
        .endIngress()
        .endSpec()
        .build();
  }

  void pod(String name, String app, String ip) {
    client
        .pods()
        .inNamespace("default")
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withNamespace("default")
                .withName(name)
                .withLabels(Map.of("app", app))
                .endMetadata()
                .withNewSpec()
                .addNewContainer()
                .withName("main")
                .withImage("busybox")
                .endContainer()
                .endSpec()
                .withNewStatus()
                .addNewPodIP()
                .withIp(ip)
                .endPodIP()
                .endStatus()
                .build())
        .create();
  }

  @Test
  @SuppressWarnings("try") // the feed works in the background
  void policiesFromTheApiAreCompiledForThisNodesPods() throws Exception {
    Path config = dir.resolve("etc/node.yaml");
    Files.createDirectories(config.getParent());
    Files.writeString(config, TestConfigs.BASE); // pod default/a, 10.244.1.10 + fd00:244:1::10
    client
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName("default").endMetadata().build())
        .create();
    pod("a", "db", "10.244.1.10"); // this node's pod (the config's default/a)
    pod("web-1", "frontend", "10.244.2.7"); // a pod of node-b
    client.network().v1().networkPolicies().resource(allowFromFrontend()).create();

    InMemoryDataplane dp = new InMemoryDataplane();
    try (PolicyWatcher watcher = new PolicyWatcher(client, false);
        Agent agent =
            new Agent(
                Agent.Options.defaults(config)
                    .withStateDir(dir.resolve("state"))
                    .withVhostSocketDir(dir.resolve("vhost"))
                    .withValidator(TestConfigs.VALIDATOR),
                dp);
        PolicyFeed feed =
            PolicyFeed.follow(watcher, Duration.ofMillis(50), agent::usePolicySource)) {
      assertTrue(agent.start().ok());
      watcher.start().toCompletableFuture().get(10, TimeUnit.SECONDS);
      NodeWatcherTest.await(() -> dp.installed().policies().containsKey("default/a"));
      PolicySpec a = dp.installed().policies().get("default/a");
      assertEquals(
          new PolicySpec(
              "default/a",
              List.of("10.244.1.10"), // the Pod object's podIPs
              true,
              false,
              List.of(
                  new PolicySpec.Rule(
                      "default/allow-frontend",
                      0,
                      false,
                      List.of(new PolicySpec.Peer("10.244.2.7/32", List.of())),
                      false,
                      List.of(new PolicySpec.PortRange("TCP", 5432, 5432)))),
              List.of()),
          a);

      // A second frontend pod appears: it becomes a peer.
      pod("web-2", "frontend", "10.244.2.8");
      NodeWatcherTest.await(
          () -> dp.installed().policies().get("default/a").ingress().get(0).peers().size() == 2);

      // The policy is deleted: default/a is open again (no spec).
      client
          .network()
          .v1()
          .networkPolicies()
          .inNamespace("default")
          .withName("allow-frontend")
          .delete();
      NodeWatcherTest.await(() -> !dp.installed().policies().containsKey("default/a"));
      assertFalse(dp.installed().pods().isEmpty(), "the pod itself stays");
    }
  }
}
