package io.flatnet.agent.bgp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.TestConfigs;
import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.NodeConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link FrrConfigWriter} against golden files (src/test/resources/bgp/*.conf). */
class FrrConfigWriterTest {

  /** A dual-stack node with two IPv4 ToRs (eBGP), one IPv6 ToR and an iBGP route reflector. */
  static final String NODE =
      """
      node:
        name: rack1-node1
        podCIDRs: [10.244.1.0/24, "fd00:244:1::/64"]
        gateways: [169.254.1.1, "fe80::1"]
      ports:
        - name: uplink0
          device: "0000:3b:00.0"
          role: uplink
          addresses: [192.0.2.10/24, "2001:db8:1::10/64"]
        - name: uplink1
          device: "0000:3b:00.1"
          role: uplink
          addresses: [198.51.100.10/24]
      bgp:
        asn: 65001
        neighbors:
          - address: 192.0.2.1
            asn: 65100
            description: tor-a
          - address: 198.51.100.1
            asn: 65101
            description: tor-b
          - address: "2001:db8:1::1"
            asn: 65100
          - address: 192.0.2.2
            asn: 65001
            description: route reflector
        maximumPaths: 4
        keepalive: 1
        hold: 3
        fpm: {address: 127.0.0.1, port: 2621}
      """;

  private static String golden(String name) throws IOException {
    try (InputStream in = FrrConfigWriterTest.class.getResourceAsStream("/bgp/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void matchesGoldenFiles() throws Exception {
    NodeConfig c = ConfigLoader.parse(NODE, "node.yaml");
    assertEquals(List.of(), TestConfigs.VALIDATOR.validate(c));
    FrrConfigWriter.Files f = FrrConfigWriter.write(c);
    assertEquals(golden("zebra.conf"), f.zebra(), f.zebra());
    assertEquals(golden("bgpd.conf"), f.bgpd(), f.bgpd());
    assertEquals(f, FrrConfigWriter.write(ConfigLoader.parse(NODE, "again.yaml")));
  }

  @Test
  void defaultsAndOneFamily() throws Exception {
    String v4only =
        NODE.replace("[10.244.1.0/24, \"fd00:244:1::/64\"]", "[10.244.1.0/24]")
            .replace("[169.254.1.1, \"fe80::1\"]", "[169.254.1.1]")
            .replace("    - address: \"2001:db8:1::1\"\n      asn: 65100\n", "")
            .replace("  maximumPaths: 4\n  keepalive: 1\n  hold: 3\n", "")
            .replace("  fpm: {address: 127.0.0.1, port: 2621}\n", "")
            .replace("name: rack1-node1", "name: \"odd name\"");
    NodeConfig c = ConfigLoader.parse(v4only, "node.yaml");
    assertEquals(List.of(), TestConfigs.VALIDATOR.validate(c));
    FrrConfigWriter.Files f = FrrConfigWriter.write(c);
    assertTrue(f.zebra().contains("\nfpm address 127.0.0.1 port 2620\n"), f.zebra());
    assertFalse(f.zebra().contains("hostname"), f.zebra());
    assertTrue(f.bgpd().contains(" bgp router-id 192.0.2.10\n"), f.bgpd());
    assertTrue(f.bgpd().contains(" timers bgp 3 9\n"), f.bgpd());
    assertTrue(f.bgpd().contains("  network 10.244.1.0/24\n  maximum-paths 8\n"), f.bgpd());
    assertFalse(f.bgpd().contains("ipv6"), f.bgpd());
    assertFalse(f.bgpd().contains("route-map"), f.bgpd());
  }

  @Test
  void advertiseReplacesPodCidrs() throws Exception {
    NodeConfig c =
        ConfigLoader.parse(
            NODE.replace(
                "bgp:\n  asn: 65001\n", "bgp:\n  asn: 65001\n  advertise: [10.250.0.0/16]\n"),
            "n");
    String bgpd = FrrConfigWriter.write(c).bgpd();
    assertTrue(bgpd.contains("  network 10.250.0.0/16\n"), bgpd);
    assertFalse(bgpd.contains("10.244.1.0/24"), bgpd);
    assertFalse(bgpd.contains("network fd00"), bgpd);
    // the IPv6 neighbour keeps its address family (it receives, announces nothing)
    assertTrue(bgpd.contains("  neighbor 2001:db8:1::1 activate\n"), bgpd);
  }

  @Test
  void noBgpSection() throws Exception {
    NodeConfig c = ConfigLoader.parse(TestConfigs.BASE, "n");
    assertThrows(IllegalArgumentException.class, () -> FrrConfigWriter.write(c));
  }
}
