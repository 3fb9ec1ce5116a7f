package io.flatnet.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.control.PortSpec;
import io.flatnet.control.RouteBatchException;
import io.flatnet.control.RouteChange;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.State;
import io.flatnet.dataplane.Router;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Prefix;
import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Route batches ({@link RouterDataplane#applyRoutes}) on a real router: a batch lands whole (FIB
 * and {@code installed()}) with its generation; a bad change in the middle is reported with its
 * route and nothing of the batch is applied; a change that fails while the batch is applied (a full
 * table) undoes the changes before it.
 */
class RouterDataplaneBatchTest {
  @TempDir File dir;

  @BeforeAll
  static void eal() {
    Eal.initOnce(
        EalArguments.forProgram("flatnet-process-test")
            .logLevel("warning")
            .extra("-m", "1024")
            .build());
  }

  /** A dataplane on {@code router} with uplink up (10.3.0.2/24, fd00:3::2/64), a pcap port. */
  private RouterDataplane uplink(Router router, String tag) throws Exception {
    RouterDataplane dp = new RouterDataplane(router, 1, null);
    File empty = new File(dir, "empty.pcap");
    LiveTraceMatchesSimulatedTraceTest.pcap(empty, List.of());
    String devargs =
        "net_pcap_batch_"
            + tag
            + ProcessHandle.current().pid()
            + ",rx_pcap="
            + empty
            + ",tx_pcap="
            + new File(dir, tag + ".pcap");
    dp.addPort(new PortSpec("up", devargs, "uplink", List.of("10.3.0.2/24", "fd00:3::2/64"), 1500));
    return dp;
  }

  private static RouteSpec v4(int i, String via) {
    return new RouteSpec(
        "10." + (100 + (i >> 16)) + "." + (i >> 8 & 255) + "." + (i & 255) + "/32", via, "up");
  }

  private static RouteSpec v6(int i) {
    return new RouteSpec("fd00:9:" + Integer.toHexString(i) + "::/48", "fd00:3::1", "up");
  }

  @Test
  void aBatchLandsWholeAndABadChangeInTheMiddleLeavesEverythingAsItWas() throws Exception {
    try (Router router = Router.open(Router.Sizes.defaults(), dir)) {
      RouterDataplane dp = uplink(router, "whole");
      List<RouteChange> adds = new ArrayList<>();
      for (int i = 0; i < 2_000; i++) {
        adds.add(RouteChange.add(v4(i, "10.3.0.1")));
      }
      for (int i = 0; i < 200; i++) {
        adds.add(RouteChange.add(v6(i)));
      }
      long fib4Before = router.fib().generation();
      long fib6Before = router.fib6().generation();
      dp.applyRoutes(adds, 5);
      assertEquals(fib4Before + 1, router.fib().generation(), "one IPv4 FIB commit for the batch");
      assertEquals(fib6Before + 1, router.fib6().generation(), "one IPv6 publish for the batch");
      State installed = dp.installed();
      assertEquals(5, installed.generation());
      assertEquals(2_200, installed.routes().size());
      Map<Object, Integer> fib = router.routes();
      assertTrue(fib.containsKey(Ipv4Prefix.parse(v4(1999, "x").prefix())));
      assertTrue(fib.containsKey(Ipv6Prefix.parse(v6(199).prefix())));
      assertTrue(fib.containsKey(Ipv4Prefix.parse("10.3.0.1/32")), "the neighbour's host route");

      // Remove half, replace some, and one change in the middle names a port that is not there.
      List<RouteChange> mixed = new ArrayList<>();
      for (int i = 0; i < 1_000; i++) {
        mixed.add(RouteChange.remove(v4(i, "10.3.0.1")));
      }
      for (int i = 1_000; i < 1_100; i++) {
        mixed.add(RouteChange.replace(v4(i, "10.3.0.1"), v4(i, "10.3.0.9")));
      }
      RouteSpec bad = new RouteSpec("10.200.0.0/16", "10.3.0.1", "nope");
      mixed.add(RouteChange.add(bad));
      for (int i = 0; i < 100; i++) {
        mixed.add(RouteChange.add(v4(10_000 + i, "10.3.0.1")));
      }
      Map<Object, Integer> fibBefore = router.routes();
      RouteBatchException e =
          assertThrows(RouteBatchException.class, () -> dp.applyRoutes(mixed, 6));
      assertEquals(1_100, e.index());
      assertTrue(e.refused());
      assertTrue(e.getMessage().contains("10.200.0.0/16"), e.getMessage());
      assertTrue(e.getMessage().contains("no port nope"), e.getMessage());
      assertEquals(installed, dp.installed(), "nothing of the batch, no commit");
      assertEquals(fibBefore, router.routes(), "the FIB is as it was");

      // Without the bad change the same batch lands.
      mixed.remove(1_100);
      dp.applyRoutes(mixed, 6);
      State after = dp.installed();
      assertEquals(6, after.generation());
      assertEquals(2_200 - 1_000 + 100, after.routes().size());
      assertEquals("10.3.0.9", after.routes().get(v4(1_050, "x").prefix()).via());
      assertFalse(router.routes().containsKey(Ipv4Prefix.parse(v4(5, "x").prefix())));
      assertTrue(router.routes().containsKey(Ipv4Prefix.parse("10.3.0.9/32")));

      // An older generation is refused as a whole.
      RouteBatchException old =
          assertThrows(
              RouteBatchException.class,
              () -> dp.applyRoutes(List.of(RouteChange.add(v4(20_000, "10.3.0.1"))), 4));
      assertEquals(-1, old.index());
      assertEquals(after, dp.installed());
    }
  }

  @Test
  void aChangeThatFailsWhileTheBatchIsAppliedUndoesTheChangesBeforeIt() throws Exception {
    // Four tbl8 groups: /32s in a fifth /24 do not fit.
    Router.Sizes sizes = new Router.Sizes(1, 16383, 256, 4096, 4, 1 << 16);
    try (Router router = Router.open(sizes, dir)) {
      RouterDataplane dp = uplink(router, "full");
      dp.commit(1);
      State installed = dp.installed();
      Map<Object, Integer> fibBefore = router.routes();
      List<RouteChange> changes = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        changes.add(RouteChange.add(v4(i << 8, "10.3.0.1"))); // one /24 each
      }
      RouteBatchException e =
          assertThrows(RouteBatchException.class, () -> dp.applyRoutes(changes, 2));
      assertTrue(e.index() > 0 && e.index() < 8, "index " + e.index());
      assertFalse(e.refused(), "a full table is a failure, not a refusal");
      assertTrue(e.getMessage().contains(changes.get(e.index()).route().prefix()), e.getMessage());
      assertTrue(e.getMessage().contains("undone"), e.getMessage());
      assertEquals(installed, dp.installed());
      assertEquals(fibBefore, router.routes());
      dp.applyRoutes(changes.subList(0, 2), 2); // what fits still does
      assertEquals(2, dp.installed().generation());
      assertEquals(2, dp.installed().routes().size());
    }
  }
}
