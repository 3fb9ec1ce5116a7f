package io.flatnet.agent.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.TestConfigs;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The {@code bgp:} section's checks (ConfigValidator), on {@link TestConfigs#BASE} plus BGP. */
class BgpConfigValidatorTest {

  /** BASE with an IPv6 uplink address and a bgp section of one IPv4 and one IPv6 ToR. */
  static final String BGP =
      TestConfigs.BASE.replace(
              "addresses: [192.0.2.10/24]", "addresses: [192.0.2.10/24, \"2001:db8:1::10/64\"]")
          + """
          bgp:
            asn: 65001
            neighbors:
              - address: 192.0.2.1
                asn: 65100
                description: tor-a
              - address: "2001:db8:1::1"
                asn: 65100
          """;

  private static List<String> errors(String yaml) throws ConfigException {
    NodeConfig c = ConfigLoader.parse(yaml, "t.yaml");
    return TestConfigs.VALIDATOR.validate(c).stream().map(ConfigError::toString).toList();
  }

  private static void assertHas(List<String> errors, String expected) {
    assertTrue(errors.contains(expected), "missing <" + expected + "> in " + errors);
  }

  @Test
  void validWithDefaults() throws Exception {
    assertEquals(List.of(), errors(BGP));
    NodeConfig c = ConfigLoader.parse(BGP, "t.yaml");
    BgpConfig b = c.bgp();
    assertTrue(c.bgpEnabled());
    assertEquals("192.0.2.10", b.routerIdFor(c));
    assertEquals(List.of("10.244.1.0/24", "fd00:244:1::/64"), b.advertiseFor(c));
    assertEquals(8, b.maximumPaths());
    assertEquals(3, b.keepalive());
    assertEquals(9, b.hold());
    assertEquals("127.0.0.1", b.fpm().address());
    assertEquals(2620, b.fpm().port());
    assertEquals(true, b.frr().manage());
    assertEquals("/usr/lib/frr", b.frr().binDir());
    assertEquals(null, b.frr().runDir());
  }

  @Test
  void asnRange() throws Exception {
    assertHas(
        errors(BGP.replace("asn: 65001", "asn: 0")), "bgp.asn \"0\": out of range 1..4294967295");
    assertEquals(List.of(), errors(BGP.replace("asn: 65001", "asn: 4294967295")));
    assertHas(
        errors(BGP.replace("asn: 65001", "asn: 4294967296")),
        "bgp.asn \"4294967296\": out of range 1..4294967295");
    assertHas(
        errors(BGP.replace("  asn: 65001\n", "")),
        "bgp.asn: required (an AS number, 1..4294967295)");
    assertHas(
        errors(BGP.replace("asn: 65100\n      description", "asn: -1\n      description")),
        "bgp.neighbors[0].asn \"-1\": out of range 1..4294967295");
    assertHas(
        errors(BGP.replace("      asn: 65100\n      description: tor-a\n", "")),
        "bgp.neighbors[0].asn: required (an AS number, 1..4294967295)");
  }

  @Test
  void routerId() throws Exception {
    String explicit = BGP.replace("asn: 65001\n", "asn: 65001\n  routerId: 10.0.0.1\n");
    assertEquals(List.of(), errors(explicit));
    NodeConfig c = ConfigLoader.parse(explicit, "t");
    assertEquals("10.0.0.1", c.bgp().routerIdFor(c));
    assertHas(
        errors(BGP.replace("asn: 65001\n", "asn: 65001\n  routerId: \"2001:db8::1\"\n")),
        "bgp.routerId \"2001:db8::1\": must be an IPv4 address (BGP's router id)");
    assertTrue(
        errors(BGP.replace("asn: 65001\n", "asn: 65001\n  routerId: 10.0.0.300\n")).stream()
            .anyMatch(e -> e.startsWith("bgp.routerId \"10.0.0.300\": Invalid IPv4 address")));
    // IPv6-only uplink, no IPv4 anywhere: no default
    String v6only =
        BGP.replace("[192.0.2.10/24, \"2001:db8:1::10/64\"]", "[\"2001:db8:1::10/64\"]")
            .replace("    - address: 192.0.2.1\n      asn: 65100\n      description: tor-a\n", "");
    assertHas(
        errors(v6only),
        "bgp.routerId: required: the node has no IPv4 address in ports[].addresses to take it from");
  }

