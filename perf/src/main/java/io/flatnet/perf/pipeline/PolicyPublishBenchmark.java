package io.flatnet.perf.pipeline;

import io.flatnet.control.PolicySpec;
import io.flatnet.dataplane.DataplaneCounters;
import io.flatnet.dataplane.policy.PolicyCounters;
import io.flatnet.dataplane.policy.PolicyTable;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
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
import org.openjdk.jmh.annotations.TearDown;

/**
 * The control-path cost of one policy publish, as {@code Router.setPolicies} pays it: compile from
 * the published table, then free the counters no longer named. The node has {@code pods} policed
 * pods of {@code rules} ingress rules each (bench e2e's {@code flatnet-churn} shape: 1,024 x 10),
 * with counters in a real counters file. {@code onePodChanged} is the usual update (one
 * NetworkPolicy edited: one pod's rules gain, then lose, a rule); {@code fromScratch} is a
 * restart's first publish. In bench e2e the publish shares the worker's CPU, so this time is what a
 * worker can lose to it.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class PolicyPublishBenchmark {
  @Param({"1024"})
  int pods;

  @Param({"10"})
  int rules;

  private final List<PolicySpec> specs = new ArrayList<>();
  private final List<PolicySpec> changed = new ArrayList<>();
  private File file;
  private DataplaneCounters counterFile;
  private PolicyCounters counters;
  private PolicyTable published = PolicyTable.EMPTY;
  private long generation;

  @Setup
  public void setUp() throws IOException {
    for (int p = 0; p < pods; p++) {
      specs.add(spec(p, rules));
      changed.add(spec(p, rules + 1));
    }
    file = Files.createTempFile("flatnet-publish-bench", ".dat").toFile();
    counterFile = DataplaneCounters.create(file);
    counters = new PolicyCounters(counterFile);
    published = publish(specs);
  }

  @TearDown
  public void tearDown() {
    counterFile.close();
    file.delete();
  }

  private static PolicySpec spec(int p, int rules) {
    String policy = "bench/pol-" + p;
    List<PolicySpec.Rule> ingress = new ArrayList<>();
    for (int r = 0; r < rules; r++) {
      ingress.add(
          new PolicySpec.Rule(
              policy,
              r,
              false,
              List.of(new PolicySpec.Peer("10.200." + (r & 0xFF) + ".0/24", List.of())),
              false,
              List.of(new PolicySpec.PortRange("TCP", 8000 + r, 8000 + r))));
    }
    String address = "10.253." + (p >> 8) + "." + (p & 0xFF);
    return new PolicySpec("bench/pod-" + p, List.of(address), true, false, ingress, List.of());
  }

  private PolicyTable publish(List<PolicySpec> next) {
    PolicyTable table = PolicyTable.compile(++generation, next, counters, published);
    counters.retire(published, table);
    published = table;
    return table;
  }

  /** One pod's rules changed: a rule added to it, then removed again (1 pod recompiled). */
  @Benchmark
  public PolicyTable onePodChanged() {
    int pod = (int) (generation / 2 % pods);
    List<PolicySpec> next = new ArrayList<>(specs);
    if (generation % 2 == 0) {
      next.set(pod, changed.get(pod));
    }
    return publish(next);
  }

  /** Every pod compiled again (a first publish; the counters are already registered). */
  @Benchmark
  public PolicyTable fromScratch() {
    PolicyTable table = PolicyTable.compile(++generation, specs, counters, null);
    counters.retire(published, table);
    published = table;
    return table;
  }
}
