package io.flatnet.agent.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.TestConfigs;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ConfigValidatorTest {

  private static List<String> errors(String yaml) throws ConfigException {
    NodeConfig c = ConfigLoader.parse(yaml, "t.yaml");
    return TestConfigs.VALIDATOR.validate(c).stream().map(ConfigError::toString).toList();
  }

  private static void assertHas(List<String> errors, String expected) {
    assertTrue(errors.contains(expected), "missing <" + expected + "> in " + errors);
  }

  @Test
  void atMostThirtyTwoPortsAndPods() throws Exception {
    NodeConfig c = ConfigLoader.parse(TestConfigs.BASE, "t.yaml");
    int room = ConfigValidator.MAX_DEVICES - c.ports().size() - c.pods().size();
    List<PodConfig> cni = new java.util.ArrayList<>();
    for (int i = 0; i < room; i++) {
      cni.add(
          new PodConfig(
              "cni/p" + i,
              "af_packet",
              null,
              null,
              "fnp" + i,
              List.of("10.244.1." + (100 + i)),
              null));
    }
    assertEquals(List.of(), TestConfigs.VALIDATOR.validate(c, cni));
    cni.add(
        new PodConfig(
            "cni/one-more", "af_packet", null, null, "fnx", List.of("10.244.1.200"), null));
    List<String> e =
        TestConfigs.VALIDATOR.validate(c, cni).stream().map(ConfigError::toString).toList();
    assertEquals(1, e.size(), e.toString());
    assertTrue(
        e.get(0).contains("33 DPDK ports; a router has at most 32 (RTE_MAX_ETHPORTS)"), e.get(0));
  }

  @Test
  void bridgePodsShareOneDpdkPort() throws Exception {
    NodeConfig c = ConfigLoader.parse(TestConfigs.BASE, "node.yaml");
    List<PodConfig> cni = new java.util.ArrayList<>();
    for (int i = 0; i < 200; i++) {
      cni.add(
          new PodConfig(
              "cni/b" + i,
              "bridge",
              null,
              null,
              "fnb" + i,
              List.of("10.244.1." + (i + 1)),
              "02:00:00:00:0" + (i / 100) + ":" + String.format("%02d", i % 100)));
    }
    List<ConfigError> errors = TestConfigs.VALIDATOR.validate(c, cni);
    // only address clashes with the base config's own pods, never the port limit
    assertTrue(
        errors.stream().noneMatch(e -> e.toString().contains("too many ports")), errors.toString());
    NodeConfig reserved =
        ConfigLoader.parse(
            TestConfigs.BASE.replaceFirst("name: uplink0", "name: pods0"), "node.yaml");
    assertTrue(
        TestConfigs.VALIDATOR.validate(reserved).stream()
            .anyMatch(
                e -> e.toString().contains("reserved for the router's port on the pod bridge")),
        TestConfigs.VALIDATOR.validate(reserved).toString());
  }

  @Test
  void baseIsValid() throws Exception {
    assertEquals(List.of(), errors(TestConfigs.BASE));
  }

  @Test
  void overlappingNodeCidrs() throws Exception {
    List<String> e =
        errors(
            TestConfigs.BASE.replace(
                "serviceCIDRs: [10.96.0.0/12]", "serviceCIDRs: [10.244.0.0/16]"));
    assertHas(
        e, "node.serviceCIDRs[0] \"10.244.0.0/16\": overlaps node.podCIDRs[0] (10.244.1.0/24)");
    e =
        errors(
            TestConfigs.BASE.replace("addresses: [192.0.2.10/24]", "addresses: [10.244.1.1/16]"));
    assertHas(
        e, "ports[0].addresses[0] \"10.244.0.0/16\": overlaps node.podCIDRs[0] (10.244.1.0/24)");
  }

  @Test
  void badPrefixSurfacesRouteTableMessage() throws Exception {
    List<String> e =
        errors(TestConfigs.BASE.replace("podCIDRs: [10.244.1.0/24,", "podCIDRs: [10.244.1.5/24,"));
    assertHas(
        e,
        "node.podCIDRs[0] \"10.244.1.5/24\": Invalid IPv4 prefix \"10.244.1.5/24\": IPv4 prefix"
            + " 10.244.1.5/24 has host bits set (rejected, not normalised; did you mean"
            + " 10.244.1.0/24?)");
    e = errors(TestConfigs.BASE.replace("via: 192.0.2.1", "via: 192.0.2.300"));
    assertTrue(
        e.stream()
            .anyMatch(s -> s.startsWith("routes[0].via \"192.0.2.300\": Invalid IPv4 address")),
        e.toString());
    e = errors(TestConfigs.BASE.replace("\"fd00:244:1::/64\"", "\"fd00:244:1::1/64\""));
    assertTrue(
        e.stream()
            .anyMatch(
                s -> s.startsWith("node.podCIDRs[1] \"fd00:244:1::1/64\": Invalid IPv6 prefix")),
        e.toString());
  }

  @Test
  void podIpOutsidePodCidrs() throws Exception {
    List<String> e = errors(TestConfigs.BASE.replace("ips: [10.244.1.10,", "ips: [10.9.9.9,"));
    assertHas(
        e, "pods[0].ips[0] \"10.9.9.9\": outside node.podCIDRs (10.244.1.0/24, fd00:244:1::/64)");
    e = errors(TestConfigs.BASE.replace("ips: [10.244.1.10,", "ips: [10.244.1.255,"));
    assertHas(
        e, "pods[0].ips[0] \"10.244.1.255\": is the network or broadcast address of 10.244.1.0/24");
  }

  @Test
  void peersOverlapEachOtherAndUs() throws Exception {
    String yaml =
        TestConfigs.BASE.replace(
            "routes:",
            """
              - name: node-c
                nodeIPs: [192.0.2.12]
                podCIDRs: [10.244.2.128/25, 10.244.1.0/25]
            routes:""");
    List<String> e = errors(yaml);
    assertHas(
        e,
        "peers[1].podCIDRs[0] \"10.244.2.128/25\": overlaps peers[0].podCIDRs[0] (10.244.2.0/24)");
    assertHas(
        e,
        "peers[1].podCIDRs[1] \"10.244.1.0/25\": overlaps our own node.podCIDRs[0] (10.244.1.0/24)");
  }

  @Test
  void peerNodeIpMustBeOnLinkAndOfTheFamily() throws Exception {
    List<String> e =
        errors(
            TestConfigs.BASE
                .replace("nodeIPs: [192.0.2.11]", "nodeIPs: [203.0.113.5]")
                .replace(
                    "podCIDRs: [10.244.2.0/24]", "podCIDRs: [10.244.2.0/24, \"fd00:244:2::/64\"]"));
    assertHas(
        e,
        "peers[0].nodeIPs[0] \"203.0.113.5\": not on-link on any uplink port (uplink subnets: uplink0 192.0.2.0/24)");
    assertHas(
        e,
        "peers[0].podCIDRs[1] \"fd00:244:2::/64\": no IPv6 node IP in peers[0].nodeIPs to route it via");
  }

  @Test
  void duplicateIpsAndMacs() throws Exception {
    String yaml =
        TestConfigs.BASE.replace(
            "peers:",
            """
              - name: default/b
                kind: tap
                interface: tapb
                ips: [10.244.1.10]
                mac: "02:00:00:00:01:0A"
            peers:""");
    List<String> e = errors(yaml);
    assertHas(e, "pods[1].ips[0] \"10.244.1.10\": duplicate address: also pods[0].ips[0]");
    assertHas(e, "pods[1].mac \"02:00:00:00:01:0A\": duplicate MAC: also pods[0].mac");
    e = errors(TestConfigs.BASE.replace("nodeIPs: [192.0.2.11]", "nodeIPs: [192.0.2.10]"));
    assertHas(
        e, "peers[0].nodeIPs[0] \"192.0.2.10\": duplicate address: also ports[0].addresses[0]");
  }

  @Test
  void multicastMac() throws Exception {
    List<String> e =
        errors(
            TestConfigs.BASE.replace("mac: \"02:00:00:00:01:0a\"", "mac: \"01:00:5e:00:00:01\""));
    assertHas(
        e,
        "pods[0].mac \"01:00:5e:00:00:01\": multicast/broadcast MAC (low bit of the first octet set)");
  }

  @Test
  void longSocketPath() throws Exception {
    String path = "/run/flatnet/vhost/" + "x".repeat(100) + ".sock";
    List<String> e = errors(TestConfigs.BASE.replace("/run/flatnet/vhost/a.sock", path));
    assertHas(
        e,
        "pods[0].socket \""
            + path
            + "\": "
            + path.length()
            + " bytes; a unix socket path is at most 107 bytes");
    String ok = "/" + "y".repeat(106);
    assertEquals(List.of(), errors(TestConfigs.BASE.replace("/run/flatnet/vhost/a.sock", ok)));
  }

  @Test
  void kindSpecificKeys() throws Exception {
    String yaml =
        TestConfigs.BASE
            .replace(
                "peers:",
                """
              - name: default/b
                kind: af_packet
                socket: /tmp/x.sock
                ips: [10.244.1.11]
              - name: default/c
                kind: veth
                ips: [10.244.1.12]
              - name: nonamespace
                kind: tap
                interface: "this-name-is-too-long"
                ips: [10.244.1.13]
            peers:""")
            .replace(
                "socket: /run/flatnet/vhost/a.sock",
                "socket: /run/flatnet/vhost/a.sock\n    mode: both");
    List<String> e = errors(yaml);
    assertHas(e, "pods[0].mode \"both\": must be client or server");
    assertHas(e, "pods[1].interface: required for a af_packet pod (host-side interface name)");
    assertHas(e, "pods[1].socket \"/tmp/x.sock\": only for vhost-user pods");
    assertHas(e, "pods[2].kind \"veth\": must be vhost-user, tap, af_packet or bridge");
    assertHas(e, "pods[3].name \"nonamespace\": expected namespace/name");
    assertHas(
        e,
        "pods[3].interface \"this-name-is-too-long\": not a valid interface name (1-15 bytes, no '/', ':' or spaces)");
  }

  @Test
  void unknownPortInRouteAndOffLinkVia() throws Exception {
    List<String> e = errors(TestConfigs.BASE.replace("port: uplink0", "port: eth9"));
    assertHas(e, "routes[0].port \"eth9\": unknown port (ports: uplink0)");
    e = errors(TestConfigs.BASE.replace("via: 192.0.2.1", "via: 203.0.113.1"));
    assertHas(
        e,
        "routes[0].via \"203.0.113.1\": not on-link on port uplink0 (its subnets: 192.0.2.0/24)");
    e = errors(TestConfigs.BASE.replace("via: 192.0.2.1", "via: \"2001:db8::1\""));
    assertHas(e, "routes[0].via \"2001:db8::1\": IPv6 next hop for an IPv4 prefix");
  }

  @Test
  void duplicateAndInsideRoutes() throws Exception {
    String yaml =
        TestConfigs.BASE
            + """
              - prefix: 10.244.2.0/24
                via: 192.0.2.1
                port: uplink0
              - prefix: 10.244.1.128/25
                port: uplink0
            """;
    List<String> e = errors(yaml);
    assertHas(
        e,
        "routes[1].prefix \"10.244.2.0/24\": duplicate route: peers[0].podCIDRs[0] routes 10.244.2.0/24 too");
    assertHas(
        e,
        "routes[2].prefix \"10.244.1.128/25\": inside our own node.podCIDRs[0] (10.244.1.0/24): pod"
            + " addresses are routed to pods");
  }

  @Test
  void gateways() throws Exception {
    List<String> e =
        errors(
            TestConfigs.BASE.replace(
                "gateways: [169.254.1.1, \"fe80::1\"]", "gateways: [10.0.0.1]"));
    assertHas(
        e,
        "node.gateways[0] \"10.0.0.1\": not inside node.podCIDRs (10.244.1.0/24, fd00:244:1::/64) and"
            + " not link-local (169.254.0.0/16, fe80::/10)");
    assertHas(
        e, "node.gateways: no IPv6 gateway for the IPv6 pod CIDR fd00:244:1::/64 (e.g. fe80::1)");
    // A gateway inside the pod CIDR is fine; its network address is not.
    assertEquals(
        List.of(),
        errors(
            TestConfigs.BASE.replace(
                "[169.254.1.1, \"fe80::1\"]", "[10.244.1.1, \"fd00:244:1::1\"]")));
    e =
        errors(
            TestConfigs.BASE.replace(
                "[169.254.1.1, \"fe80::1\"]", "[10.244.1.0, \"fe80::1\", 169.254.9.9]"));
    assertHas(
        e,
        "node.gateways[0] \"10.244.1.0\": is the network or broadcast address of node.podCIDRs[0] (10.244.1.0/24)");
    assertHas(
        e,
        "node.gateways[2] \"169.254.9.9\": a second IPv4 gateway (10.244.1.0 is already one); one per family");
    // A gateway that is also a pod address.
    e =
        errors(
            TestConfigs.BASE.replace("[169.254.1.1, \"fe80::1\"]", "[10.244.1.10, \"fe80::1\"]"));
    assertHas(e, "pods[0].ips[0] \"10.244.1.10\": duplicate address: also node.gateways[0]");
  }

  @Test
  void workers() throws Exception {
    List<String> e =
        errors(TestConfigs.BASE + "workers: {cpus: [1, 7, 1], burst: 64, idle: spin}\n");
    assertHas(e, "workers.cpus[1] \"7\": CPU not available (online CPUs: 0-3)");
    assertHas(e, "workers.cpus[2] \"1\": duplicate CPU");
    assertHas(
        e,
        "workers.burst \"64\": the dataplane's burst is fixed at 32 for now, so only 32 is accepted");
    assertHas(e, "workers.idle \"spin\": must be busy-spin or backoff");
    e = errors(TestConfigs.BASE + "workers: {burst: 0}\n");
    assertHas(
        e,
        "workers.burst \"0\": out of range 1..64; the dataplane's burst is fixed at 32 for now, so only 32 is accepted");
  }

  @Test
  void portChecks() throws Exception {
    String yaml =
        TestConfigs.BASE.replace(
            "pods:",
            """
              - name: uplink0
                device: ""
                role: trunk
                addresses: [198.51.100.0/24, "2001:db8::1/64", 198.51.100.7]
                mtu: 1000
            pods:""");
    List<String> e = errors(yaml);
    assertHas(e, "ports[1].name \"uplink0\": duplicate port name");
    assertHas(e, "ports[1].device \"\": required (DPDK devargs or a PCI address)");
    assertHas(e, "ports[1].role \"trunk\": must be uplink or host");
    assertHas(
        e,
        "ports[1].addresses[0] \"198.51.100.0/24\": is the network or broadcast address of 198.51.100.0/24");
    assertHas(e, "ports[1].mtu \"1000\": IPv6 needs an MTU of at least 1280");
    assertTrue(
        e.stream()
            .anyMatch(
                s ->
                    s.startsWith(
                        "ports[1].addresses[2] \"198.51.100.7\": Invalid interface address")),
        e.toString());
  }

  @Test
  void allErrorsAtOnce() throws Exception {
    String yaml =
        """
        node:
          podCIDRs: [10.244.1.0/24]
          serviceCIDRs: [10.244.1.0/25]
          gateways: [8.8.8.8]
        pods:
          - {name: a/b, kind: tap, interface: t0, ips: [10.1.1.1]}
        routes:
          - {prefix: 10.0.0.0/8, port: nope}
        workers: {idle: x}
        """;
    List<String> e = errors(yaml);
    assertHas(e, "node.name: required");
    assertTrue(e.size() >= 6, e.toString());
    assertTrue(e.stream().anyMatch(s -> s.startsWith("node.serviceCIDRs[0]")));
    assertTrue(e.stream().anyMatch(s -> s.startsWith("node.gateways[0]")));
    assertTrue(e.stream().anyMatch(s -> s.startsWith("pods[0].ips[0]")));
    assertTrue(e.stream().anyMatch(s -> s.startsWith("routes[0].port")));
    assertTrue(e.stream().anyMatch(s -> s.startsWith("workers.idle")));
  }

  @Test
  void runtimePodsAreValidatedWithTheConfig() throws Exception {
    NodeConfig c = ConfigLoader.parse(TestConfigs.BASE, "t");
    PodConfig bad =
        new PodConfig("kube/x", "af_packet", null, null, "fnx", List.of("10.244.1.10"), null);
    List<String> e =
        TestConfigs.VALIDATOR.validate(c, List.of(bad)).stream()
            .map(ConfigError::toString)
            .toList();
    assertEquals(
        List.of("cniPods[kube/x].ips[0] \"10.244.1.10\": duplicate address: also pods[0].ips[0]"),
        e);
  }

  @Test
  void missingNode() throws Exception {
    assertEquals(
        List.of("node: required section missing (name, podCIDRs, gateways, ...)"),
        errors("ports: []\n"));
  }

  @Test
  void cpuList() {
    assertEquals(Set.of(0, 1, 2, 3, 6), ConfigValidator.parseCpuList("0-3,6"));
    assertEquals("0-3,6", ConfigValidator.cpuList(Set.of(0, 1, 2, 3, 6)));
    assertTrue(ConfigValidator.onlineCpus().contains(0));
  }

  @Test
  void namesAndPathsThatReachDevargsAllowOnlySafeCharacters() throws Exception {
    List<String> e = errors(TestConfigs.BASE.replace("name: uplink0", "name: \"up,iface=x\""));
    assertHas(
        e,
        "ports[0].name \"up,iface=x\": ',' at position 3 is not allowed: names may only use"
            + " A-Z a-z 0-9 . _ - (they are passed to DPDK as devargs)");
    e = errors(TestConfigs.BASE.replace("/run/flatnet/vhost/a.sock", "\"/run/a.sock,queues=9\""));
    assertHas(
        e,
        "pods[0].socket \"/run/a.sock,queues=9\": ',' at position 12 is not allowed: paths may"
            + " only use A-Z a-z 0-9 . _ - and / (they are passed to DPDK as devargs)");
    e = errors(TestConfigs.BASE.replace("name: default/a", "name: \"default/a b\""));
    assertHas(
        e,
        "pods[0].name \"default/a b\": a space at position 10 is not allowed: paths may only use"
            + " A-Z a-z 0-9 . _ - and / (they are passed to DPDK as devargs)");
    assertEquals(1, e.size(), "no second message for the same name: " + e);
  }

  @Test
  void cniPodsGetTheSameCharacterChecks() throws Exception {
    NodeConfig c = ConfigLoader.parse(TestConfigs.BASE, "t.yaml");
    List<PodConfig> cni =
        List.of(
            new PodConfig(
                "cni/p1", "af_packet", null, null, "fn1=x", List.of("10.244.1.100"), null),
            new PodConfig(
                "cni/p2", "tap", null, null, "fn2\nqpairs", List.of("10.244.1.101"), null),
            new PodConfig(
                "cni/p3",
                "vhost-user",
                "/run/flatnet/vhost/p3.sock,iface=/etc/x",
                "server",
                null,
                List.of("10.244.1.102"),
                null));
    List<String> e =
        TestConfigs.VALIDATOR.validate(c, cni).stream().map(ConfigError::toString).toList();
    assertEquals(3, e.size(), e.toString());
    assertTrue(
        e.get(0)
            .startsWith("cniPods[cni/p1].interface \"fn1=x\": '=' at position 4 is not allowed"),
        e.get(0));
    assertTrue(e.get(1).contains("cniPods[cni/p2].interface"), e.get(1));
    assertTrue(e.get(1).contains("a newline at position 4 is not allowed"), e.get(1));
    assertTrue(
        e.get(2)
            .startsWith("cniPods[cni/p3].socket \"/run/flatnet/vhost/p3.sock,iface=/etc/x\": ','"),
        e.get(2));
  }

  @Test
  void agentWritersAndSocketGroup() throws Exception {
    assertEquals(
        List.of(),
        errors(TestConfigs.BASE + "agent:\n  writers: [cni-user, 1000]\n  socketGroup: flatnet\n"));
    List<String> e =
        errors(TestConfigs.BASE + "agent:\n  writers: [\"a,b\", \"\"]\n  socketGroup: \" \"\n");
    assertHas(
        e,
        "agent.writers[0] \"a,b\": ',' at position 2 is not allowed: names may only use"
            + " A-Z a-z 0-9 . _ -");
    assertHas(e, "agent.writers[1] \"\": empty (a user name or a uid)");
    assertHas(e, "agent.socketGroup \" \": empty (a group name or a gid)");
  }

  @Test
  void theKernelEndIsConfiguredOnlyOnANamedTapOfAHostPort() throws Exception {
    String hostPort =
        """
          - name: host0
            device: net_tap0,iface=flatnet-host
            role: host
            kernel: {configure: true, namespace: node-kernel}
        """;
    String ok = TestConfigs.BASE.replace("pods:\n", hostPort + "pods:\n");
    assertEquals(List.of(), errors(ok));
    NodeConfig c = ConfigLoader.parse(ok, "t.yaml");
    assertEquals(new HostKernel(true, "node-kernel"), c.ports().get(1).kernel());
    assertEquals("flatnet-host", HostKernel.tapName(c.ports().get(1).device()));

    assertHas(
        errors(ok.replace("net_tap0,iface=flatnet-host", "net_tap0")),
        "ports[1].kernel.configure \"true\": needs a TAP with its kernel name in the device"
            + " (net_tapN,iface=NAME), got net_tap0");
    assertHas(
        errors(ok.replace("namespace: node-kernel", "namespace: \"a b\"")),
        "ports[1].kernel.namespace \"a b\": a space at position 2 is not allowed: names may only use"
            + " A-Z a-z 0-9 . _ - (a name under ip netns)");
    assertHas(
        errors(
            TestConfigs.BASE.replace(
                "addresses: [192.0.2.10/24]",
                "addresses: [192.0.2.10/24]\n    kernel: {configure: true}")),
        "ports[0].kernel: only a host port has a kernel end to configure");
    assertEquals(
        false,
        ConfigLoader.parse(ok.replace("configure: true, ", ""), "t")
            .ports()
            .get(1)
            .kernel()
            .configure());
  }
}
