package io.flatnet.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** ECMP groups: the flow hash's spread, stability, and resilient member removal and addition. */
class NextHopGroupTest {
  private static final int FLOWS = 200_000;

  /** A random 5-tuple's hash, IPv4 or IPv6. */
  private static int randomFlowHash(SplittableRandom r) {
    int protocol = r.nextInt(4) == 0 ? 17 : 6;
    int ports = r.nextInt();
    if (r.nextBoolean()) {
      return FlowHash.ipv4(r.nextInt(), r.nextInt(), protocol, ports);
    }
    return FlowHash.ipv6(
        0xfd00_0000_0000_0000L | r.nextInt(1 << 16),
        r.nextLong(),
        0xfd00_0001_0000_0000L,
        r.nextLong(),
        protocol,
        ports);
  }

  private static int[] members(int n) {
    int[] m = new int[n];
    for (int i = 0; i < n; i++) {
      m[i] = 100 + i;
    }
    return m;
  }

  private static int[] randomWeights(SplittableRandom r, int n) {
    int[] w = new int[n];
    for (int i = 0; i < n; i++) {
      w[i] = 1 + r.nextInt(GroupBuckets.MAX_WEIGHT);
    }
    return w;
  }

  @Test
  void spreadFollowsTheWeights() {
    SplittableRandom r = new SplittableRandom(16);
    for (int trial = 0; trial < 40; trial++) {
      int n = 2 + r.nextInt(GroupBuckets.MAX_MEMBERS - 1);
      int[] members = members(n);
      int[] weights = trial < 5 ? filled(n, 1) : randomWeights(r, n);
      int[] buckets = GroupBuckets.initial(members, weights);
      assertEquals(0, buckets.length & (buckets.length - 1), "a power of two");
      long total = Arrays.stream(weights).sum();
      int[] hits = new int[n];
      for (int f = 0; f < FLOWS; f++) {
        hits[GroupBuckets.indexOf(members, buckets[randomFlowHash(r) & (buckets.length - 1)])]++;
      }
      for (int m = 0; m < n; m++) {
        double want = (double) weights[m] / total;
        double got = (double) hits[m] / FLOWS;
        // bucket rounding (1/1024, or one bucket for a tiny weight) plus sampling noise
        double tolerance =
            Math.max(1.0 / 512, 1.0 / buckets.length - want) + 4 * Math.sqrt(want / FLOWS);
        assertTrue(
            Math.abs(got - want) <= tolerance,
            "trial "
                + trial
                + " weights "
                + Arrays.toString(weights)
                + " member "
                + m
                + ": share "
                + got
                + ", weight share "
                + want);
      }
    }
  }

  @Test
  void bucketCountIsSmallForEvenGroupsAndBounded() {
    assertEquals(64, GroupBuckets.initial(members(2), filled(2, 1)).length);
    assertEquals(64, GroupBuckets.initial(members(4), filled(4, 7)).length);
    assertEquals(512, GroupBuckets.initial(members(3), filled(3, 1)).length);
    int[] heavy = filled(16, 255);
    heavy[0] = 1;
    int[] buckets = GroupBuckets.initial(members(16), heavy);
    assertTrue(buckets.length <= GroupBuckets.MAX_BUCKETS);
    assertEquals(1, GroupBuckets.counts(buckets, members(16))[0], "every member gets a bucket");
  }

  @Test
  void aFlowAlwaysTakesTheSameMember() {
    SplittableRandom r = new SplittableRandom(3);
    int[] buckets = GroupBuckets.initial(members(5), new int[] {1, 2, 3, 4, 5});
    for (int f = 0; f < 10_000; f++) {
      int src = r.nextInt();
      int dst = r.nextInt();
      int ports = r.nextInt();
      int a = FlowHash.ipv4(src, dst, 6, ports);
      assertEquals(a, FlowHash.ipv4(src, dst, 6, ports));
      assertEquals(buckets[a & (buckets.length - 1)], buckets[a & (buckets.length - 1)]);
    }
    assertNotEquals(FlowHash.ipv4(1, 2, 6, 80), FlowHash.ipv4(1, 2, 6, 81));
    assertNotEquals(FlowHash.ipv4(1, 2, 6, 80), FlowHash.ipv4(1, 2, 17, 80));
    assertNotEquals(FlowHash.ipv4(1, 2, 6, 80), FlowHash.ipv4(2, 1, 6, 80));
  }

