package io.flatnet.route;

import java.util.Arrays;

/**
 * The bucket arrays of ECMP groups: which member each bucket (a slice of the flow-hash space) sends
 * to. Pure functions over immutable arrays; {@link NextHopTable} publishes the results.
 *
 * <h2>Size and rounding</h2>
 *
 * A group has a power-of-two number of buckets, the smallest of {@value #MIN_BUCKETS}, 128, ...,
 * {@value #MAX_BUCKETS} whose apportionment puts every member's share of buckets within 1/512 of
 * its share of the weights (so 2 or 4 equal members take 64 buckets, 3 equal members 512, and any
 * mix of weights 1..255 over up to 16 members at most 1024, where the error is below 1/1024).
 * Counts are apportioned by largest remainder, every member at least one bucket. A group only
 * grows: a bigger array replicates the old one ({@code new[i] = old[i mod old]}), which moves no
 * flow, because the bucket index is the hash's low bits.
 *
 * <h2>Resilience</h2>
 *
 * {@link #update} changes a group with the least movement:
 *
 * <ul>
 *   <li>members removed, survivors' weights unchanged: only the removed members' buckets are
 *       reassigned, each to the survivor furthest below its target count (so in weight proportion);
 *       no flow of a surviving member moves;
 *   <li>otherwise (a member added, a weight changed): survivors above their new target give up
 *       their excess buckets (their highest-numbered ones) and those, with any removed member's, go
 *       to the members below target; nothing else moves.
 * </ul>
 */
public final class GroupBuckets {
  /** Fewest buckets of a group. */
  public static final int MIN_BUCKETS = 64;

  /** Most buckets of a group: any weights 1..255 over 16 members fit within 1/1024. */
  public static final int MAX_BUCKETS = 1024;

  /** Most members of a group. */
  public static final int MAX_MEMBERS = 16;

  /** Largest weight of a member. */
  public static final int MAX_WEIGHT = 255;

  private GroupBuckets() {}

  /** The buckets of a new group: each member's count in one run, in member order. */
  public static int[] initial(int[] members, int[] weights) {
    int size = sizeFor(weights);
    int[] counts = apportion(size, weights);
    int[] buckets = new int[size];
    int at = 0;
    for (int m = 0; m < members.length; m++) {
      Arrays.fill(buckets, at, at + counts[m], members[m]);
      at += counts[m];
    }
    return buckets;
  }

  /**
   * The buckets after the group's members become {@code members} with {@code weights}, from its
   * current {@code old} ones over {@code oldMembers} with {@code oldWeights}; see the class
   * comment.
   */
  public static int[] update(
      int[] old, int[] oldMembers, int[] oldWeights, int[] members, int[] weights) {
    int size = Math.max(old.length, sizeFor(weights));
    int[] buckets = new int[size];
    for (int i = 0; i < size; i++) {
      buckets[i] = old[i & (old.length - 1)];
    }
    int[] target = apportion(size, weights);
    boolean removalOnly = true;
    for (int m = 0; m < members.length; m++) {
      int was = indexOf(oldMembers, members[m]);
      if (was < 0 || oldWeights[was] != weights[m]) {
        removalOnly = false;
      }
    }
    int[] counts = new int[members.length];
    boolean[] freed = new boolean[size];
    for (int i = 0; i < size; i++) {
      int m = indexOf(members, buckets[i]);
      if (m < 0) {
        freed[i] = true;
      } else {
        counts[m]++;
      }
    }
    if (!removalOnly) {
      for (int i = size - 1; i >= 0; i--) {
        if (!freed[i]) {
          int m = indexOf(members, buckets[i]);
          if (counts[m] > target[m]) {
            counts[m]--;
            freed[i] = true;
          }
        }
      }
    }
    for (int i = 0; i < size; i++) {
      if (freed[i]) {
        int best = 0;
        for (int m = 1; m < members.length; m++) {
          if (target[m] - counts[m] > target[best] - counts[best]) {
            best = m;
          }
        }
        buckets[i] = members[best];
        counts[best]++;
      }
    }
    return buckets;
  }

  /** The bucket count for these weights; see the class comment. */
  static int sizeFor(int[] weights) {
    long total = 0;
    for (int w : weights) {
      total += w;
    }
    for (int size = MIN_BUCKETS; size < MAX_BUCKETS; size <<= 1) {
      int[] counts = apportion(size, weights);
      boolean fits = true;
      for (int m = 0; m < weights.length && fits; m++) {
        // |counts/size - w/total| <= 1/512
        fits = Math.abs(counts[m] * total - (long) weights[m] * size) * 512 <= size * total;
      }
      if (fits) {
        return size;
      }
    }
    return MAX_BUCKETS;
  }

  /** Largest-remainder apportionment of {@code size} buckets by weight, each at least one. */
  static int[] apportion(int size, int[] weights) {
    long total = 0;
    for (int w : weights) {
      total += w;
    }
    int n = weights.length;
    int[] counts = new int[n];
    long[] remainders = new long[n];
    int given = 0;
    for (int m = 0; m < n; m++) {
      long share = (long) weights[m] * size;
      counts[m] = (int) (share / total);
      remainders[m] = share % total;
      given += counts[m];
    }
    for (; given < size; given++) {
      int best = 0;
      for (int m = 1; m < n; m++) {
        if (remainders[m] > remainders[best]) {
          best = m;
        }
      }
      counts[best]++;
      remainders[best] = -1;
    }
    for (int m = 0; m < n; m++) {
      if (counts[m] == 0) {
        int largest = 0;
        for (int k = 1; k < n; k++) {
          if (counts[k] > counts[largest]) {
            largest = k;
          }
        }
        counts[largest]--;
        counts[m] = 1;
      }
    }
    return counts;
  }

  /** Per member, how many of {@code buckets} send to it. */
  public static int[] counts(int[] buckets, int[] members) {
    int[] counts = new int[members.length];
    for (int b : buckets) {
      int m = indexOf(members, b);
      if (m >= 0) {
        counts[m]++;
      }
    }
    return counts;
  }

  static int indexOf(int[] members, int member) {
    for (int m = 0; m < members.length; m++) {
      if (members[m] == member) {
        return m;
      }
    }
    return -1;
  }
}
