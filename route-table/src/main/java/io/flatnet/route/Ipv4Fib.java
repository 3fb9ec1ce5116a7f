package io.flatnet.route;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.agrona.collections.Int2IntHashMap;
import org.agrona.collections.Long2LongHashMap;

/**
 * IPv4 longest-prefix-match table, DIR-24-8 (as DPDK's {@code rte_lpm}), off-heap.
 *
 * <h2>Layout</h2>
 *
 * {@code tbl24} has 2<sup>24</sup> int entries indexed by the top 24 address bits; an entry whose
 * bit 31 is set points to a 256-entry tbl8 group indexed by the low 8 bits. Leaf entries are {@code
 * depth+1 : 6 (bits 24-29) | nextHop : 24}; the depth lets updates tell which prefix owns an entry
 * (as rte_lpm does) and a zero entry is {@link NextHops#NO_ROUTE}. A lookup is one load, or two for
 * addresses under a prefix longer than /24. A group exists for a /24 exactly when some route longer
 * than /24 lies in it, so the tbl8 need of a batch is known before it is applied.
 *
 * <h2>Atomic batches: double buffering</h2>
 *
 * There are two complete copies. Readers use the one published in a volatile field; the writer
 * applies a batch to the other (after a QSBR grace period guarantees no reader is still in it),
 * then swaps the reference: one volatile store publishes the whole batch. The next commit first
 * replays the previous batch onto the now-spare copy, so each batch is applied twice. Cost: 2x the
 * memory (2 x 64 MiB of tbl24, plus tbl8s) and 2x the update work; lookups pay nothing. The tbl8
 * pool of the spare copy grows (doubling, up to the limit) while no reader can see it.
 *
 * <p>One writer (commits are synchronized), any number of readers, no locks on the read side.
 */
public final class Ipv4Fib implements Ipv4Lookup, AutoCloseable {

  /** The largest configurable tbl8 group count (group indexes fit 24 bits). */
  public static final int MAX_TBL8_GROUPS = 1 << 24;

  static final int EXT = 0x8000_0000;
  static final int NH_MASK = 0x00FF_FFFF;
  private static final int DP_SHIFT = 24;
  private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
  private static final long TBL24_BYTES = 4L << 24;
  private static final int GROUP_BYTES = 256 * 4;
  private static final int INITIAL_GROUPS = 64;
  private static final long MISSING = Long.MIN_VALUE;

  /** One complete copy of the lookup structure; the tbl8 fields change only while unpublished. */
  private static final class Dir24 {
    final Arena tbl24Arena = Arena.ofShared();
    final MemorySegment tbl24 = tbl24Arena.allocate(TBL24_BYTES, 64);
    Arena tbl8Arena;
    MemorySegment tbl8;
    int tbl8Capacity;
    int[] freeGroups = new int[0];
    int freeTop;
    int highWater;
    int groupsInUse;

    Dir24(int initialGroups) {
      tbl8Capacity = initialGroups;
      tbl8Arena = Arena.ofShared();
      tbl8 = tbl8Arena.allocate(Math.max(1, (long) initialGroups * GROUP_BYTES), 64);
    }

    void close() {
      tbl24Arena.close();
      tbl8Arena.close();
    }
  }

  /** A batch's net effect: deletes first (nh 0), then adds/replaces. */
  private record Diff(long[] keys, int[] nhs, int[] oldNhs, int count) {}

  private final QsbrDomain domain;
  private final NextHopTable nextHops;
  private final int maxTbl8Groups;

  private volatile Dir24 active;
  private volatile long generation;

  // Writer state.
  private Dir24 spare;
  private long spareGraceEpoch; // readers may be in `spare` until this epoch's grace period ends
  private Diff spareBehind; // applied to `active` but not yet to `spare`
  private final Long2LongHashMap rules = new Long2LongHashMap(MISSING); // key(prefix) -> nh
  private final int[] depthCount = new int[33];
  private final Int2IntHashMap groupUsers = new Int2IntHashMap(0); // /24 -> routes > /24 in it
  private boolean closed;

