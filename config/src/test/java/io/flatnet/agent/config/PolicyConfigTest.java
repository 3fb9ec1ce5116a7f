package io.flatnet.agent.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.TestConfigs;
import io.flatnet.agent.config.policy.IntOrString;
import io.flatnet.agent.config.policy.LabelSelector;
import io.flatnet.agent.config.policy.NetworkPolicy;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PolicyConfigTest {

  /** The shape docs/config.md shows (and the e2e tests write). */
  static final String EXAMPLE =
      """
      policy:
        namespaces:
          - metadata: {name: x, labels: {ns: x}}
        pods:
          - metadata: {namespace: x, name: a, labels: {pod: a}}
            spec:
              containers:
                - name: c80
                  ports: [{name: serve-80-tcp, containerPort: 80, protocol: TCP}]
            status: {podIPs: [{ip: 10.244.1.10}, {ip: "fd00:1::10"}]}
        networkPolicies:
          - apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {namespace: x, name: allow-80}
            spec:
              podSelector: {matchLabels: {pod: a}}
              policyTypes: [Ingress]
              ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {}}], ports: [{port: 80, protocol: TCP}]}]
      """;

  private static List<String> errors(String policyYaml) throws ConfigException {
    NodeConfig c = ConfigLoader.parse(TestConfigs.BASE + policyYaml, "t.yaml");
    return TestConfigs.VALIDATOR.validate(c).stream().map(ConfigError::toString).toList();
  }

  private static List<String> loadErrors(String policyYaml) {
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () -> ConfigLoader.parse(TestConfigs.BASE + policyYaml, "t.yaml"));
    return e.errors().stream().map(ConfigError::toString).toList();
  }

  private static void assertHas(List<String> errors, String expected) {
    assertTrue(errors.contains(expected), "missing <" + expected + "> in " + errors);
  }

  /** A config with one policy in namespace x with {@code spec} (YAML). */
  private static String onePolicy(String spec) {
    return """
        policy:
          networkPolicies:
            - metadata: {namespace: x, name: p}
              spec:
        """
        + spec.indent(8);
  }

  @Test
  void theDocumentedShapeLoadsAndIsValid() throws Exception {
    assertEquals(List.of(), errors(EXAMPLE));
    NodeConfig c = ConfigLoader.parse(TestConfigs.BASE + EXAMPLE, "t.yaml");
    NetworkPolicy p = c.policy().networkPolicies().get(0);
    assertEquals("x/allow-80", p.metadata().key());
    assertEquals(Map.of("pod", "a"), p.spec().podSelector().matchLabels());
    NetworkPolicy.Peer peer = p.spec().ingress().get(0).from().get(0);
    assertEquals(LabelSelector.ALL, peer.podSelector());
    assertEquals(Map.of("ns", "y"), peer.namespaceSelector().matchLabels());
    assertEquals(null, peer.ipBlock());
    assertEquals(
        new NetworkPolicy.Port("TCP", IntOrString.of(80), null),
        p.spec().ingress().get(0).ports().get(0));
    assertEquals(List.of("10.244.1.10", "fd00:1::10"), c.policy().pods().get(0).podIPs());
  }

  @Test
  void noPolicySectionIsEmpty() throws Exception {
    NodeConfig c = ConfigLoader.parse(TestConfigs.BASE, "t.yaml");
    assertEquals(List.of(), c.policy().networkPolicies());
    assertEquals(c.policy(), c.withPods(List.of()).withRoutes(List.of()).policy());
  }

  @Test
  void portIsANumberOrAName() throws Exception {
    NodeConfig c =
        ConfigLoader.parse(
            TestConfigs.BASE + onePolicy("ingress: [{ports: [{port: http}, {port: \"80\"}]}]"),
            "t.yaml");
    List<NetworkPolicy.Port> ports =
        c.policy().networkPolicies().get(0).spec().ingress().get(0).ports();
    assertEquals(IntOrString.of("http"), ports.get(0).port());
    assertEquals(IntOrString.of("80"), ports.get(1).port());
  }

  @Test
  void unknownKeysAndWrongTypesAreRefusedWithTheirPath() {
    assertEquals(
        List.of("policy.networkPolicies[0].spec.ingres: unknown key (did you mean ingress?)"),
        loadErrors(onePolicy("podSelector: {}\ningres: []")));
    assertEquals(
        List.of(
            "policy.networkPolicies[0].spec.ingress[0].ports[0].port: expected a port number or a"
                + " port name, got array"),
        loadErrors(onePolicy("ingress: [{ports: [{port: [80]}]}]")));
    assertEquals(
        List.of(
            "policy.networkPolicies[0].spec.ingress[0].ports[0].port: expected a port number or a"
                + " port name, got object"),
        loadErrors(onePolicy("ingress: [{ports: [{port: {a: 1}}]}]")));
    assertEquals(
        List.of(
            "policy.networkPolicies[0].spec.ingress[0].ports[0].endPort \"x\": expected an integer"),
        loadErrors(onePolicy("ingress: [{ports: [{endPort: x}]}]")));
    assertEquals(
        List.of("policy.networkPolicies[0].spec.policyTypes: expected a list"),
        loadErrors(onePolicy("policyTypes: Ingress")));
    assertEquals(
        List.of(
            "policy.pods[0].metadata.uid: unknown key (known keys: name, namespace, labels,"
                + " annotations)"),
        loadErrors("policy: {pods: [{metadata: {name: a, namespace: x, uid: u}}]}"));
  }

  @Test
  void everyValueProblemIsReportedWithItsPath() throws Exception {
    List<String> e =
        errors(
            """
                policy:
                  namespaces:
                    - metadata: {name: x, labels: {"bad key!": v, ok: "bad value!"}}
                    - metadata: {name: x}
                    - metadata: {name: Y_bad, namespace: q}
                  pods:
                    - metadata: {name: a}
                    - metadata: {namespace: x, name: b}
                      spec: {containers: [{ports: [{name: http, containerPort: 0, protocol: ICMP}, {name: http, containerPort: 81}, {name: Not_OK, containerPort: 82}]}]}
                      status: {podIPs: [{ip: 10.0.0.1}, {ip: 10.0.0.2}, {ip: nope}]}
                    - metadata: {namespace: x, name: b}
                  networkPolicies:
                    - apiVersion: networking.k8s.io/v1beta1
                      kind: Policy
                      metadata: {name: p}
                      spec:
                        podSelector: {matchExpressions: [{key: a, operator: Maybe}, {key: b, operator: In}, {key: c, operator: Exists, values: [x]}]}
                        policyTypes: [Ingress, Ingress, Both]
                        ingress:
                          - from:
                              - {}
                              - {ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}
                              - {ipBlock: {cidr: 10.0.0.1/8}}
                              - {ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16, 10.0.0.0/8, "fd00::/64"]}}
                            ports:
                              - {port: 80, endPort: 79}
                              - {port: http, endPort: 90}
                              - {endPort: 90}
                              - {port: 70000, protocol: ICMP}
                              - {port: http_x}
                              - {port: 1, endPort: 70000}
                        egress:
                          - to: [{namespaceSelector: {matchLabels: {a/b/c: x}}}]
                    - metadata: {namespace: x, name: p}
                    - metadata: {namespace: x, name: p}
                """);
    assertHas(
        e,
        "policy.namespaces[0].metadata.labels \"bad key!\": not a valid label key: the name must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit");
    assertHas(
        e,
        "policy.namespaces[0].metadata.labels.ok \"bad value!\": not a valid label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit");
    assertHas(
        e,
        "policy.namespaces[1].metadata.name \"x\": duplicate namespace: also policy.namespaces[0]");
    assertHas(
        e,
        "policy.namespaces[2].metadata.name \"Y_bad\": not a valid namespace name (lower case letters, digits and '-', at most 63)");
    assertHas(e, "policy.namespaces[2].metadata.namespace \"q\": a Namespace has no namespace");
    assertHas(e, "policy.pods[0].metadata.namespace: required");
    assertHas(
        e, "policy.pods[1].spec.containers[0].ports[0].containerPort \"0\": out of range 1..65535");
    assertHas(
        e,
        "policy.pods[1].spec.containers[0].ports[0].protocol \"ICMP\": must be TCP, UDP or SCTP (default TCP)");
    assertHas(
        e,
        "policy.pods[1].spec.containers[0].ports[1].name \"http\": duplicate port name in this pod: also policy.pods[1].spec.containers[0].ports[0]");
    assertHas(
        e,
        "policy.pods[1].spec.containers[0].ports[2].name \"Not_OK\": not a valid port name: 1-15 lower case letters, digits and '-', with at least one letter, no '-' at either end and no '--'");
    assertHas(
        e,
        "policy.pods[1].status.podIPs[1].ip \"10.0.0.2\": a second IPv4 address; one per family");
    assertHas(
        e,
        "policy.pods[1].status.podIPs[2].ip \"nope\": Invalid IPv4 address \"nope\": expected four decimal octets 0-255 without leading zeros");
    assertHas(e, "policy.pods[2].metadata \"x/b\": duplicate pod: also policy.pods[1]");
    assertHas(
        e,
        "policy.networkPolicies[0].apiVersion \"networking.k8s.io/v1beta1\": must be networking.k8s.io/v1 (or left out)");
    assertHas(e, "policy.networkPolicies[0].kind \"Policy\": must be NetworkPolicy (or left out)");
    assertHas(e, "policy.networkPolicies[0].metadata.namespace: required");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.podSelector.matchExpressions[0].operator \"Maybe\": must be In, NotIn, Exists or DoesNotExist");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.podSelector.matchExpressions[1].values: In needs at least one value");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.podSelector.matchExpressions[2].values: Exists takes no values");
    assertHas(
        e, "policy.networkPolicies[0].spec.policyTypes[1] \"Ingress\": duplicate policy type");
    assertHas(
        e, "policy.networkPolicies[0].spec.policyTypes[2] \"Both\": must be Ingress or Egress");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.ingress[0].from[0]: a peer needs podSelector, namespaceSelector or ipBlock");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.ingress[0].from[1].ipBlock: ipBlock cannot be combined with podSelector or namespaceSelector in one peer (make them two peers)");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.ingress[0].from[2].ipBlock.cidr \"10.0.0.1/8\": Invalid IPv4 prefix \"10.0.0.1/8\": IPv4 prefix 10.0.0.1/8 has host bits set (rejected, not normalised; did you mean 10.0.0.0/8?)");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.ingress[0].from[3].ipBlock.except[0] \"11.0.0.0/16\": must be strictly inside cidr 10.0.0.0/8");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.ingress[0].from[3].ipBlock.except[1] \"10.0.0.0/8\": must be strictly inside cidr 10.0.0.0/8");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.ingress[0].from[3].ipBlock.except[2] \"fd00::/64\": must be strictly inside cidr 10.0.0.0/8");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.ingress[0].ports[0].endPort \"79\": must not be below port (80)");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.ingress[0].ports[1].endPort \"90\": needs a numeric port (endPort ends the range port..endPort)");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.ingress[0].ports[2].endPort \"90\": needs a numeric port (endPort ends the range port..endPort)");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.ingress[0].ports[3].protocol \"ICMP\": must be TCP, UDP or SCTP (default TCP)");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.ingress[0].ports[3].port \"70000\": out of range 1..65535");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.ingress[0].ports[4].port \"http_x\": not a valid port name: 1-15 lower case letters, digits and '-', with at least one letter, no '-' at either end and no '--'");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.ingress[0].ports[5].endPort \"70000\": out of range 1..65535");
    assertHas(
        e,
        "policy.networkPolicies[0].spec.egress[0].to[0].namespaceSelector.matchLabels \"a/b/c\": not a valid label key: the name must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit");
    assertHas(
        e,
        "policy.networkPolicies[2].metadata \"x/p\": duplicate policy: also policy.networkPolicies[1]");
    assertEquals(36, e.size(), e.toString());
  }

  @Test
  void podsNeitherAttachedNorWithPodIPsAreOnlyAWarning() throws Exception {
    String yaml =
        """
        policy:
          pods:
            - metadata: {namespace: default, name: a}
            - metadata: {namespace: x, name: far}
            - metadata: {namespace: x, name: cni}
        """;
    NodeConfig c = ConfigLoader.parse(TestConfigs.BASE + yaml, "t.yaml");
    assertEquals(List.of(), TestConfigs.VALIDATOR.validate(c));
    PodConfig cni =
        new PodConfig("x/cni", "tap", null, null, "fncni", List.of("10.244.1.50"), null);
    assertEquals(
        List.of(
            "policy.pods[1] \"x/far\": not attached to this node and no status.podIPs: policies"
                + " cannot match its addresses"),
        ConfigValidator.warnings(c, List.of(cni)).stream().map(ConfigError::toString).toList());
  }
}
