package io.flatnet.perf.fib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.perf.BenchMain;
import io.flatnet.perf.fib.RouteSets.Ipv4Routes;
import io.flatnet.perf.fib.RouteSets.Ipv6Routes;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Prefix;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The runner end to end on a tiny workload, the CLI's errors, and the route generators. */
class LpmBenchTest {

  private record Run(int exit, String out, String err) {}

  private static Run bench(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = BenchMain.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(exit, out.toString(), err.toString());
  }

  @Test
  void lpmRunsBothFamiliesAndPrintsOneJsonObject() {
    Run run =
        bench(
            "lpm",
            "--routes4",
            "3000",
            "--routes6",
            "2000",
            "--lookups",
            "4096",
            "--rounds",
            "2",
            "--warmup",
            "0",
            "--min-ms",
            "1",
            "--delete-sample",
            "200",
            "--verify-sample",
            "4096",
            "--json");
    assertEquals(0, run.exit(), run.err());
    String json = run.out().strip();
    assertTrue(json.startsWith("{") && json.endsWith("}"), json);
    assertTrue(json.contains("\"ok\": true"), json);
    assertTrue(json.contains("\"family\": \"IPv4\"") && json.contains("\"family\": \"IPv6\""));
    assertTrue(json.contains("\"lookup_bulk32\""), json);
    assertTrue(json.contains("\"mismatches\": 0"), json);
    assertTrue(run.err().contains("flatnet/DPDK"), "the table goes to stderr with --json");
    assertTrue(run.err().contains("lookup, bulk of 32"), run.err());
  }

  @Test
  void unknownBenchmarksFailWithUsage() {
    Run unknown = bench("nonsense");
    assertEquals(2, unknown.exit());
    assertTrue(unknown.err().contains("unknown benchmark 'nonsense'"), unknown.err());
    assertTrue(unknown.err().contains("lpm"), unknown.err());
    Run none = bench();
    assertEquals(2, none.exit());
    assertTrue(none.err().contains("lpm, e2e, jmh"), none.err());
  }

  @Test
  void badOptionsAreUsageErrors() {
    Run run = bench("lpm", "--hit-fraction", "1.5");
    assertEquals(2, run.exit());
    assertTrue(run.err().contains("--hit-fraction must be in [0, 1]"), run.err());
  }

  @Test
  void generatedRoutesAreDistinctValidAndReproducible() {
    Ipv4Routes v4 = RouteSets.ipv4(50_000, 16, 1);
    assertEquals(50_000, v4.size());
    Set<Ipv4Prefix> seen4 = new HashSet<>();
    for (int i = 0; i < v4.size(); i++) {
      assertTrue(seen4.add(new Ipv4Prefix(v4.address()[i], v4.length()[i]))); // validates too
    }
    int[] h = RouteSets.lengthHistogram(v4.length(), 32);
    assertTrue(h[24] > v4.size() / 2, "mostly /24 as in lpm_perf_autotest");
    assertEquals(v4.address()[123], RouteSets.ipv4(50_000, 16, 1).address()[123]);

    Ipv6Routes v6 = RouteSets.ipv6(20_000, 16, 2);
    assertEquals(20_000, v6.size());
    Set<Ipv6Prefix> seen6 = new HashSet<>();
    for (int i = 0; i < v6.size(); i++) {
      assertTrue(seen6.add(new Ipv6Prefix(v6.hi()[i], v6.lo()[i], v6.length()[i])));
    }
    int[] h6 = RouteSets.lengthHistogram(v6.length(), 128);
    assertTrue(h6[48] > v6.size() / 3, "mostly /48");
    assertTrue(h6[128] > 0 && h6[64] > 0 && h6[32] > 0);

    int[] hits = RouteSets.ipv4Lookups(v4, 1000, 1.0, 3);
    for (int a : hits) {
      assertTrue(RouteSets.referenceIpv4(v4, null, a) >= 0, "a 100% hit address is covered");
    }
  }
}
