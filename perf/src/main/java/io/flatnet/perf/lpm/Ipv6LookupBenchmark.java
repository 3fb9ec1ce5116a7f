package io.flatnet.perf.lpm;

import io.flatnet.route.Ipv6Fib;
import io.flatnet.route.Ipv6Prefix;
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
 * IPv6 lookups over 100k routes ({@link LpmRoutes#ipv6Mix}), at random addresses inside random
 * routes (so most lookups walk 3 to 15 levels). Time per lookup.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
public class Ipv6LookupBenchmark {

  static final int BURST = 32;
  private static final int ADDRESSES = 1 << 18;

  QsbrDomain domain;
  Ipv6Fib fib;
  long[] hi;
  long[] lo;
  long[] burstHi = new long[BURST];
  long[] burstLo = new long[BURST];
  int[] nextHops = new int[BURST];
  int cursor;

  @Setup(Level.Trial)
  public void setUp() {
    setUp(100_000);
  }

  void setUp(int routeCount) {
    domain = new QsbrDomain();
    NextHopTable nht = new NextHopTable(1024, domain);
    Ipv6Prefix[] routes = LpmRoutes.ipv6Mix(new Random(1), routeCount);
    fib = LpmRoutes.ipv6Fib(domain, nht, LpmRoutes.nextHops(nht, 256), routes);
    long[][] a = LpmRoutes.ipv6InRoutes(new Random(2), routes, ADDRESSES);
    hi = a[0];
    lo = a[1];
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    fib.close();
  }

  @Benchmark
  public int lookup() {
    int i = cursor;
    cursor = (i + 1) & (ADDRESSES - 1);
    return fib.lookup(hi[i], lo[i]);
  }

  @Benchmark
  @OperationsPerInvocation(BURST)
  public void lookupLoop(Blackhole bh) {
    int base = nextBurst();
    for (int i = 0; i < BURST; i++) {
      nextHops[i] = fib.lookup(hi[base + i], lo[base + i]);
    }
    bh.consume(nextHops);
  }

  @Benchmark
  @OperationsPerInvocation(BURST)
  public void lookupBulk(Blackhole bh) {
    int base = nextBurst();
    System.arraycopy(hi, base, burstHi, 0, BURST);
    System.arraycopy(lo, base, burstLo, 0, BURST);
    fib.lookupBulk(burstHi, burstLo, nextHops, BURST);
    bh.consume(nextHops);
  }

  private int nextBurst() {
    int base = cursor;
    cursor = (base + BURST) & (ADDRESSES - 1);
    return base;
  }
}