  @Test
  void neighboursOnLinkUniqueNotOwn() throws Exception {
    List<String> e = errors(BGP.replace("address: 192.0.2.1", "address: 203.0.113.1"));
    assertHas(
        e,
        "bgp.neighbors[0].address \"203.0.113.1\": not on-link on any uplink port (uplink"
            + " subnets: uplink0 192.0.2.0/24, uplink0 2001:db8:1::/64)");
    e = errors(BGP.replace("address: \"2001:db8:1::1\"", "address: 192.0.2.1"));
    assertHas(
        e, "bgp.neighbors[1].address \"192.0.2.1\": duplicate neighbour: also bgp.neighbors[0]");
    e = errors(BGP.replace("address: 192.0.2.1", "address: 192.0.2.10"));
    assertHas(
        e,
        "bgp.neighbors[0].address \"192.0.2.10\": is this node's own address"
            + " (ports[0].addresses[0])");
    e = errors(BGP.replace("address: \"2001:db8:1::1\"", "address: \"fe80::1\""));
    assertHas(
        e,
        "bgp.neighbors[1].address \"fe80::1\": link-local neighbours are not supported: flatnet"
            + " cannot use link-local next hops; use the neighbour's address on the uplink subnet");
    e = errors(BGP.replace("address: 192.0.2.1", "address: 192.0.2.1/24"));
    assertTrue(
        e.stream().anyMatch(s -> s.startsWith("bgp.neighbors[0].address \"192.0.2.1/24\": ")),
        e.toString());
    e = errors(BGP.replace("description: tor-a", "description: \"a\\nrouter bgp 1\""));
    assertHas(
        e,
        "bgp.neighbors[0].description \"a\nrouter bgp 1\": at most 80 characters on one line, no"
            + " control characters (it is a line of FRR's config)");
    String none =
        TestConfigs.BASE
            + """
            bgp:
              asn: 65001
            """;
    assertHas(
        errors(none),
        "bgp.neighbors: at least one neighbour is required (the top-of-rack switches)");
  }

  @Test
  void neighbourOnAHostPortIsNotOnLink() throws Exception {
    String host =
        """
          - name: host0
            device: net_tap0,iface=fl-host
            role: host
            addresses: [198.51.100.1/30]
        pods:
        """;
    String yaml =
        BGP.replaceFirst("pods:\n", host).replace("address: 192.0.2.1", "address: 198.51.100.2");
    assertHas(
        errors(yaml),
        "bgp.neighbors[0].address \"198.51.100.2\": not on-link on any uplink port (uplink"
            + " subnets: uplink0 192.0.2.0/24, uplink0 2001:db8:1::/64)");
  }

  @Test
  void advertiseCanonicalUnique() throws Exception {
    String adv = "asn: 65001\n  advertise: [%s]\n";
    assertEquals(
        List.of(),
        errors(BGP.replace("asn: 65001\n", adv.formatted("10.244.1.0/24, 10.250.0.0/16"))));
    NodeConfig c =
        ConfigLoader.parse(BGP.replace("asn: 65001\n", adv.formatted("10.250.0.0/16")), "t");
    assertEquals(List.of("10.250.0.0/16"), c.bgp().advertiseFor(c));
    List<String> e =
        errors(
            BGP.replace(
                "asn: 65001\n",
                adv.formatted(
                    "10.244.1.1/24, \"fd00:244:1:0::/64\", 10.250.0.0/16, 10.250.0.0/16, x")));
    assertTrue(
        e.stream()
            .anyMatch(s -> s.startsWith("bgp.advertise[0] \"10.244.1.1/24\": Invalid IPv4 prefix")),
        e.toString());
    assertHas(
        e, "bgp.advertise[1] \"fd00:244:1:0::/64\": not in canonical form: write fd00:244:1::/64");
    assertHas(e, "bgp.advertise[3] \"10.250.0.0/16\": duplicate prefix: also bgp.advertise[2]");
    assertTrue(e.stream().anyMatch(s -> s.startsWith("bgp.advertise[4] \"x\": ")), e.toString());
  }