  /**
   * @param domain the QSBR domain of the workers that call {@link #lookup}
   * @param nextHops the table the routes' next-hop indexes refer to
   * @param maxTbl8Groups tbl8 group limit (each 1 KiB per copy), at most {@link #MAX_TBL8_GROUPS}
   */
  public Ipv4Fib(QsbrDomain domain, NextHopTable nextHops, int maxTbl8Groups) {
    if (maxTbl8Groups < 0 || maxTbl8Groups > MAX_TBL8_GROUPS) {
      throw new IllegalArgumentException(
          "maxTbl8Groups " + maxTbl8Groups + " out of range [0, " + MAX_TBL8_GROUPS + "]");
    }
    this.domain = domain;
    this.nextHops = nextHops;
    this.maxTbl8Groups = maxTbl8Groups;
    int initial = Math.min(maxTbl8Groups, INITIAL_GROUPS);
    this.active = new Dir24(initial);
    this.spare = new Dir24(initial);
  }

  // ---------------------------------------------------------------- read side

  @Override
  public int lookup(int destination) {
    Dir24 t = active;
    int e = t.tbl24.get(INT, (long) (destination >>> 8) << 2);
    if (e < 0) {
      e = t.tbl8.get(INT, ((long) (e & NH_MASK) << 10) | ((destination & 0xFF) << 2));
    }
    return e & NH_MASK;
  }

  /** Two passes so the independent tbl24 loads overlap (as rte_lpm_lookup_bulk). */
  @Override
  public void lookupBulk(int[] destinations, int[] nextHops, int count) {
    Dir24 t = active;
    MemorySegment tbl24 = t.tbl24;
    for (int i = 0; i < count; i++) {
      nextHops[i] = tbl24.get(INT, (long) (destinations[i] >>> 8) << 2);
    }
    MemorySegment tbl8 = t.tbl8;
    for (int i = 0; i < count; i++) {
      int e = nextHops[i];
      if (e < 0) {
        e = tbl8.get(INT, ((long) (e & NH_MASK) << 10) | ((destinations[i] & 0xFF) << 2));
      }
      nextHops[i] = e & NH_MASK;
    }
  }

  /** Incremented by every publishing commit, after the new table is visible. */
  public long generation() {
    return generation;
  }

  // ---------------------------------------------------------------- writer side

  /** A new, empty batch for this table. */
  public Batch batch() {
    return new Batch();
  }

  /** Adds or replaces one route (a one-route batch). */
  public long add(Ipv4Prefix prefix, int nextHop) {
    return batch().add(prefix, nextHop).commit();
  }

  /** Deletes one route if present (a one-route batch). */
  public long delete(Ipv4Prefix prefix) {
    return batch().delete(prefix).commit();
  }

  /** The next hop of exactly this prefix in the control-plane view, or NO_ROUTE. */
  public synchronized int get(Ipv4Prefix prefix) {
    long nh = rules.get(key(prefix.address(), prefix.length()));
    return nh == MISSING ? NextHops.NO_ROUTE : (int) nh;
  }

  public synchronized int routeCount() {
    return rules.size();
  }

  public int maxTbl8Groups() {
    return maxTbl8Groups;
  }

  /** tbl8 groups in use (in each copy). */
  public synchronized int tbl8GroupsInUse() {
    return groupUsers.size();
  }

  /** Off-heap bytes allocated by this table: both copies' tbl24 and tbl8 pools. */
  public synchronized long memoryBytes() {
    return 2 * TBL24_BYTES + ((long) active.tbl8Capacity + spare.tbl8Capacity) * GROUP_BYTES;
  }

