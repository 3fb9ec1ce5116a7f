package io.flatnet.agent.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.TestConfigs;
import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.config.PodConfig;
import io.flatnet.control.PolicySpec;
import io.flatnet.control.PolicySpec.Peer;
import io.flatnet.control.PolicySpec.PortRange;
import io.flatnet.control.PolicySpec.Rule;
import io.flatnet.control.State;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The compiled policies land in the desired state, for config pods and CNI pods alike. */
class DesiredStatePolicyTest {

  /** Namespace default: pods labelled role=db accept TCP 5432 from role=web pods only. */
  private static final String POLICY =
      """
      policy:
        pods:
          - metadata: {namespace: default, name: a, labels: {role: db}}
          - metadata: {namespace: default, name: web, labels: {role: web}}
            status: {podIPs: [{ip: 10.244.2.7}]}
          - metadata: {namespace: default, name: cni-db, labels: {role: db}}
        networkPolicies:
          - metadata: {namespace: default, name: db}
            spec:
              podSelector: {matchLabels: {role: db}}
              ingress:
                - from: [{podSelector: {matchLabels: {role: web}}}]
                  ports: [{port: 5432}]
      """;

  private static final PodConfig CNI_DB =
      new PodConfig("default/cni-db", "tap", null, null, "fndb", List.of("10.244.1.20"), null);

  private static PolicySpec dbSpec(String pod, List<String> addresses) {
    return new PolicySpec(
        pod,
        addresses,
        true,
        false,
        List.of(
            new Rule(
                "default/db",
                0,
                false,
                List.of(new Peer("10.244.2.7/32", List.of())),
                false,
                List.of(new PortRange("TCP", 5432, 5432)))),
        List.of());
  }

  @Test
  void policiesOfConfigAndCniPodsAreInTheState() throws Exception {
    NodeConfig c = ConfigLoader.parse(TestConfigs.BASE + POLICY, "t.yaml");
    assertEquals(List.of(), TestConfigs.VALIDATOR.validate(c, List.of(CNI_DB)));
    State s = DesiredState.from(c, List.of(CNI_DB));
    assertEquals(List.of("default/a", "default/cni-db"), List.copyOf(s.policies().keySet()));
    assertEquals(
        dbSpec("default/a", List.of("10.244.1.10", "fd00:244:1::10")),
        s.policies().get("default/a"));
    assertEquals(
        dbSpec("default/cni-db", List.of("10.244.1.20")), s.policies().get("default/cni-db"));
  }

  @Test
  void theCniPodsPolicyGoesWithItAndThePlanSaysSo() throws Exception {
    NodeConfig c = ConfigLoader.parse(TestConfigs.BASE + POLICY, "t.yaml");
    State with = DesiredState.from(c, List.of(CNI_DB));
    State without = DesiredState.from(c, List.of());
    assertEquals(List.of("default/a"), List.copyOf(without.policies().keySet()));
    String plan = Planner.plan(with, without, 2).toString();
    assertTrue(plan.contains("default/cni-db"), plan);
    assertTrue(Planner.plan(with, DesiredState.from(c, List.of(CNI_DB)), 2).isEmpty());
  }

  @Test
  void withoutAPolicySectionThereAreNoPolicies() throws Exception {
    State s = DesiredState.from(ConfigLoader.parse(TestConfigs.BASE, "t.yaml"), List.of());
    assertEquals(0, s.policies().size());
  }
}
