package io.flatnet.perf.lpm;

import io.flatnet.route.Ipv4Fib;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.QsbrDomain;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * IPv4 lookups over ~1.03M routes with lpm_perf_autotest's depth distribution, at uniformly random
 * destinations (as that test). Time per lookup; the bulk variants resolve 32 per call.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
public class Ipv4LookupBenchmark {

  static final int BURST = 32;
  private static final int ADDRESSES = 1 << 20; // 4 MiB: not cache resident, like real traffic

  QsbrDomain domain;
  Ipv4Fib fib;
  int[] addresses;
  int[] burst = new int[BURST];
  int[] nextHops = new int[BURST];
  int cursor;

  @Setup(Level.Trial)
  public void setUp() {
    setUp(LpmRoutes.dpdkLikeIpv4(new Random(1)));
  }

  void setUp(LpmRoutes.V4 routes) {
    domain = new QsbrDomain();
    NextHopTable nht = new NextHopTable(1024, domain);
    fib = LpmRoutes.ipv4Fib(domain, nht, LpmRoutes.nextHops(nht, 256), routes);
    addresses = LpmRoutes.randomIpv4(new Random(2), ADDRESSES);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    fib.close();
  }

  /** One lookup per call. */
  @Benchmark
  public int lookup() {
    int i = cursor;
    cursor = (i + 1) & (ADDRESSES - 1);
    return fib.lookup(addresses[i]);
  }

  /** 32 scalar lookups per call: the loop a worker would write without the bulk API. */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public void lookupLoop(Blackhole bh) {
    int base = nextBurst();
    for (int i = 0; i < BURST; i++) {
      nextHops[i] = fib.lookup(addresses[base + i]);
    }
    bh.consume(nextHops);
  }

  /** {@link Ipv4Fib#lookupBulk} on 32 addresses per call. */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public void lookupBulk(Blackhole bh) {
    int base = nextBurst();
    System.arraycopy(addresses, base, burst, 0, BURST); // as a worker gathers a burst's headers
    fib.lookupBulk(burst, nextHops, BURST);
    bh.consume(nextHops);
  }

  private int nextBurst() {
    int base = cursor;
    cursor = (base + BURST) & (ADDRESSES - 1);
    return base;
  }
}