  /**
   * Frees the off-heap memory. Workers must have stopped looking up in this table (a lookup after
   * close fails with {@link IllegalStateException}; it cannot read freed memory).
   */
  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      active.close();
      spare.close();
    }
  }

  private synchronized long commit(Long2LongHashMap ops) {
    if (closed) {
      throw new IllegalStateException("Ipv4Fib is closed");
    }
    Diff diff = netDiff(ops);
    if (diff.count == 0) {
      return generation;
    }
    // Everything that can fail happens before anything changes.
    retainAll(diff); // validates the next hops, atomically with respect to other releases
    int groupsAfter;
    try {
      groupsAfter = checkTbl8(diff);
    } catch (RouteTableFullException e) {
      releaseNew(diff, diff.count);
      throw e;
    }

    // The spare copy: wait until no reader can be in it, then bring it up to date.
    domain.awaitGracePeriod(spareGraceEpoch);
    if (spareBehind != null) {
      apply(spare, spareBehind);
      spareBehind = null;
    }
    updateRules(diff);
    reserveTbl8(spare, groupsAfter);
    apply(spare, diff);

    // Publish: one volatile store makes the whole batch visible.
    Dir24 old = active;
    active = spare;
    spare = old;
    long gen = generation + 1;
    generation = gen;
    spareGraceEpoch = domain.advance();
    spareBehind = diff;

    for (int i = 0; i < diff.count; i++) {
      if (diff.oldNhs[i] != 0) {
        nextHops.release(diff.oldNhs[i]); // index reuse waits for its own grace period
      }
    }
    return gen;
  }

  /** Takes the routes' references; on an unknown next hop, gives back those taken and throws. */
  private void retainAll(Diff diff) {
    for (int i = 0; i < diff.count; i++) {
      int nh = diff.nhs[i];
      if (nh != 0) {
        try {
          nextHops.retain(nh);
        } catch (IllegalArgumentException e) {
          releaseNew(diff, i);
          throw new IllegalArgumentException(
              "route " + prefixText(diff.keys[i]) + ": next hop " + nh + " is not allocated", e);
        }
      }
    }
  }

  private void releaseNew(Diff diff, int upTo) {
    for (int i = 0; i < upTo; i++) {
      if (diff.nhs[i] != 0) {
        nextHops.release(diff.nhs[i]);
      }
    }
  }

  private Diff netDiff(Long2LongHashMap ops) {
    int n = ops.size();
    long[] keys = new long[n];
    int[] nhs = new int[n];
    int[] oldNhs = new int[n];
    int[] counts = new int[2]; // deletes from the front, adds from the back
    ops.forEachLong(
        (key, nh) -> {
          long old = rules.get(key);
          int oldNh = old == MISSING ? 0 : (int) old;
          if (nh == oldNh) {
            return; // absent delete, or same next hop again
          }
          int at = nh == 0 ? counts[0]++ : n - 1 - counts[1]++;
          keys[at] = key;
          nhs[at] = (int) nh;
          oldNhs[at] = oldNh;
        });
    int dels = counts[0];
    int adds = counts[1];
    System.arraycopy(keys, n - adds, keys, dels, adds);
    System.arraycopy(nhs, n - adds, nhs, dels, adds);
    System.arraycopy(oldNhs, n - adds, oldNhs, dels, adds);
    return new Diff(keys, nhs, oldNhs, dels + adds);
  }

  /**
   * Exact: a group per /24 holding a route longer than /24. Deletes run first, so the count never
   * overshoots the larger of before and after.
   *
   * @return the groups needed after the batch
   */
  private int checkTbl8(Diff diff) {
    Int2IntHashMap delta = new Int2IntHashMap(0);
    for (int i = 0; i < diff.count; i++) {
      long key = diff.keys[i];
      if (depth(key) > 24 && (diff.nhs[i] == 0 || diff.oldNhs[i] == 0)) {
        delta.merge(address(key) >>> 8, diff.nhs[i] == 0 ? -1 : 1, Integer::sum);
      }
    }
    long[] after = {groupUsers.size()};
    delta.forEachInt(
        (slot, change) -> {
          int before = groupUsers.get(slot);
          int now = before + change;
          after[0] += (before == 0 && now > 0 ? 1 : 0) - (before > 0 && now == 0 ? 1 : 0);
        });
    if (after[0] > maxTbl8Groups) {
      throw new RouteTableFullException(
          "tbl8 groups", maxTbl8Groups, "the batch needs " + after[0] + "; table unchanged");
    }
    return (int) after[0];
  }

  private void updateRules(Diff diff) {
    for (int i = 0; i < diff.count; i++) {
      long key = diff.keys[i];
      int depth = depth(key);
      int nh = diff.nhs[i];
      if (nh == 0) {
        rules.remove(key);
        depthCount[depth]--;
        if (depth > 24) {
          int slot = address(key) >>> 8;
          int users = groupUsers.get(slot) - 1;
          if (users == 0) {
            groupUsers.remove(slot);
          } else {
            groupUsers.put(slot, users);
          }
        }
      } else {
        if (rules.put(key, nh) == MISSING) {
          depthCount[depth]++;
          if (depth > 24) {
            groupUsers.merge(address(key) >>> 8, 1, Integer::sum);
          }
        }
      }
    }
  }

  /**
   * Applies a diff to an unpublished copy; parents come from {@link #rules} (the diff's result).
   */
  private void apply(Dir24 t, Diff diff) {
    for (int i = 0; i < diff.count; i++) {
      long key = diff.keys[i];
      if (diff.nhs[i] == 0) {
        delete(t, address(key), depth(key));
      } else {
        add(t, address(key), depth(key), diff.nhs[i]);
      }
    }
  }

  /** Overwrites the entries of the range owned by shorter (or no) prefixes, as rte_lpm does. */
  private void add(Dir24 t, int address, int depth, int nh) {
    int leaf = leaf(nh, depth);
    int dpMax = depth + 1;
    MemorySegment tbl24 = t.tbl24;
    if (depth <= 24) {
      int start = address >>> 8;
      int end = start + (1 << (24 - depth));
      for (int i = start; i < end; i++) {
        long at = (long) i << 2;
        int e = tbl24.get(INT, at);
        if (e >= 0) {
          if (dp(e) <= dpMax) {
            tbl24.set(INT, at, leaf);
          }
        } else {
          replaceInGroup(t.tbl8, groupBase(e), 0, 256, dpMax, true, leaf);
        }
      }
    } else {
      long at = (long) (address >>> 8) << 2;
      int e = tbl24.get(INT, at);
      if (e >= 0) {
        int g = allocGroup(t);
        long base = (long) g * GROUP_BYTES;
        for (int j = 0; j < 256; j++) {
          t.tbl8.set(INT, base + (j << 2), e); // inherit the covering /<=24 route
        }
        tbl24.set(INT, at, EXT | g);
        e = EXT | g;
      }
      replaceInGroup(t.tbl8, groupBase(e), address & 0xFF, 1 << (32 - depth), dpMax, true, leaf);
    }
  }

  /** Gives the entries owned by the deleted prefix to its parent (or NO_ROUTE). */
  private void delete(Dir24 t, int address, int depth) {
    int parent = parentLeaf(address, depth);
    int dp = depth + 1;
    MemorySegment tbl24 = t.tbl24;
    if (depth <= 24) {
      int start = address >>> 8;
      int end = start + (1 << (24 - depth));
      for (int i = start; i < end; i++) {
        long at = (long) i << 2;
        int e = tbl24.get(INT, at);
        if (e >= 0) {
          if (dp(e) == dp) {
            tbl24.set(INT, at, parent);
          }
        } else {
          replaceInGroup(t.tbl8, groupBase(e), 0, 256, dp, false, parent);
        }
      }
    } else {
      int slot = address >>> 8;
      long at = (long) slot << 2;
      int e = tbl24.get(INT, at);
      if (e >= 0) {
        return; // this /24's group was already collapsed by another delete of the same diff
      }
      if (groupUsers.get(slot) == 0) {
        // No route longer than /24 left here: back to a plain tbl24 entry.
        tbl24.set(INT, at, parentLeaf(slot << 8, 25));
        freeGroup(t, e & NH_MASK);
      } else {
        replaceInGroup(t.tbl8, groupBase(e), address & 0xFF, 1 << (32 - depth), dp, false, parent);
      }
    }
  }

  /** In a group's [from, from+count): replace leaves with dp <= dpRef (add) or == dpRef (del). */
  private static void replaceInGroup(
      MemorySegment tbl8, long base, int from, int count, int dpRef, boolean add, int leaf) {
    for (int j = from, end = from + count; j < end; j++) {
      long at = base + (j << 2);
      int e = tbl8.get(INT, at);
      int dp = dp(e);
      if (add ? dp <= dpRef : dp == dpRef) {
        tbl8.set(INT, at, leaf);
      }
    }
  }

  /** The leaf of the longest route in {@link #rules} shorter than {@code depth} covering it. */
  private int parentLeaf(int address, int depth) {
    for (int d = depth - 1; d >= 0; d--) {
      if (depthCount[d] != 0) {
        long nh = rules.get(key(address & Ipv4Prefix.mask(d), d));
        if (nh != MISSING) {
          return leaf((int) nh, d);
        }
      }
    }
    return 0;
  }

  private int allocGroup(Dir24 t) {
    int g;
    if (t.freeTop > 0) {
      g = t.freeGroups[--t.freeTop];
    } else {
      if (t.highWater == t.tbl8Capacity) {
        growTbl8(t);
      }
      g = t.highWater++;
    }
    t.groupsInUse++;
    return g;
  }

  private static void freeGroup(Dir24 t, int g) {
    if (t.freeTop == t.freeGroups.length) {
      t.freeGroups = java.util.Arrays.copyOf(t.freeGroups, Math.max(16, t.freeTop * 2));
    }
    t.freeGroups[t.freeTop++] = g;
    t.groupsInUse--;
  }

  /** Sizes the pool for a known need (plus 1/8 headroom) in one step, rather than doubling. */
  private void reserveTbl8(Dir24 t, int groups) {
    if (groups > t.tbl8Capacity) {
      resizeTbl8(t, (int) Math.min(maxTbl8Groups, groups + (long) groups / 8));
    }
  }

  private void growTbl8(Dir24 t) {
    int cap = (int) Math.min(maxTbl8Groups, Math.max(INITIAL_GROUPS, t.tbl8Capacity * 3L / 2));
    if (cap <= t.tbl8Capacity) {
      // checkTbl8 makes this unreachable.
      throw new RouteTableFullException("tbl8 groups", maxTbl8Groups, "");
    }
    resizeTbl8(t, cap);
  }

  /** Only ever called on the unpublished copy, so the old pool can be freed at once. */
  private void resizeTbl8(Dir24 t, int cap) {
    Arena arena = Arena.ofShared();
    MemorySegment seg = arena.allocate((long) cap * GROUP_BYTES, 64);
    MemorySegment.copy(t.tbl8, 0, seg, 0, (long) t.highWater * GROUP_BYTES);
    t.tbl8Arena.close();
    t.tbl8Arena = arena;
    t.tbl8 = seg;
    t.tbl8Capacity = cap;
  }

  private static long groupBase(int ext) {
    return (long) (ext & NH_MASK) * GROUP_BYTES;
  }

  private static int leaf(int nh, int depth) {
    return ((depth + 1) << DP_SHIFT) | nh;
  }

  private static int dp(int leaf) {
    return (leaf >>> DP_SHIFT) & 0x3F;
  }

  static long key(int address, int length) {
    return ((address & 0xFFFF_FFFFL) << 6) | length;
  }

  private static int address(long key) {
    return (int) (key >>> 6);
  }

  private static int depth(long key) {
    return (int) (key & 63);
  }

  private static String prefixText(long key) {
    return Ipv4Prefix.format(address(key)) + "/" + depth(key);
  }

  private static void checkNextHop(int nextHop) {
    if (nextHop <= 0 || nextHop > NextHopTable.MAX_CAPACITY) {
      throw new IllegalArgumentException(
          "next hop " + nextHop + " out of range [1, " + NextHopTable.MAX_CAPACITY + "]");
    }
  }

  /** A batch of IPv4 route changes; see {@link RouteBatch}. Not thread-safe. */
  public final class Batch implements RouteBatch<Ipv4Prefix> {

    private final Long2LongHashMap ops = new Long2LongHashMap(MISSING); // key -> nh, 0 = delete

    private Batch() {}

    @Override
    public Batch add(Ipv4Prefix prefix, int nextHop) {
      return add(prefix.address(), prefix.length(), nextHop);
    }

    /** Adds or replaces {@code address/length}; same checks as {@link Ipv4Prefix}. */
    public Batch add(int address, int length, int nextHop) {
      Ipv4Prefix.check(address, length);
      checkNextHop(nextHop);
      ops.put(key(address, length), nextHop);
      return this;
    }

    @Override
    public Batch delete(Ipv4Prefix prefix) {
      return delete(prefix.address(), prefix.length());
    }

    public Batch delete(int address, int length) {
      Ipv4Prefix.check(address, length);
      ops.put(key(address, length), 0);
      return this;
    }

    @Override
    public int size() {
      return ops.size();
    }

    @Override
    public void clear() {
      ops.clear();
    }

    @Override
    public long commit() {
      long gen = Ipv4Fib.this.commit(ops);
      ops.clear();
      return gen;
    }
  }
}
