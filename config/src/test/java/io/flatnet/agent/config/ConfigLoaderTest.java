package io.flatnet.agent.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.TestConfigs;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConfigLoaderTest {

  private static List<String> errors(String yaml) {
    ConfigException e =
        assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml, "t.yaml"));
    return e.errors().stream().map(ConfigError::toString).toList();
  }

  @Test
  void docsFullExampleParsesAndValidates() throws Exception {
    NodeConfig c = ConfigLoader.parse(TestConfigs.docExample(), "docs/config.md");
    assertEquals("node-a", c.node().name());
    assertEquals(2, c.ports().size());
    assertEquals("fnlegacy0", c.pods().get(1).iface());
    assertEquals("0000:3b:00.0", c.ports().get(0).device());
    assertEquals(List.of(), TestConfigs.VALIDATOR.validate(c));
  }

  @Test
  void defaults() throws Exception {
    NodeConfig c =
        ConfigLoader.parse(
            "node: {name: n, podCIDRs: [10.0.0.0/24]}\nports: [{name: p, device: d, role: uplink}]\n",
            "t");
    assertEquals(1500, c.ports().get(0).mtu());
    assertEquals(List.of(), c.pods());
    assertEquals(WorkersConfig.DEFAULT, c.workers());
    assertEquals(32, c.workers().burst());
    assertEquals("busy-spin", c.workers().idle());
    assertNull(c.node().routerMac());
  }

  @Test
  void unknownKeyNamesPathAndSuggestion() {
    String yaml =
        TestConfigs.BASE
            .replace(
                "pods:\n",
                "pods:\n  - {name: x/b, kind: tap, interface: t1, ips: [10.244.1.2]}\n"
                    + "  - {name: x/c, kind: tap, interface: t2, ips: [10.244.1.3]}\n")
            .replace("socket: /run/flatnet/vhost/a.sock", "sockt: /run/flatnet/vhost/a.sock");
    assertEquals(List.of("pods[2].sockt: unknown key (did you mean socket?)"), errors(yaml));
  }

  @Test
  void kubernetesSectionIsOptionalAndStrict() throws Exception {
    NodeConfig c = ConfigLoader.parse(TestConfigs.BASE, "t.yaml");
    assertEquals(KubernetesConfig.DEFAULT, c.kubernetes());
    NodeConfig on =
        ConfigLoader.parse(
            TestConfigs.BASE + "kubernetes: {watchNodes: true, kubeconfig: /etc/k.conf}\n",
            "t.yaml");
    assertEquals(new KubernetesConfig(true, false, "/etc/k.conf"), on.kubernetes());
    assertEquals(List.of(), TestConfigs.VALIDATOR.validate(on));
    assertEquals(
        List.of("kubernetes.watchNode: unknown key (did you mean watchNodes?)"),
        errors(TestConfigs.BASE + "kubernetes: {watchNode: true}\n"));
    assertEquals(
        List.of("kubernetes.watchNodes: expected Boolean"),
        errors(TestConfigs.BASE + "kubernetes: {watchNodes: [1]}\n"));
    assertEquals(
        List.of(
            "kubernetes.kubeconfig \"k.conf\": must be an absolute path (leave it out for"
                + " in-cluster or ~/.kube/config)"),
        TestConfigs.VALIDATOR
            .validate(
                ConfigLoader.parse(TestConfigs.BASE + "kubernetes: {kubeconfig: k.conf}\n", "t"))
            .stream()
            .map(ConfigError::toString)
            .toList());
  }

  @Test
  void everyUnknownKeyIsReported() {
    String yaml = TestConfigs.BASE + "workers:\n  cpu: [1]\n  idel: backoff\n" + "extra: 1\n";
    List<String> errs = errors(yaml.replace("  serviceCIDRs:", "  servceCIDRs:"));
    assertEquals(
        List.of(
            "node.servceCIDRs: unknown key (did you mean serviceCIDRs?)",
            "workers.cpu: unknown key (did you mean cpus?)",
            "workers.idel: unknown key (did you mean idle?)",
            "extra: unknown key (known keys: node, ports, pods, peers, routes, workers, kubernetes, agent, policy, bgp)"),
        errs);
  }

  @Test
  void wrongTypeNamesPath() {
    List<String> errs =
        errors(
            "node: {name: n, podCIDRs: [10.0.0.0/24]}\nports: [{name: p, device: d, mtu: abc}]\n");
    assertEquals(1, errs.size());
    assertTrue(errs.get(0).startsWith("ports[0].mtu \"abc\": expected an integer"), errs.get(0));
  }

  @Test
  void listExpected() {
    List<String> errs = errors("node: {name: n, podCIDRs: 10.0.0.0/24}\n");
    assertTrue(errs.get(0).startsWith("node.podCIDRs"), errs.get(0));
  }

  @Test
  void duplicateKeyIsAnError() {
    List<String> errs = errors("node: {name: n}\nnode: {name: m}\n");
    assertTrue(errs.get(0).contains("Duplicate field 'node'"), errs.get(0));
  }

  @Test
  void syntaxErrorNamesLine() {
    List<String> errs = errors("node:\n  name: [unclosed\n");
    assertTrue(errs.get(0).startsWith("line "), errs.get(0));
  }

  @Test
  void emptyFile() {
    assertEquals(List.of("(file): config is empty"), errors(""));
    assertEquals(List.of("(file): config is empty"), errors("# only a comment\n"));
  }

  @Test
  void scalarTopLevel() {
    assertTrue(errors("hello\n").get(0).contains("expected a mapping"));
  }

  @Test
  void colonValuesThatYamlReadsAsNumbersGetAHint() throws Exception {
    List<String> errs =
        errors(
            "node: {name: n, podCIDRs: [10.0.0.0/24]}\nports: [{name: p, device: 0000:00:08.0}]\n");
    assertTrue(errs.get(0).contains("quote them"), errs.toString());
    NodeConfig c =
        ConfigLoader.parse(
            "node: {name: n, podCIDRs: [10.0.0.0/24], routerMac: \"10:20:30:40:50:59\"}\n"
                + "ports: [{name: p, device: \"0000:00:08.0\", role: uplink}]\n",
            "t");
    assertEquals("10:20:30:40:50:59", c.node().routerMac());
    assertEquals("0000:00:08.0", c.ports().get(0).device());
  }

  @Test
  void unquotedMacStaysText() throws Exception {
    String yaml = "node: {name: n, podCIDRs: [10.0.0.0/24], routerMac: 10:20:30:40:50:59}\n";
    assertEquals("10:20:30:40:50:59", ConfigLoader.parse(yaml, "t").node().routerMac());
  }

  @Test
  void didYouMean() {
    assertEquals(
        "unknown key (did you mean podCIDRs?)",
        ConfigLoader.unknownKeyMessage("podCidrs", List.of("name", "podCIDRs", "serviceCIDRs")));
    assertEquals(1, ConfigLoader.distance("sockt", "socket"));
  }
}
