package io.flatnet.agent.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The conformance cases file parses, without a node or root: names unique, every policy has a spec
 * with a podSelector, placeholders resolve, and the truth table language does what upstream's
 * ExpectPeer/ExpectAllIngress/ExpectAllEgress/Expect do.
 */
class NetpolCasesTest {

  @Test
  void casesLoad() throws Exception {
    List<NetpolCase> cases = NetpolCase.load(NetworkPolicyConformanceTest.CASES);
    Set<String> names = new HashSet<>();
    int upstream = 0;
    Map<String, String> ips = new java.util.LinkedHashMap<>();
    for (int i = 0; i < NetpolCase.PODS.size(); i++) {
      ips.put(NetpolCase.PODS.get(i), "10.244.5." + (i + 1));
    }
    for (NetpolCase c : cases) {
      assertTrue(names.add(c.name()), "duplicate case name " + c.name());
      if (!c.upstream().isEmpty()) {
        upstream++;
      }
      for (NetpolCase.Step s : c.steps()) {
        for (var p : s.policies()) {
          assertTrue(p.path("spec").has("podSelector"), c.name() + ": " + p);
        }
        String resolved = NetpolCase.resolve(s.policies(), ips).toString();
        assertFalse(resolved.contains("${"), resolved);
      }
    }
    assertTrue(upstream >= 40, "upstream cases: " + upstream);
    System.out.println("netpol cases: " + cases.size() + ", from upstream: " + upstream);
  }

  @Test
  void truthTables() {
    NetpolCase.Truth t = new NetpolCase.Truth(true);
    t.apply("deny * -> x/*");
    t.apply("allow x/b -> x/a");
    t.apply("deny */a -> y/b");
    assertFalse(t.get("y/c", "x/c"));
    assertTrue(t.get("x/b", "x/a"));
    assertFalse(t.get("x/c", "x/a"));
    assertTrue(t.get("x/a", "y/a"));
    assertFalse(t.get("z/a", "y/b"));
    assertTrue(t.get("z/b", "y/b"));
    NetpolCase.Truth seen = new NetpolCase.Truth(true);
    seen.apply("deny * -> x/*");
    seen.apply("allow x/b -> x/a");
    seen.apply("deny */a -> y/b");
    seen.set("x/c", "x/a", true); // expected X
    seen.set("z/a", "y/b", true); // expected X
    String matrix = seen.render(t);
    System.out.println(matrix);
    assertTrue(matrix.startsWith("from\\to  x/a  x/b"), matrix);
    assertTrue(matrix.contains("\nx/c       !.    X    -    .    .    .    .    .    .\n"), matrix);
    assertTrue(matrix.contains("\nz/a        X    X    X    .   !.    .    -    .    .\n"), matrix);
    assertEquals("0.0.0.0/4", NetpolCase.cidr4("10.244.5.3"));
    assertEquals("192.0.0.0/4", NetpolCase.cidr4("192.168.1.1"));
  }
}
