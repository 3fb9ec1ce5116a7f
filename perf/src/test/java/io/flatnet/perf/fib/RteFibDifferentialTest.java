package io.flatnet.perf.fib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.dpdk.DpdkException;
import io.flatnet.dpdk.Eal;
import io.flatnet.perf.fib.RouteSets.Ipv4Routes;
import io.flatnet.perf.fib.RouteSets.Ipv6Addresses;
import io.flatnet.perf.fib.RouteSets.Ipv6Routes;
import io.flatnet.route.Ipv4Fib;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Fib;
import io.flatnet.route.Ipv6Prefix;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.QsbrDomain;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A differential test against DPDK itself: flatnet's Ipv4Fib/Ipv6Fib and DPDK's rte_fib/rte_fib6
 * (through {@link RteFib}/{@link RteFib6}) get the same random routes, deletes and replacements,
 * and must give the same next hop for every address; a sample is also checked against a brute-force
 * longest match, so a bug shared by both (or in the wrappers) shows too.
 */
class RteFibDifferentialTest {

  private static final int NEXT_HOPS = 64;

  @BeforeAll
  static void eal() {
    Eal.initOnce(LpmCommand.eal(false));
  }

  private static NextHopTable nextHops(QsbrDomain domain, int[] index) {
    NextHopTable table = new NextHopTable(NEXT_HOPS + 1, domain);
    for (int i = 0; i < NEXT_HOPS; i++) {
      index[i] = table.addForward(i % 16, 0x0200_0000_0000L | i, 0x0200_0000_00FFL);
    }
    return table;
  }

  @Test
  void ipv4AnswersEqualRteFibDir24() {
    Ipv4Routes routes = RouteSets.ipv4(4000, NEXT_HOPS, 7);
    int[] addresses = RouteSets.ipv4Lookups(routes, 30_000, 0.7, 8);
    int need = RouteSets.ipv4Tbl8Need(routes);
    QsbrDomain domain = new QsbrDomain();
    int[] nh = new int[NEXT_HOPS];
    NextHopTable table = nextHops(domain, nh);
    try (Ipv4Fib flat = new Ipv4Fib(domain, table, need + 16);
        RteFib dpdk = RteFib.create("t4diff", routes.size() + 16, need + 16, 0)) {
      Ipv4Fib.Batch batch = flat.batch();
      for (int i = 0; i < routes.size(); i++) {
        batch.add(routes.address()[i], routes.length()[i], nh[routes.nh()[i]]);
        dpdk.add(routes.address()[i], routes.length()[i], nh[routes.nh()[i]]);
      }
      batch.commit();
      assertEquals(need, flat.tbl8GroupsInUse(), "RouteSets.ipv4Tbl8Need");
      boolean[] absent = new boolean[routes.size()];
      compare4(routes, absent, nh, addresses, flat, dpdk, "after adds");

      // Delete a quarter one by one, replace another quarter's next hops, then compare again.
      SplittableRandom random = new SplittableRandom(9);
      for (int i = 0; i < routes.size(); i++) {
        int a = routes.address()[i];
        int l = routes.length()[i];
        int roll = random.nextInt(4);
        if (roll == 0) {
          flat.delete(new Ipv4Prefix(a, l));
          dpdk.delete(a, l);
          absent[i] = true;
        } else if (roll == 1) {
          routes.nh()[i] = (routes.nh()[i] + 1) % NEXT_HOPS;
          flat.add(new Ipv4Prefix(a, l), nh[routes.nh()[i]]);
          dpdk.add(a, l, nh[routes.nh()[i]]);
        }
      }
      compare4(routes, absent, nh, addresses, flat, dpdk, "after deletes and replacements");
      assertThrows(DpdkException.class, () -> dpdk.delete(0x0A00_0000, 31), "absent route");
    }
  }

  private static void compare4(
      Ipv4Routes routes,
      boolean[] absent,
      int[] nh,
      int[] addresses,
      Ipv4Fib flat,
      RteFib dpdk,
      String when) {
    long[] dpdkNh = new long[addresses.length];
    dpdk.lookupBulk(addresses, dpdkNh, addresses.length);
    List<String> wrong = new ArrayList<>();
    for (int i = 0; i < addresses.length; i++) {
      int f = flat.lookup(addresses[i]);
      if (f != dpdkNh[i] || dpdk.lookup(addresses[i]) != dpdkNh[i]) {
        wrong.add(Ipv4Prefix.format(addresses[i]) + ": flatnet " + f + ", rte_fib " + dpdkNh[i]);
      }
      if (i < 2000) {
        int r = RouteSets.referenceIpv4(routes, absent, addresses[i]);
        int expected = r < 0 ? 0 : nh[routes.nh()[r]];
        if (expected != f) {
          wrong.add(Ipv4Prefix.format(addresses[i]) + ": brute force " + expected + ", got " + f);
        }
      }
    }
    assertEquals(List.of(), wrong.subList(0, Math.min(10, wrong.size())), when);
  }

