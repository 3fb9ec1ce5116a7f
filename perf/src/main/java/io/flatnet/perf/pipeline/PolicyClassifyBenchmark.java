package io.flatnet.perf.pipeline;

import io.flatnet.control.PolicySpec;
import io.flatnet.dataplane.policy.PolicyTable;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The cost of classifying a flow's first packet, with the workers' own {@link
 * PolicyTable#classify}, on a node whose every pod is isolated both ways by {@code rules} rules of
 * 4 peers and 2 port ranges each: the allowed case matches the last rule (the longest scan), the
 * denied case matches none. Later packets of a flow never get here (the flow table answers them).
 * Results are ns per classification; with the table's build time, they are the figures that chose a
 * Java classifier over rte_acl (see {@link PolicyTable}'s class comment).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class PolicyClassifyBenchmark {
  @Param({"200"})
  int pods;

  @Param({"4", "20"})
  int rules;

  private PolicyTable table;
  private final PolicyTable.Verdict verdict = new PolicyTable.Verdict();
  private long source;
  private long allowedDestination;
  private int allowedPort;

  static String pod(int i) {
    return "10.244." + (i >> 8) + "." + (i & 0xFF);
  }

  @Setup
  public void setUp() {
    List<PolicySpec> specs = new ArrayList<>();
    for (int p = 0; p < pods; p++) {
      List<PolicySpec.Rule> list = new ArrayList<>();
      for (int r = 0; r < rules; r++) {
        List<PolicySpec.Peer> peers = new ArrayList<>();
        for (int k = 0; k < 4; k++) {
          peers.add(new PolicySpec.Peer("10." + (100 + r) + "." + k + ".0/24", List.of()));
        }
        list.add(
            new PolicySpec.Rule(
                "default/policy-" + r,
                0,
                false,
                peers,
                false,
                List.of(
                    new PolicySpec.PortRange("TCP", 8000 + r, 8000 + r),
                    new PolicySpec.PortRange("UDP", 9000, 9100))));
      }
      specs.add(new PolicySpec("default/pod-" + p, List.of(pod(p)), true, true, list, list));
    }
    table = PolicyTable.compile(1, specs, null);
    source = PolicyTable.v4Lo(address(pod(pods / 2)));
    int last = rules - 1;
    allowedDestination = PolicyTable.v4Lo(address("10." + (100 + last) + ".3.7"));
    allowedPort = 8000 + last;
  }

  private static int address(String dotted) {
    String[] p = dotted.split("\\.");
    return Integer.parseInt(p[0]) << 24
        | Integer.parseInt(p[1]) << 16
        | Integer.parseInt(p[2]) << 8
        | Integer.parseInt(p[3]);
  }

  /** Egress of a policed pod to a peer its last rule allows. */
  @Benchmark
  public int allowedByTheLastRule() {
    table.classify(verdict, 0, source, 0, allowedDestination, 6, allowedPort, false);
    return verdict.egress;
  }

  /** Egress of a policed pod that no rule allows: every rule scanned. */
  @Benchmark
  public int deniedAfterEveryRule() {
    table.classify(verdict, 0, source, 0, allowedDestination, 6, 1, false);
    return verdict.egress;
  }
}
