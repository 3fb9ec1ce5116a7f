package io.flatnet.perf.pipeline;

import io.flatnet.control.PolicySpec;
import io.flatnet.dataplane.PacketStages;
import io.flatnet.dpdk.NativeMemory;
import java.io.File;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The established-flow cost of network policy: the worker's own check ({@code PolicyCheck}, its
 * flow table) on vectors of 32 IPv4 UDP packets whose flows are all in the table, with bench e2e's
 * {@code flatnet-policy} table (1,024 ingress-isolated pods 10.253.0.0 and up, 10 rules each).
 * Flows are bench e2e's too: 10.254.0.0:1000 to each pod's UDP 1001. {@code roundRobin} sends them
 * as testpmd flowgen does (every packet of a vector another flow); {@code oneFlowPerVector} sends a
 * vector of one flow (real traffic's bursts). Results are ns per packet.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class PolicyHitBenchmark {
  private static final int BURST = 32;
  private static final int FLOWS = 1024;
  private static final int FRAME = 64;
  private static final int IP = 14;
  private static final int IP_LENGTH = 46; // 60-byte frame: a 20-byte header, UDP, 18 of payload

  private PacketStages.Policy policy;
  private long frames;
  private int next;

  @Setup
  public void setUp() throws IOException {
    File dir = Files.createTempDirectory("flatnet-jmh-policy").toFile();
    dir.deleteOnExit();
    File counters = new File(dir, "counters.dat");
    counters.deleteOnExit();
    policy = new PacketStages.Policy(counters, specs(FLOWS, 10), 1 << 16);
    frames = Arena.global().allocate((long) FLOWS * FRAME, 64).address();
    for (int f = 0; f < FLOWS; f++) {
      long ip = frames + (long) f * FRAME + IP;
      NativeMemory.putU8(ip, 0x45);
      NativeMemory.putU16Be(ip + 2, IP_LENGTH);
      NativeMemory.putU8(ip + 8, 64);
      NativeMemory.putU8(ip + 9, 17);
      NativeMemory.putIntBe(ip + 12, 0x0AFE_0000); // 10.254.0.0
      NativeMemory.putIntBe(ip + 16, 0x0AFD_0000 + f); // 10.253.0.0 + f
      NativeMemory.putU16Be(ip + 20, 1000);
      NativeMemory.putU16Be(ip + 22, 1001);
      NativeMemory.putU16Be(ip + 24, IP_LENGTH - 20);
    }
    policy.begin(System.nanoTime());
    for (int f = 0; f < FLOWS; f++) { // every flow's first packet: classified and recorded
      if (policy.check4(frames + (long) f * FRAME + IP, IP_LENGTH) != 0) {
        throw new IllegalStateException("flow " + f + " denied");
      }
    }
  }

  @TearDown
  public void tearDown() {
    policy.close();
  }

  /** BenchPolicies' table: pod i at 10.253.0.0 + i; only its last rule allows UDP 1001. */
  static List<PolicySpec> specs(int pods, int rules) {
    List<PolicySpec> specs = new ArrayList<>(pods);
    for (int i = 0; i < pods; i++) {
      String name = "bench/pol-" + i;
      List<PolicySpec.Rule> ingress = new ArrayList<>();
      for (int r = 0; r < rules - 1; r++) {
        ingress.add(
            new PolicySpec.Rule(
                name,
                r,
                false,
                List.of(new PolicySpec.Peer("10.200." + r + ".0/24", List.of())),
                false,
                List.of(new PolicySpec.PortRange("TCP", 8000 + r, 8000 + r))));
      }
      ingress.add(
          new PolicySpec.Rule(
              name,
              rules - 1,
              false,
              List.of(new PolicySpec.Peer("10.254.0.0/16", List.of())),
              false,
              List.of(new PolicySpec.PortRange("UDP", 1001, 1001))));
      int a = 0x0AFD_0000 + i;
      String address = "10.253." + (a >>> 8 & 0xFF) + "." + (a & 0xFF);
      specs.add(
          new PolicySpec("bench/pod-" + i, List.of(address), true, false, ingress, List.of()));
    }
    return specs;
  }

  /** A vector of 32 packets, each of the next flow (testpmd flowgen's order). */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public int roundRobin() {
    policy.begin(System.nanoTime());
    int f = next;
    int denied = 0;
    for (int i = 0; i < BURST; i++) {
      denied |= policy.check4(frames + (long) f * FRAME + IP, IP_LENGTH);
      f = (f + 1) & (FLOWS - 1);
    }
    next = f;
    return denied;
  }

  /** A vector of 32 packets of one flow; the next vector is the next flow's. */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public int oneFlowPerVector() {
    policy.begin(System.nanoTime());
    long ip = frames + (long) next * FRAME + IP;
    next = (next + 1) & (FLOWS - 1);
    int denied = 0;
    for (int i = 0; i < BURST; i++) {
      denied |= policy.check4(ip, IP_LENGTH);
    }
    return denied;
  }
}