  @Test
  void removingAMemberMovesOnlyItsFlowsAndSpreadsThemByWeight() {
    SplittableRandom r = new SplittableRandom(7);
    for (int trial = 0; trial < 60; trial++) {
      int n = 3 + r.nextInt(GroupBuckets.MAX_MEMBERS - 2);
      int[] members = members(n);
      int[] weights = trial % 3 == 0 ? filled(n, 1) : randomWeights(r, n);
      int[] old = GroupBuckets.initial(members, weights);
      int gone = r.nextInt(n);
      int[] survivors = without(members, gone);
      int[] survivorWeights = without(weights, gone);
      int[] now = GroupBuckets.update(old, members, weights, survivors, survivorWeights);
      assertTrue(now.length >= old.length, "a group never shrinks");
      int[] receivedBuckets = new int[survivors.length];
      for (int i = 0; i < now.length; i++) {
        int before = old[i & (old.length - 1)];
        assertNotEquals(members[gone], now[i], "the removed member has no bucket left");
        if (before != members[gone]) {
          assertEquals(before, now[i], "trial " + trial + ": a surviving member's bucket moved");
        } else {
          receivedBuckets[GroupBuckets.indexOf(survivors, now[i])]++;
        }
      }
      // the removed member's buckets went to the survivors in proportion to their weights
      int freed = GroupBuckets.counts(old, members)[gone] * (now.length / old.length);
      long total = Arrays.stream(survivorWeights).sum();
      for (int m = 0; m < survivors.length; m++) {
        double want = (double) freed * survivorWeights[m] / total;
        assertTrue(
            Math.abs(receivedBuckets[m] - want) <= 2.0 + 0.01 * now.length,
            "trial " + trial + " survivor " + m + " got " + receivedBuckets[m] + ", want " + want);
      }
      // and every flow of a survivor stays: check over random flows too
      for (int f = 0; f < 20_000; f++) {
        int h = randomFlowHash(r);
        int before = old[h & (old.length - 1)];
        int after = now[h & (now.length - 1)];
        if (before != members[gone]) {
          assertEquals(before, after);
        }
      }
    }
  }

  @Test
  void addingAMemberMovesOnlyItsShare() {
    SplittableRandom r = new SplittableRandom(11);
    for (int trial = 0; trial < 60; trial++) {
      int n = 2 + r.nextInt(GroupBuckets.MAX_MEMBERS - 2);
      int[] members = members(n + 1);
      int[] weights = trial % 3 == 0 ? filled(n + 1, 1) : randomWeights(r, n + 1);
      int[] oldMembers = Arrays.copyOf(members, n);
      int[] oldWeights = Arrays.copyOf(weights, n);
      int[] old = GroupBuckets.initial(oldMembers, oldWeights);
      int[] now = GroupBuckets.update(old, oldMembers, oldWeights, members, weights);
      int moved = 0;
      int toNew = 0;
      for (int i = 0; i < now.length; i++) {
        int before = old[i & (old.length - 1)];
        if (before != now[i]) {
          moved++; // mostly to the new member; a few between survivors, for rounding
          toNew += now[i] == members[n] ? 1 : 0;
        }
      }
      assertEquals(GroupBuckets.counts(now, members)[n], toNew);
      long total = Arrays.stream(weights).sum();
      double ideal = (double) now.length * weights[n] / total;
      // the new member's share, plus the rounding of each survivor's count
      assertTrue(
          moved <= Math.ceil(ideal) + n + 1,
          "trial " + trial + ": moved " + moved + " buckets of " + now.length + ", ideal " + ideal);
      int[] counts = GroupBuckets.counts(now, members);
      assertTrue(counts[n] >= 1);
      for (int m = 0; m <= n; m++) {
        double want = (double) now.length * weights[m] / total;
        assertTrue(Math.abs(counts[m] - want) <= Math.max(1.5, now.length / 1024.0 + 1));
      }
    }
  }

  @Test
  void growingTheArrayMovesNoFlow() {
    int[] twoEqual = GroupBuckets.initial(members(2), filled(2, 1));
    assertEquals(64, twoEqual.length);
    // a third member needs 512 buckets: the old 64 are replicated first, then its share taken
    int[] three = GroupBuckets.update(twoEqual, members(2), filled(2, 1), members(3), filled(3, 1));
    assertEquals(512, three.length);
    int moved = 0;
    for (int i = 0; i < three.length; i++) {
      if (three[i] != twoEqual[i & 63]) {
        moved++;
        assertEquals(102, three[i]);
      }
    }
    assertTrue(moved <= 171, "moved " + moved);
  }

