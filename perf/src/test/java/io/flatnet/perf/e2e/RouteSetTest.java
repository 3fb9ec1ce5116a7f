package io.flatnet.perf.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RouteSetTest {

  @Test
  void l3fwdRuleFileHasLpmDefaultV4Format() {
    String text = RouteSet.standard().l3fwdIpv4Rules();
    // lpm_route_parse.c: '#' comments, route lines 'R<addr>/<depth> <port>'.
    List<String> routes = text.lines().filter(l -> !l.startsWith("#")).toList();
    assertEquals(List.of("R10.253.0.0/23 0", "R10.253.2.0/23 1"), routes);
    assertTrue(RouteSet.l3fwdIpv6Rules().lines().anyMatch(l -> l.equals("R2001:db8::/32 0")));
  }

  @Test
  void flatnetArguments() {
    assertEquals(
        List.of("--route", "10.253.0.0/23=0", "--route", "10.253.2.0/23=1"),
        RouteSet.standard().flatnetArgs());
  }

  @Test
  void expectedSharesOfFlowgenTraffic() {
    assertEquals(0.5, RouteSet.standard().expectedPort0Share(), 1e-12);
    assertEquals(0.25, RouteSet.check().expectedPort0Share(), 1e-12);
    assertTrue(
        Double.isNaN(RouteSet.parse(List.of("10.253.0.0/24=0")).expectedPort0Share()),
        "flows that match no route would be hairpinned by l3fwd");
  }

  @Test
  void longestPrefixWins() {
    RouteSet r = RouteSet.parse(List.of("10.253.0.0/22=1", "10.253.0.0/24=0"));
    assertEquals(0, r.lookup(RouteSet.parseDotted("10.253.0.7")));
    assertEquals(1, r.lookup(RouteSet.parseDotted("10.253.3.7")));
    assertEquals(-1, r.lookup(RouteSet.parseDotted("10.254.0.1")));
  }

  @Test
  void rejectsBadRoutes() {
    assertThrows(IllegalArgumentException.class, () -> RouteSet.parse(List.of("10.253.0.1/24=0")));
    assertThrows(IllegalArgumentException.class, () -> RouteSet.parse(List.of("10.253.0.0/24=2")));
    assertThrows(IllegalArgumentException.class, () -> RouteSet.parse(List.of("10.253.0.0=0")));
    assertThrows(IllegalArgumentException.class, () -> RouteSet.parse(List.of("10.253.0/24=0")));
  }

  @Test
  void l3fwdPatchReplacesTheRxOffloadsOnce() {
    String src =
        "static struct rte_eth_conf port_conf = {\n\t.rxmode = {\n"
            + "\t\t.offloads = RTE_ETH_RX_OFFLOAD_CHECKSUM,\n\t},\n};\n";
    String patched = L3fwdBuild.patchMainC(src);
    assertTrue(patched.contains(".offloads = 0,"));
    assertTrue(!patched.contains("RTE_ETH_RX_OFFLOAD_CHECKSUM"));
    assertThrows(IllegalStateException.class, () -> L3fwdBuild.patchMainC("nothing"));
    assertThrows(IllegalStateException.class, () -> L3fwdBuild.patchMainC(src + src));
  }

  @Test
  void parsesFlatnetSummary() {
    String line =
        "{\"forwarded\":32575584,\"forwarded_mpps\":2.680,\"rx\":33643136,\"tx\":32575584,"
            + "\"seconds\":12.15,\"tx_by_port\":{\"net_vhost0\":16279424,\"net_vhost1\":16296160},"
            + "\"drops\":{\"tx-full\":1067552}}";
    FlatnetSummary s = FlatnetSummary.parse(line).orElseThrow();
    assertEquals(32575584, s.forwarded());
    assertEquals(2.68, s.forwardedMpps(), 1e-9);
    assertEquals(Map.of("net_vhost0", 16279424L, "net_vhost1", 16296160L), s.txByPort());
    assertEquals(Map.of("tx-full", 1067552L), s.drops());
    assertEquals(16279424 / 32575584.0, s.port0TxShare(), 1e-12);
    assertEquals(-1, s.gcCollections(), "an older line without the field");
    assertTrue(FlatnetSummary.parse("flatnet run: all links up").isEmpty());
    FlatnetSummary now =
        FlatnetSummary.parse(
                "{\"forwarded\":5,\"forwarded_mpps\":1.0,\"rx\":5,\"tx\":5,\"seconds\":1.00,"
                    + "\"gc_collections\":0,\"worker_allocated_bytes\":48,\"tx_by_port\":{},"
                    + "\"drops\":{}}")
            .orElseThrow();
    assertEquals(0, now.gcCollections());
    assertEquals(48, now.workerAllocatedBytes());
  }

  @Test
  void commandLinesFollowTheAnchors() {
    Commands c =
        new Commands(
            "dpdk-testpmd",
            java.nio.file.Path.of("/x/l3fwd"),
            "java",
            "cp",
            "gcp",
            1,
            0,
            0,
            null,
            null);
    var s0 = java.nio.file.Path.of("/t/p0.sock");
    var s1 = java.nio.file.Path.of("/t/p1.sock");
    List<String> gen = c.generator(s0, s1, 64);
    assertTrue(gen.contains("--single-file-segments"));
    assertTrue(gen.contains("--in-memory"));
    assertTrue(gen.contains("--lcores=0@1,1@0"));
    assertTrue(gen.contains("--txpkts=60"));
    List<String> l3 =
        c.dut(
            DutSystem.L3FWD,
            s0,
            s1,
            RouteSet.standard(),
            java.nio.file.Path.of("/t/v4"),
            java.nio.file.Path.of("/t/v6"),
            java.nio.file.Path.of("/t/run"));
    assertTrue(l3.contains("--parse-ptype"));
    assertTrue(l3.contains("--config=(0,0,1),(1,0,1)"));
    assertTrue(l3.contains("--rule_ipv4=/t/v4") && l3.contains("--rule_ipv6=/t/v6"));
    assertTrue(l3.contains("--lcores=1@1"));
  }
}
