package io.flatnet.dataplane.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.control.PolicySpec;
import io.flatnet.dataplane.policy.PolicyTable;
import java.util.List;
import org.junit.jupiter.api.Test;

class BenchPoliciesTest {
  private static final int FIRST = BenchPolicies.parseAddress("10.253.0.0");
  private static final int GEN_SRC = BenchPolicies.parseAddress("10.254.0.0");

  private static PolicyTable.Verdict classify(PolicyTable t, int dst, int port) {
    PolicyTable.Verdict v = new PolicyTable.Verdict();
    t.classify(v, 0, PolicyTable.v4Lo(GEN_SRC), 0, PolicyTable.v4Lo(dst), 17, port, false);
    return v;
  }

  @Test
  void theGeneratorsFlowsAreAllowedByTheLastRuleOnly() {
    List<PolicySpec> specs = BenchPolicies.build(FIRST, 1024, 10, false);
    PolicyTable t = PolicyTable.compile(1, specs, null);
    assertEquals(1024, t.podCount());
    assertEquals(1024, t.policyCount());
    assertEquals(10, specs.get(0).ingress().size());
    for (int i : new int[] {0, 511, 1023}) {
      PolicyTable.Verdict v = classify(t, FIRST + i, 1001);
      assertTrue(v.allowed(), "pod " + i);
      assertEquals(i, v.ingressPod);
      assertEquals(9, t.ruleNumber(v.ingressPod, v.ingress), "the last rule allows");
    }
    assertTrue(!classify(t, FIRST, 1002).allowed());
  }

  @Test
  void theCutTableDeniesTheGeneratorsFlows() {
    PolicyTable t = PolicyTable.compile(2, BenchPolicies.build(FIRST, 1024, 10, true), null);
    for (int i : new int[] {0, 1023}) {
      PolicyTable.Verdict v = classify(t, FIRST + i, 1001);
      assertTrue(!v.allowed(), "pod " + i);
    }
  }

  @Test
  void dotted() {
    assertEquals("10.253.3.255", BenchPolicies.dotted(FIRST + 1023));
  }
}
