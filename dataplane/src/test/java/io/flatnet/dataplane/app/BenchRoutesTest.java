package io.flatnet.dataplane.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.dataplane.Router;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.NextHops;
import java.io.File;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchRoutesTest {
  @TempDir File dir;

  /** A table that records the installed routes; the clock moves only when the test moves it. */
  private static final class FakeTable implements BenchRoutes.Table {
    final Set<Long> installed = new HashSet<>();
    final List<String> log = new ArrayList<>();

    @Override
    public void add(long i) {
      assertTrue(installed.add(i), "added twice: " + i);
      log.add("+" + i);
    }

    @Override
    public void delete(long i) {
      assertTrue(installed.remove(i), "deleted but not installed: " + i);
      log.add("-" + i);
    }
  }

  @Test
  void theRateIsKeptTickByTick() {
    FakeTable table = new FakeTable();
    AtomicLong clock = new AtomicLong();
    BenchRoutes.Churn churn =
        new BenchRoutes.Churn(table, 10_000, 100, clock::get, 1_000_000L); // 10 per 1 ms tick
    assertEquals(0, churn.step(0));
    long done = 0;
    for (int ms = 1; ms <= 2000; ms++) {
      clock.set(ms * 1_000_000L);
      int n = churn.step(clock.get());
      assertEquals(10, n, "at " + ms + " ms");
      done += n;
    }
    assertEquals(20_000, done);
    assertEquals(20_000, churn.updates());
    assertEquals(0, churn.skipped);
    // The window fills with 100 adds, then each step deletes the oldest and adds the next.
    assertEquals(100, table.installed.size());
    assertEquals(List.of("+0", "+1"), table.log.subList(0, 2));
    assertEquals(List.of("+99", "-0", "+100", "-1", "+101"), table.log.subList(99, 104));
    assertEquals(churn.adds - 100, churn.deletes);
  }

  @Test
  void fractionalRatesAccumulateAndADebtBeyondTenTicksIsDropped() {
    FakeTable table = new FakeTable();
    AtomicLong clock = new AtomicLong();
    BenchRoutes.Churn churn = new BenchRoutes.Churn(table, 1500, 8, clock::get, 1_000_000L);
    churn.step(0);
    long done = 0;
    for (int ms = 1; ms <= 1000; ms++) {
      done += churn.step(ms * 1_000_000L);
    }
    assertEquals(1500, done, "1.5 a tick on average, none lost to rounding");
    assertEquals(15, churn.maxBatch, "ten ticks' worth");
    // A stall of a second: 1,500 owed, 15 done, the rest skipped (and reported), not made up.
    assertEquals(15, churn.step(2000 * 1_000_000L));
    assertEquals(1485, churn.skipped);
    assertEquals(1, churn.step(2001 * 1_000_000L), "3001.5 owed, 3000 counted");
  }

  @Test
  void theRoutesAreTheirOwnSlash28sOutsideTheTraffic() {
    assertEquals("10.200.0.0/28", BenchRoutes.prefix(0).toString());
    assertEquals("10.200.0.16/28", BenchRoutes.prefix(1).toString());
    assertEquals("10.200.255.240/28", BenchRoutes.prefix(BenchRoutes.POOL - 1).toString());
    assertEquals(BenchRoutes.prefix(0), BenchRoutes.prefix(BenchRoutes.POOL), "wraps");
    Ipv4Prefix traffic = Ipv4Prefix.parse("10.253.0.0/22");
    Ipv4Prefix pool = Ipv4Prefix.parse(BenchRoutes.POOL_TEXT);
    assertFalse(pool.contains(traffic.first()) || pool.contains(traffic.last()));
    assertFalse(pool.contains(Ipv4Prefix.parseAddress("10.254.0.0")));
  }

  /** The churn thread on a real router: routes come and go, the traffic's route stays. */
  @Test
  void churnsARealRoutersTableAtTheRate() throws Exception {
    Eal.initOnce(
        EalArguments.forProgram("flatnet-dataplane-test")
            .logLevel("warning")
            .extra("-m", "1024")
            .build());
    try (Router router = Router.open(Router.Sizes.defaults(), dir)) {
      int port = router.addPort("net_null_churn" + ProcessHandle.current().pid() + ",no-rx=1");
      router.startWorker(-1, new SleepingMillisIdleStrategy(1));
      Ipv4Prefix traffic = Ipv4Prefix.parse("10.253.0.0/22");
      router.routeDirect(traffic, port, 0x02_00_00_00_00_01L);
      int trafficHop = router.fib().lookup(traffic.first());
      BenchRoutes.Churn churn = new BenchRoutes.Churn(router, port, 20_000);
      long[] mark = churn.mark();
      churn.start();
      Thread.sleep(1000);
      churn.finish();
      String json = churn.json(mark);
      long updates = churn.updates();
      // 20,000 a second asked; a loaded test machine may fall behind (skipped says by how much).
      assertTrue(updates + churn.skipped >= 15_000, json);
      assertTrue(updates > 2 * BenchRoutes.WINDOW, json);
      long installed = churn.adds - churn.deletes; // the window, or one less mid-step
      assertTrue(installed == BenchRoutes.WINDOW || installed == BenchRoutes.WINDOW - 1, json);
      assertEquals(1 + installed, router.routes().size(), json);
      assertEquals(trafficHop, router.fib().lookup(traffic.first()), "the traffic's route stays");
      long next = churn.adds; // not installed yet
      assertEquals(NextHops.NO_ROUTE, router.fib().lookup(BenchRoutes.prefix(next).first()), json);
      assertTrue(
          router.fib().lookup(BenchRoutes.prefix(next - 1).first()) != NextHops.NO_ROUTE, json);
      assertTrue(json.startsWith("\"route_churn\":{\"target_per_s\":20000,"), json);
    }
  }
}