  @Test
  void ipv6AnswersEqualRteFib6Trie() {
    Ipv6Routes routes = RouteSets.ipv6(3000, NEXT_HOPS, 17);
    Ipv6Addresses addresses = RouteSets.ipv6Lookups(routes, 30_000, 0.7, 18);
    int reserve = RouteSets.ipv6TrieReservation(routes);
    QsbrDomain domain = new QsbrDomain();
    int[] nh = new int[NEXT_HOPS];
    NextHopTable table = nextHops(domain, nh);
    try (Ipv6Fib flat = new Ipv6Fib(domain, table, 4 * RouteSets.ipv6NodeNeed(routes, 16) + 64);
        RteFib6 dpdk = RteFib6.create("t6diff", routes.size() + 16, reserve + 64, 0)) {
      Ipv6Fib.Batch batch = flat.batch();
      for (int i = 0; i < routes.size(); i++) {
        batch.add(routes.hi()[i], routes.lo()[i], routes.length()[i], nh[routes.nh()[i]]);
        dpdk.add(routes.hi()[i], routes.lo()[i], routes.length()[i], nh[routes.nh()[i]]);
      }
      batch.commit();
      boolean[] absent = new boolean[routes.size()];
      compare6(routes, absent, nh, addresses, flat, dpdk, "after adds");

      SplittableRandom random = new SplittableRandom(19);
      for (int i = 0; i < routes.size(); i++) {
        long hi = routes.hi()[i];
        long lo = routes.lo()[i];
        int l = routes.length()[i];
        int roll = random.nextInt(4);
        if (roll == 0) {
          flat.delete(new Ipv6Prefix(hi, lo, l));
          dpdk.delete(hi, lo, l);
          absent[i] = true;
        } else if (roll == 1) {
          routes.nh()[i] = (routes.nh()[i] + 1) % NEXT_HOPS;
          flat.add(new Ipv6Prefix(hi, lo, l), nh[routes.nh()[i]]);
          dpdk.add(hi, lo, l, nh[routes.nh()[i]]);
        }
      }
      compare6(routes, absent, nh, addresses, flat, dpdk, "after deletes and replacements");
    }
  }

  @Test
  void ipv6TrieReservationIsATightUpperBound() {
    Ipv6Routes routes = RouteSets.ipv6(2000, NEXT_HOPS, 27);
    int estimate = RouteSets.ipv6TrieReservation(routes);
    int low = 1;
    int high = estimate;
    assertTrue(admitsAll(routes, high), "the estimate " + estimate + " must admit every route");
    while (low < high) { // the smallest num_tbl8 that does
      int mid = (low + high) >>> 1;
      if (admitsAll(routes, mid)) {
        high = mid;
      } else {
        low = mid + 1;
      }
    }
    assertTrue(estimate <= low + 4 + low / 100, "estimate " + estimate + ", true minimum " + low);
  }

  private static int probes;

  private static boolean admitsAll(Ipv6Routes routes, int numTbl8) {
    try (RteFib6 fib = RteFib6.create("t6min" + probes++, routes.size() + 16, numTbl8, 0)) {
      for (int i = 0; i < routes.size(); i++) {
        fib.add(routes.hi()[i], routes.lo()[i], routes.length()[i], routes.nh()[i] + 1);
      }
      return true;
    } catch (DpdkException e) {
      assertEquals(28, e.errno(), "only ENOSPC is expected: " + e.getMessage());
      return false;
    }
  }

  private static void compare6(
      Ipv6Routes routes,
      boolean[] absent,
      int[] nh,
      Ipv6Addresses addresses,
      Ipv6Fib flat,
      RteFib6 dpdk,
      String when) {
    int n = addresses.size();
    long[] dpdkNh = new long[n];
    dpdk.lookupBulk(addresses.hi(), addresses.lo(), dpdkNh, n);
    List<String> wrong = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      long hi = addresses.hi()[i];
      long lo = addresses.lo()[i];
      int f = flat.lookup(hi, lo);
      if (f != dpdkNh[i] || dpdk.lookup(hi, lo) != dpdkNh[i]) {
        wrong.add(Ipv6Prefix.format(hi, lo) + ": flatnet " + f + ", rte_fib6 " + dpdkNh[i]);
      }
      if (i < 2000) {
        int r = RouteSets.referenceIpv6(routes, absent, hi, lo);
        int expected = r < 0 ? 0 : nh[routes.nh()[r]];
        if (expected != f) {
          wrong.add(Ipv6Prefix.format(hi, lo) + ": brute force " + expected + ", got " + f);
        }
      }
    }
    assertEquals(List.of(), wrong.subList(0, Math.min(10, wrong.size())), when);
  }
}