  @Test
  void tableGroupsHoldTheirMembersAndUpdateInPlace() {
    QsbrDomain domain = new QsbrDomain();
    NextHopTable t = new NextHopTable(16, domain);
    assertFalse(t.hasGroups());
    int a = t.addNeighbourIpv4(1, 0x0a000001, 0x020000000001L);
    int b = t.addNeighbourIpv4(2, 0x0a000002, 0x020000000002L);
    int c = t.addNeighbourIpv4(3, 0x0a000003, 0x020000000003L);
    int g = t.addGroup(new int[] {a, b, c}, new int[] {1, 1, 2});
    assertTrue(t.hasGroups());
    assertEquals(NextHops.KIND_GROUP, t.kind(g));
    assertEquals(1, t.refCount(a));
    long entry = t.entry(g);
    int[] hits = new int[3];
    for (int h = 0; h < 4096; h++) {
      hits[GroupBuckets.indexOf(new int[] {a, b, c}, t.groupMember(entry, h))]++;
    }
    assertEquals(1024, hits[0]);
    assertEquals(2048, hits[2]);

    // c withdrawn: the caller hands in fresh references for a and b
    t.retain(a);
    t.retain(b);
    int moved = t.updateGroup(g, new int[] {a, b}, new int[] {1, 1});
    assertEquals(GroupBuckets.counts(t.groupBuckets(g), new int[] {a, b, c})[2], 0);
    assertTrue(moved > 0);
    assertEquals(1, t.refCount(a));
    assertFalse(t.isLive(c), "the group's reference on c was the last");
    assertEquals(entry, t.entry(g), "the group's entry (and so the FIB) is unchanged");

    assertThrows(IllegalArgumentException.class, () -> t.updateGroup(a, new int[] {a, b}, null));
    assertThrows(
        IllegalArgumentException.class, () -> t.addGroup(new int[] {a, a}, new int[] {1, 1}));
    assertThrows(
        IllegalArgumentException.class, () -> t.addGroup(new int[] {a, g}, new int[] {1, 1}));
    assertThrows(
        IllegalArgumentException.class, () -> t.addGroup(new int[] {a, b}, new int[] {0, 1}));

    t.release(g); // the route goes: the group and its members with it
    assertFalse(t.isLive(a));
    assertFalse(t.isLive(b));
    assertNull(t.groupMembers(g));
    t.reclaim(); // no readers: the grace period is over at once
    assertEquals(0, t.groupCount());
    assertFalse(t.hasGroups());
    assertEquals(0, t.size());
  }

  @Test
  void aMemberMarkedDownIsSkippedResilientlyAndComesBack() {
    NextHopTable t = new NextHopTable(16, new QsbrDomain());
    int a = t.addNeighbourIpv4(1, 0x0a000001, 0x020000000001L);
    int b = t.addNeighbourIpv4(2, 0x0a000002, 0x020000000002L);
    int c = t.addNeighbourIpv4(3, 0x0a000003, 0x020000000003L);
    int[] members = {a, b, c};
    int g = t.addGroup(members, new int[] {1, 1, 1});
    int[] before = t.groupBuckets(g);

    t.setDown(b, true); // b's neighbour failed NUD
    int[] skipping = t.groupBuckets(g);
    assertEquals(0, GroupBuckets.counts(skipping, members)[1]);
    for (int i = 0; i < skipping.length; i++) {
      int was = before[i & (before.length - 1)];
      if (was != b) {
        assertEquals(was, skipping[i], "a flow of a live path moved");
      }
    }
    assertEquals(3, t.groupMembers(g).length, "still configured: it holds its reference");
    assertTrue(t.isLive(b));

    t.setDown(b, false); // it answered again
    int[] back = t.groupBuckets(g);
    int[] counts = GroupBuckets.counts(back, members);
    assertTrue(Math.abs(counts[1] - back.length / 3) <= 1, "b takes back its share: " + counts[1]);
    int moved = 0;
    for (int i = 0; i < back.length; i++) {
      moved += back[i] != skipping[i & (skipping.length - 1)] ? 1 : 0;
    }
    assertEquals(counts[1], moved, "only the buckets b takes back move");

    t.setDown(a, true);
    t.setDown(b, true);
    t.setDown(c, true); // all down: send to all, packets wait and keep them probed
    assertEquals(3, countNonZero(GroupBuckets.counts(t.groupBuckets(g), members)));
  }

  private static int countNonZero(int[] a) {
    int n = 0;
    for (int x : a) {
      n += x != 0 ? 1 : 0;
    }
    return n;
  }

  private static int[] filled(int n, int value) {
    int[] a = new int[n];
    Arrays.fill(a, value);
    return a;
  }

  private static int[] without(int[] a, int index) {
    int[] out = new int[a.length - 1];
    for (int i = 0, j = 0; i < a.length; i++) {
      if (i != index) {
        out[j++] = a[i];
      }
    }
    return out;
  }
}
