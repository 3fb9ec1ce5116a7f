package io.flatnet.perf.lpm;

import io.flatnet.route.Ipv4Fib;
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
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Update cost on the loaded tables: one committed batch of {@code batchSize} route changes, time
 * per batch. Each call adds the batch's routes if absent, else deletes them, so the table stays
 * near its initial size. An IPv4 commit also replays the previous batch on the spare copy, so this
 * is the steady-state cost per batch. No reader is registered: grace periods end at once; with
 * workers they add the time to their next quiescent point.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
public class LpmUpdateBenchmark {

  @Param({"1", "32", "1024"})
  public int batchSize;

  private static final int SETS = 64;

  Ipv4Fib fib4;
  Ipv6Fib fib6;
  int[] nhs;
  int[][] v4Addresses; // SETS batches of /24s and /28s not in the table
  int[][] v4Lengths;
  Ipv6Prefix[][] v6Routes;
  boolean[] v4Present = new boolean[SETS];
  boolean[] v6Present = new boolean[SETS];
  int next4;
  int next6;

  @Setup(Level.Trial)
  public void setUp() {
    setUp(LpmRoutes.dpdkLikeIpv4(new Random(1)), 100_000);
  }

  void setUp(LpmRoutes.V4 routes, int v6Count) {
    QsbrDomain domain = new QsbrDomain();
    NextHopTable nht = new NextHopTable(1024, domain);
    nhs = LpmRoutes.nextHops(nht, 256);
    fib4 = LpmRoutes.ipv4Fib(domain, nht, nhs, routes);
    Ipv6Prefix[] v6 = LpmRoutes.ipv6Mix(new Random(1), v6Count);
    fib6 = LpmRoutes.ipv6Fib(domain, nht, nhs, v6);
    Random rnd = new Random(3);
    v4Addresses = new int[SETS][batchSize];
    v4Lengths = new int[SETS][batchSize];
    v6Routes = new Ipv6Prefix[SETS][batchSize];
    for (int s = 0; s < SETS; s++) {
      for (int i = 0; i < batchSize; i++) {
        // Class D/E space (224/3) is empty in the generated table: these are new routes.
        int len = rnd.nextInt(4) == 0 ? 28 : 24;
        int a = 0xE000_0000 | (rnd.nextInt() >>> 3);
        v4Addresses[s][i] = a & (-1 << (32 - len));
        v4Lengths[s][i] = len;
        long hi = 0xfd00_0020_0000_0000L | (rnd.nextLong() >>> 32 & 0xFFFF_FFFFL);
        v6Routes[s][i] = new Ipv6Prefix(hi & -(1L << 16), 0, rnd.nextInt(4) == 0 ? 64 : 48);
      }
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    fib4.close();
    fib6.close();
  }

  @Benchmark
  public long ipv4Batch() {
    int s = next4;
    next4 = (s + 1) % SETS;
    Ipv4Fib.Batch batch = fib4.batch();
    int[] a = v4Addresses[s];
    int[] l = v4Lengths[s];
    if (v4Present[s]) {
      for (int i = 0; i < a.length; i++) {
        batch.delete(a[i], l[i]);
      }
    } else {
      for (int i = 0; i < a.length; i++) {
        batch.add(a[i], l[i], nhs[i & 255]);
      }
    }
    v4Present[s] = !v4Present[s];
    return batch.commit();
  }

  @Benchmark
  public long ipv6Batch() {
    int s = next6;
    next6 = (s + 1) % SETS;
    Ipv6Fib.Batch batch = fib6.batch();
    Ipv6Prefix[] r = v6Routes[s];
    if (v6Present[s]) {
      for (Ipv6Prefix p : r) {
        batch.delete(p);
      }
    } else {
      for (int i = 0; i < r.length; i++) {
        batch.add(r[i], nhs[i & 255]);
      }
    }
    v6Present[s] = !v6Present[s];
    return batch.commit();
  }
}
