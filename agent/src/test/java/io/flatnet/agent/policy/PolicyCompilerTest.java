package io.flatnet.agent.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.policy.NetworkPolicy;
import io.flatnet.agent.config.policy.PodObject;
import io.flatnet.agent.config.policy.PolicySection;
import io.flatnet.agent.config.policy.PolicyValidator;
import io.flatnet.agent.policy.PolicyCompiler.AttachedPod;
import io.flatnet.control.PolicySpec;
import io.flatnet.control.PolicySpec.Peer;
import io.flatnet.control.PolicySpec.PortRange;
import io.flatnet.control.PolicySpec.Rule;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PolicyCompilerTest {

  /**
   * Namespaces x, y (listed) and z (not listed). Pods: x/a (attached, addresses from the CNI side,
   * named ports serve-80-tcp=80/TCP and dns=53/UDP), x/b and y/c and z/d on other nodes, x/far on
   * another node without podIPs; x/bare is attached without a Pod object.
   */
  private static final String CLUSTER =
      """
      namespaces:
        - metadata: {name: x, labels: {ns: x, team: blue}}
        - metadata: {name: y, labels: {ns: y, team: red}}
      pods:
        - metadata: {namespace: x, name: a, labels: {pod: a, app: web}}
          spec:
            containers:
              - name: c80
                ports:
                  - {name: serve-80-tcp, containerPort: 80}
                  - {name: dns, containerPort: 53, protocol: UDP}
        - metadata: {namespace: x, name: b, labels: {pod: b}}
          spec: {containers: [{ports: [{name: serve-80-tcp, containerPort: 8080, protocol: TCP}]}]}
          status: {podIPs: [{ip: 10.244.2.20}, {ip: "fd00:2::20"}]}
        - metadata: {namespace: y, name: c, labels: {pod: c, tier: db}}
          spec: {containers: [{ports: [{name: serve-80-tcp, containerPort: 9090}]}]}
          status: {podIPs: [{ip: 10.244.2.30}]}
        - metadata: {namespace: z, name: d, labels: {pod: d}}
          status: {podIPs: [{ip: 10.244.2.40}]}
        - metadata: {namespace: x, name: far, labels: {pod: far}}
      """;

  private static final List<AttachedPod> ATTACHED =
      List.of(
          new AttachedPod("x/a", List.of("10.244.1.10", "fd00:1:0::10")),
          new AttachedPod("x/bare", List.of("10.244.1.11")));

  private static final Peer A4 = pod("10.244.1.10");
  private static final Peer A6 = pod("fd00:1::10");
  private static final Peer B4 = pod("10.244.2.20");
  private static final Peer B6 = pod("fd00:2::20");
  private static final Peer BARE = pod("10.244.1.11");
  private static final Peer C = pod("10.244.2.30");
  private static final Peer D = pod("10.244.2.40");

  private static Peer pod(String ip) {
    return new Peer(ip + (ip.contains(":") ? "/128" : "/32"), List.of());
  }

  private static PortRange tcp(int port) {
    return new PortRange("TCP", port, port);
  }

  /** A policy in namespace x named {@code name} with {@code spec} (YAML). */
  private static String policy(String name, String spec) {
    return "- metadata: {namespace: x, name: " + name + "}\n  spec:\n" + spec.indent(4);
  }

  private static PolicySection section(String cluster, String... policies) throws Exception {
    String list = policies.length == 0 ? " []\n" : "\n" + String.join("", policies).indent(2);
    String yaml = "policy:\n" + (cluster + "networkPolicies:" + list).indent(2);
    PolicySection s = ConfigLoader.parse(yaml, "t.yaml").policy();
    assertEquals(List.of(), PolicyValidator.validate(s), "the test's policy is valid");
    return s;
  }

  private static Map<String, PolicySpec> compile(String... policies) throws Exception {
    Map<String, PolicySpec> byPod = new LinkedHashMap<>();
    for (PolicySpec s : PolicyCompiler.compile(section(CLUSTER, policies), ATTACHED)) {
      byPod.put(s.pod(), s);
    }
    return byPod;
  }

  /** The spec of x/a, compiled from {@code policies}. */
  private static PolicySpec specOfA(String... policies) throws Exception {
    PolicySpec s = compile(policies).get("x/a");
    assertTrue(s != null, "x/a is selected");
    return s;
  }

  /** The peers of x/a's only ingress rule under a policy whose one rule has {@code from}. */
  private static List<Peer> ingressPeers(String from) throws Exception {
    PolicySpec s =
        specOfA(
            policy("p", "podSelector: {matchLabels: {pod: a}}\ningress: [{from: " + from + "}]"));
    assertEquals(1, s.ingress().size());
    assertFalse(s.ingress().get(0).anyPeer());
    return s.ingress().get(0).peers();
  }

  @Test
  void podsNoPolicySelectsGetNoSpec() throws Exception {
    Map<String, PolicySpec> specs =
        compile(policy("p", "podSelector: {matchLabels: {pod: a}}\ningress: [{}]"));
    assertEquals(List.of("x/a"), List.copyOf(specs.keySet()));
    assertEquals(List.of(), PolicyCompiler.compile(section(CLUSTER), ATTACHED));
  }

  @Test
  void allowAllIngressIsOneRuleWithAnyPeerAndAnyPort() throws Exception {
    PolicySpec s = specOfA(policy("p", "podSelector: {}\ningress: [{}]"));
    assertEquals(
        new PolicySpec(
            "x/a",
            List.of("10.244.1.10", "fd00:1::10"),
            true,
            false,
            List.of(new Rule("x/p", 0, true, List.of(), true, List.of())),
            List.of()),
        s);
  }

  @Test
  void emptyPodSelectorSelectsEveryPodOfItsNamespaceIncludingPodsWithoutAPodObject()
      throws Exception {
    Map<String, PolicySpec> specs = compile(policy("p", "podSelector: {}\ningress: [{}]"));
    assertEquals(List.of("x/a", "x/bare"), List.copyOf(specs.keySet()));
    assertEquals(List.of("10.244.1.11"), specs.get("x/bare").addresses());
  }

  @Test
  void aPolicySelectsPodsOfItsOwnNamespaceOnly() throws Exception {
    String other = "- metadata: {namespace: y, name: p}\n  spec: {podSelector: {}}\n";
    assertEquals(Map.of(), compile(other));
  }

  @Test
  void denyAllBothWays() throws Exception {
    PolicySpec s = specOfA(policy("deny", "podSelector: {}\npolicyTypes: [Ingress, Egress]"));
    assertTrue(s.ingressIsolated());
    assertTrue(s.egressIsolated());
    assertEquals(List.of(), s.ingress());
    assertEquals(List.of(), s.egress());
  }

  @Test
  void emptyRuleListsDenyAll() throws Exception {
    PolicySpec s =
        specOfA(
            policy(
                "deny",
                "podSelector: {}\npolicyTypes: [Ingress, Egress]\ningress: []\negress: []"));
    assertTrue(s.ingressIsolated() && s.egressIsolated());
    assertEquals(List.of(), s.ingress());
    assertEquals(List.of(), s.egress());
  }

  @Test
  void defaultPolicyTypes() throws Exception {
    // Left out: Ingress always ...
    PolicySpec ingressOnly = specOfA(policy("p", "podSelector: {}"));
    assertTrue(ingressOnly.ingressIsolated());
    assertFalse(ingressOnly.egressIsolated());
    // ... plus Egress when there are egress rules ...
    PolicySpec both = specOfA(policy("p", "podSelector: {}\negress: [{}]"));
    assertTrue(both.ingressIsolated());
    assertTrue(both.egressIsolated());
    assertEquals(List.of(new Rule("x/p", 0, true, List.of(), true, List.of())), both.egress());
    // ... and, as in Kubernetes (len(egress) > 0), not for an empty egress list.
    PolicySpec emptyEgress = specOfA(policy("p", "podSelector: {}\negress: []"));
    assertFalse(emptyEgress.egressIsolated());
    // Listed types win: egress only leaves ingress open.
    PolicySpec egressOnly = specOfA(policy("p", "podSelector: {}\npolicyTypes: [Egress]"));
    assertFalse(egressOnly.ingressIsolated());
    assertTrue(egressOnly.egressIsolated());
  }

  @Test
  void rulesOfADirectionNotInPolicyTypesAreIgnored() throws Exception {
    PolicySpec s = specOfA(policy("p", "podSelector: {}\npolicyTypes: [Egress]\ningress: [{}]"));
    assertEquals(List.of(), s.ingress());
  }

  @Test
  void podSelectorPeerAlonePicksPodsOfThePolicysNamespace() throws Exception {
    assertEquals(List.of(B4, B6), ingressPeers("[{podSelector: {matchLabels: {pod: b}}}]"));
    // Pod c has tier=db but lives in y: not a peer of a policy in x.
    assertEquals(List.of(), ingressPeers("[{podSelector: {matchLabels: {tier: db}}}]"));
    // {} is every pod of x with an address (x/far has none).
    assertEquals(List.of(A4, BARE, B4, A6, B6), ingressPeers("[{podSelector: {}}]"));
  }

  @Test
  void namespaceSelectorPeerAlonePicksEveryPodOfMatchingNamespaces() throws Exception {
    assertEquals(List.of(C), ingressPeers("[{namespaceSelector: {matchLabels: {team: red}}}]"));
    assertEquals(List.of(A4, BARE, B4, C, D, A6, B6), ingressPeers("[{namespaceSelector: {}}]"));
  }

  @Test
  void bothSelectorsInOnePeerAreAnd() throws Exception {
    assertEquals(
        List.of(D),
        ingressPeers("[{namespaceSelector: {}, podSelector: {matchLabels: {pod: d}}}]"));
    assertEquals(
        List.of(),
        ingressPeers(
            "[{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: d}}}]"));
    // Two peers are OR.
    assertEquals(
        List.of(C, D),
        ingressPeers(
            "[{namespaceSelector: {matchLabels: {ns: y}}}, {namespaceSelector: {}, podSelector:"
                + " {matchLabels: {pod: d}}}]"));
  }

  @Test
  void everyNamespaceHasItsNameLabelListedOrNot() throws Exception {
    assertEquals(
        List.of(D),
        ingressPeers("[{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: z}}}]"));
    assertEquals(
        List.of(C),
        ingressPeers("[{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]"));
  }

  @Test
  void matchExpressionOperators() throws Exception {
    String all = "namespaceSelector: {}, ";
    assertEquals(
        List.of(B4, C, B6),
        ingressPeers(
            "[{"
                + all
                + "podSelector: {matchExpressions: [{key: pod, operator: In, values: [b, c]}]}}]"));
    // NotIn also holds where the label is missing (x/bare).
    assertEquals(
        List.of(BARE, C, D),
        ingressPeers(
            "[{"
                + all
                + "podSelector: {matchExpressions: [{key: pod, operator: NotIn, values: [a,"
                + " b]}]}}]"));
    assertEquals(
        List.of(C),
        ingressPeers(
            "[{" + all + "podSelector: {matchExpressions: [{key: tier, operator: Exists}]}}]"));
    assertEquals(
        List.of(BARE),
        ingressPeers(
            "[{"
                + all
                + "podSelector: {matchExpressions: [{key: pod, operator: DoesNotExist}]}}]"));
    // matchLabels and matchExpressions together are AND.
    assertEquals(
        List.of(C),
        ingressPeers(
            "[{namespaceSelector: {matchExpressions: [{key: team, operator: In, values: [red,"
                + " blue]}]}, podSelector: {matchLabels: {pod: c}}}]"));
  }

  @Test
  void podSelectorOfThePolicyUsesExpressionsToo() throws Exception {
    Map<String, PolicySpec> specs =
        compile(
            policy(
                "p",
                "podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [web]}]}"));
    assertEquals(List.of("x/bare"), List.copyOf(specs.keySet()));
  }

  @Test
  void ipBlockWithExceptInCanonicalForm() throws Exception {
    assertEquals(
        List.of(
            new Peer("10.0.0.0/8", List.of("10.1.0.0/16", "10.2.0.0/16")),
            new Peer("fd00::/16", List.of("fd00:1::/32"))),
        ingressPeers(
            "[{ipBlock: {cidr: \"fd00:0::/16\", except: [\"fd00:1:0::/32\"]}},"
                + " {ipBlock: {cidr: 10.0.0.0/8, except: [10.2.0.0/16, 10.1.0.0/16]}}]"));
  }

  @Test
  void portsNumbersRangesAndProtocols() throws Exception {
    PolicySpec s =
        specOfA(
            policy(
                "p",
                """
                podSelector: {}
                ingress:
                  - ports:
                      - {port: 80}
                      - {port: 32000, endPort: 32768, protocol: TCP}
                      - {protocol: UDP}
                      - {port: 9000, protocol: SCTP}
                """));
    assertEquals(
        List.of(
            new Rule(
                "x/p",
                0,
                true,
                List.of(),
                false,
                List.of(
                    tcp(80),
                    new PortRange("TCP", 32000, 32768),
                    new PortRange("UDP", 1, 65535),
                    new PortRange("SCTP", 9000, 9000)))),
        s.ingress());
  }

  @Test
  void unionOfTwoPoliciesInNameOrder() throws Exception {
    PolicySpec s =
        specOfA(
            policy(
                "z-web",
                "podSelector: {matchLabels: {app: web}}\ningress: [{ports: [{port: 443}]}]"),
            policy(
                "a-all",
                "podSelector: {}\npolicyTypes: [Ingress, Egress]\ningress: [{from: [{podSelector:"
                    + " {matchLabels: {pod: b}}}]}, {ports: [{port: 22}]}]"));
    assertTrue(s.ingressIsolated());
    assertTrue(s.egressIsolated());
    assertEquals(
        List.of(
            new Rule("x/a-all", 0, false, List.of(B4, B6), true, List.of()),
            new Rule("x/a-all", 1, true, List.of(), false, List.of(tcp(22))),
            new Rule("x/z-web", 0, true, List.of(), false, List.of(tcp(443)))),
        s.ingress());
    assertEquals(List.of(), s.egress());
  }

  @Test
  void ingressNamedPortsResolveAgainstTheLocalPod() throws Exception {
    PolicySpec s =
        specOfA(
            policy(
                "p",
                """
                podSelector: {}
                ingress:
                  - from: [{ipBlock: {cidr: 192.0.2.0/24}}]
                    ports: [{port: serve-80-tcp}, {port: dns, protocol: UDP}, {port: dns}]
                  - ports: [{port: no-such-port}]
                """));
    assertEquals(
        List.of(
            // dns/TCP: a has dns only over UDP, so that entry matches nothing.
            new Rule(
                "x/p",
                0,
                false,
                List.of(new Peer("192.0.2.0/24", List.of())),
                false,
                List.of(tcp(80), new PortRange("UDP", 53, 53))),
            // Kept, matching nothing, so trace can still name it.
            new Rule("x/p", 1, true, List.of(), false, List.of())),
        s.ingress());
  }

  @Test
  void ingressNamedPortOfAPodWithoutPodObjectMatchesNothing() throws Exception {
    PolicySpec bare =
        compile(policy("p", "podSelector: {}\ningress: [{ports: [{port: serve-80-tcp}]}]"))
            .get("x/bare");
    assertEquals(List.of(new Rule("x/p", 0, true, List.of(), false, List.of())), bare.ingress());
  }

  @Test
  void egressNamedPortSplitsByThePeersResolvedPorts() throws Exception {
    PolicySpec s =
        specOfA(
            policy(
                "p",
                """
                podSelector: {matchLabels: {pod: a}}
                egress:
                  - to: [{namespaceSelector: {}}]
                    ports: [{port: serve-80-tcp}]
                """));
    assertTrue(s.egressIsolated());
    // d has no such port; bare has no Pod object: neither is a peer.
    assertEquals(
        List.of(
            new Rule("x/p", 0, false, List.of(A4, A6), false, List.of(tcp(80))),
            new Rule("x/p", 0, false, List.of(B4, B6), false, List.of(tcp(8080))),
            new Rule("x/p", 0, false, List.of(C), false, List.of(tcp(9090)))),
        s.egress());
  }

  @Test
  void egressNamedPortWithNumbersAndIpBlocks() throws Exception {
    PolicySpec s =
        specOfA(
            policy(
                "p",
                """
                podSelector: {matchLabels: {pod: a}}
                egress:
                  - to: [{ipBlock: {cidr: 192.0.2.0/24}}, {podSelector: {matchLabels: {pod: b}}}]
                    ports: [{port: 443}, {port: serve-80-tcp}]
                """));
    // The ipBlock gets only the numeric port: named ports never match ipBlocks.
    assertEquals(
        List.of(
            new Rule(
                "x/p",
                0,
                false,
                List.of(new Peer("192.0.2.0/24", List.of())),
                false,
                List.of(tcp(443))),
            new Rule("x/p", 0, false, List.of(B4, B6), false, List.of(tcp(443), tcp(8080)))),
        s.egress());
  }

  @Test
  void egressNamedPortToAnyPeer() throws Exception {
    PolicySpec s =
        specOfA(
            policy(
                "p",
                """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress:
                  - ports: [{port: 53, protocol: UDP}, {port: serve-80-tcp}]
                """));
    assertEquals(
        List.of(
            new Rule("x/p", 0, true, List.of(), false, List.of(new PortRange("UDP", 53, 53))),
            new Rule("x/p", 0, false, List.of(A4, A6), false, List.of(tcp(80))),
            new Rule("x/p", 0, false, List.of(B4, B6), false, List.of(tcp(8080))),
            new Rule("x/p", 0, false, List.of(C), false, List.of(tcp(9090)))),
        s.egress());
  }

  @Test
  void egressNamedPortNoPeerHasIsKeptMatchingNothing() throws Exception {
    PolicySpec s =
        specOfA(
            policy(
                "p",
                """
                podSelector: {matchLabels: {pod: a}}
                egress: [{to: [{podSelector: {matchLabels: {pod: b}}}], ports: [{port: nope}]}]
                """));
    assertEquals(List.of(new Rule("x/p", 0, false, List.of(B4, B6), false, List.of())), s.egress());
  }

  @Test
  void dualStackAddressesComeFromPodIPsOverTheAttachedOnes() throws Exception {
    String cluster =
        CLUSTER
            + """
              - metadata: {namespace: x, name: bare}
                status: {podIPs: [{ip: "fd00:1::11"}, {ip: 10.244.1.11}]}
            """;
    List<PolicySpec> specs =
        PolicyCompiler.compile(
            section(cluster, policy("p", "podSelector: {}\ningress: [{}]")), ATTACHED);
    assertEquals(List.of("10.244.1.10", "fd00:1::10"), specs.get(0).addresses());
    assertEquals(List.of("10.244.1.11", "fd00:1::11"), specs.get(1).addresses());
  }

  @Test
  void podsWithoutAddressesAreNoPeers() throws Exception {
    assertEquals(List.of(), ingressPeers("[{podSelector: {matchLabels: {pod: far}}}]"));
  }

  @Test
  void deterministicWhateverTheInputOrder() throws Exception {
    PolicySection s =
        section(
            CLUSTER,
            policy("p1", "podSelector: {}\ningress: [{from: [{namespaceSelector: {}}]}]"),
            policy("p2", "podSelector: {}\negress: [{ports: [{port: serve-80-tcp}]}]"),
            policy("p3", "podSelector: {matchLabels: {pod: a}}\ningress: [{ports: [{port: 1}]}]"));
    List<PolicySpec> first = PolicyCompiler.compile(s, ATTACHED);
    List<PodObject> pods = new ArrayList<>(s.pods());
    List<NetworkPolicy> policies = new ArrayList<>(s.networkPolicies());
    Collections.reverse(pods);
    Collections.reverse(policies);
    List<AttachedPod> attached = new ArrayList<>(ATTACHED);
    Collections.reverse(attached);
    List<PolicySpec> second =
        PolicyCompiler.compile(new PolicySection(s.namespaces(), pods, policies), attached);
    assertEquals(first, second);
    assertEquals(
        List.of("x/p1", "x/p3"), first.get(0).ingress().stream().map(Rule::policy).toList());
  }
}