  @Test
  void pathsAndTimers() throws Exception {
    String with = "asn: 65001\n  maximumPaths: %d\n  keepalive: %d\n  hold: %d\n";
    assertEquals(List.of(), errors(BGP.replace("asn: 65001\n", with.formatted(16, 1, 3))));
    assertEquals(List.of(), errors(BGP.replace("asn: 65001\n", with.formatted(1, 60, 0))));
    List<String> e = errors(BGP.replace("asn: 65001\n", with.formatted(17, 0, 2)));
    assertHas(e, "bgp.maximumPaths \"17\": out of range 1..16");
    assertHas(e, "bgp.keepalive \"0\": out of range 1..65535 (seconds)");
    assertHas(e, "bgp.hold \"2\": must be 0 (no hold timer) or 3..65535 seconds (RFC 4271)");
    e = errors(BGP.replace("asn: 65001\n", with.formatted(0, 10, 10)));
    assertHas(e, "bgp.maximumPaths \"0\": out of range 1..16");
    assertHas(
        e,
        "bgp.hold \"10\": must be more than bgp.keepalive (10); usually three times it, e.g. 30");
  }

  @Test
  void fpmAndFrr() throws Exception {
    String with =
        "asn: 65001\n  fpm: {address: \"%s\", port: %d}\n  frr: {binDir: \"%s\", runDir: \"%s\"}\n";
    assertEquals(
        List.of(),
        errors(
            BGP.replace(
                "asn: 65001\n", with.formatted("127.0.0.1", 2621, "/opt/frr/bin", "/run/fl/frr"))));
    String longDir = "/" + "d".repeat(100);
    List<String> e =
        errors(BGP.replace("asn: 65001\n", with.formatted("localhost", 0, "bin", longDir)));
    assertTrue(
        e.stream().anyMatch(s -> s.startsWith("bgp.fpm.address \"localhost\": ")), e.toString());
    assertHas(e, "bgp.fpm.port \"0\": out of range 1..65535");
    assertHas(e, "bgp.frr.binDir \"bin\": must be an absolute path");
    assertHas(
        e,
        "bgp.frr.runDir \""
            + longDir
            + "\": too long: FRR's sockets there (zserv.api) would take 111 bytes; a unix socket"
            + " path is at most 107");
    e = errors(BGP.replace("asn: 65001\n", with.formatted("::1", 70000, "/a b", "/ok")));
    assertHas(e, "bgp.fpm.port \"70000\": out of range 1..65535");
    assertHas(
        e,
        "bgp.frr.binDir \"/a b\": a space at position 3 is not allowed: paths may only use A-Z a-z"
            + " 0-9 . _ - and / (it is on FRR's command lines)");
  }

  @Test
  void frrInstalledOnlyWhenManaged() throws Exception {
    NodeConfig c = ConfigLoader.parse(BGP, "t");
    assertEquals(List.of(), ConfigValidator.frrInstalled(c, p -> true));
    Set<Path> present = Set.of(Path.of("/usr/lib/frr/zebra"));
    assertEquals(
        List.of(
            "bgp.frr.binDir \"/usr/lib/frr\": no bgpd there: install FRR (Debian: apt-get install"
                + " frr), point bgp.frr.binDir at its daemons, or run FRR yourself with"
                + " bgp.frr.manage: false"),
        ConfigValidator.frrInstalled(c, present::contains).stream()
            .map(ConfigError::toString)
            .toList());
    assertEquals(
        "bgp.frr.binDir \"/usr/lib/frr\": no zebra or bgpd there: install FRR (Debian: apt-get"
            + " install frr), point bgp.frr.binDir at its daemons, or run FRR yourself with"
            + " bgp.frr.manage: false",
        ConfigValidator.frrInstalled(c, p -> false).get(0).toString());
    NodeConfig unmanaged =
        ConfigLoader.parse(
            BGP.replace("asn: 65001\n", "asn: 65001\n  frr: {manage: false}\n"), "t");
    assertEquals(List.of(), ConfigValidator.frrInstalled(unmanaged, p -> false));
    assertEquals(
        List.of(),
        ConfigValidator.frrInstalled(ConfigLoader.parse(TestConfigs.BASE, "t"), p -> false));
  }

  @Test
  void docExampleIsValid() throws Exception {
    String md = java.nio.file.Files.readString(Path.of("..", "docs", "config.md"));
    int section = md.indexOf("### `bgp`");
    int start = md.indexOf("```yaml\n", section) + "```yaml\n".length();
    String example = md.substring(start, md.indexOf("```", start));
    String yaml =
        TestConfigs.BASE.replace(
                "addresses: [192.0.2.10/24]", "addresses: [192.0.2.10/24, \"2001:db8:1::10/64\"]")
            + example;
    assertEquals(List.of(), errors(yaml));
  }
}
