package io.flatnet.route;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import org.agrona.collections.Int2IntHashMap;
import org.agrona.collections.IntArrayList;
import org.agrona.collections.Long2LongHashMap;

/**
 * IPv4 longest-prefix-match table, DIR-24-8 (as DPDK's {@code rte_lpm} / {@code rte_fib} DIR24_8),
 * off-heap.
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
 * <h2>Memory</h2>
 *
 * One tbl24 (64 MiB) and the tbl8 pool sit in one reservation of address space for {@code
 * maxTbl8Groups} groups, on 2 MiB pages where the kernel allows ({@link ReservedMemory}); pool
 * pages are committed as groups are first used, so the pool never grows by copying and its address
 * never changes. {@link #memoryBytes()} counts the tbl24 and the groups up to the high-water mark:
 * at most what rte_fib allocates for the same {@code num_tbl8}.
 *
 * <h2>Updates in place, atomic per destination</h2>
 *
 * There is one copy, and readers look it up with plain loads while the writer changes it, as in
 * rte_fib. Every entry is one aligned 4-byte store, so a reader sees an entry's old or new value. A
 * commit writes each entry at most once, and only with its final value (the one the table holds
 * after the whole batch):
 *
 * <ul>
 *   <li>the control-plane view ({@link #rules}) is updated first, so a delete gives its range the
 *       covering prefix of the final table;
 *   <li>the batch's changes are applied longest prefix first: a prefix only overwrites entries
 *       owned by a prefix no longer than itself, and by then the longer prefixes of the batch have
 *       claimed theirs, so no entry is written with a value a later change of the same batch
 *       overwrites (a later write, if any, stores the same value again);
 *   <li>a new tbl8 group is filled completely (with the /24's current answer, then the batch's
 *       changes) before its tbl24 entry points at it (release fence, then one store);
 *   <li>a group that loses its last long route is unlinked (its tbl24 entry becomes the /24's final
 *       leaf) and reused only after a QSBR grace period: a reader that loaded the old pointer still
 *       reads that group's unchanged contents, never a recycled one.
 * </ul>
 *
 * So every lookup returns, for its destination, the answer before the batch or after it, never
 * garbage or an intermediate answer. A batch of several prefixes is not atomic as a whole: while it
 * is applied, one destination may already see the new answer and another still the old one. (The
 * previous design kept a second complete copy to publish whole batches with one store, at twice the
 * memory and twice the update work; nothing in the dataplane relied on it.) Groups unlinked by
 * deletes are applied first, so a batch that frees a group can reuse it: the writer then waits for
 * one grace period mid-batch.
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
  private static final long MISSING = Long.MIN_VALUE;

  /** A batch's net effect: deletes first (nh 0), then adds/replaces. */
  private record Diff(long[] keys, int[] nhs, int[] oldNhs, int count) {}

  private final QsbrDomain domain;
  private final NextHopTable nextHops;
  private final int maxTbl8Groups;

  // What readers use: fixed for the table's life.
  private final Arena arena = Arena.ofShared();
  private final MemorySegment tbl24;
  private final MemorySegment tbl8;

  private volatile long generation;

  // Writer state.
  private int[] freeGroups = new int[16];
  private int freeTop;
  private int highWater;
  private final IntArrayList unlinked = new IntArrayList(); // by this batch, not yet retired
  private final RetireList retireList = new RetireList();
  private final Long2LongHashMap rules = new Long2LongHashMap(MISSING); // key(prefix) -> nh
  private final int[] depthCount = new int[33];
  private final Int2IntHashMap groupUsers = new Int2IntHashMap(0); // /24 -> routes > /24 in it
  private boolean closed;

  /**
   * @param domain the QSBR domain of the workers that call {@link #lookup}
   * @param nextHops the table the routes' next-hop indexes refer to
   * @param maxTbl8Groups tbl8 group limit (1 KiB each), at most {@link #MAX_TBL8_GROUPS}
   */
  public Ipv4Fib(QsbrDomain domain, NextHopTable nextHops, int maxTbl8Groups) {
    if (maxTbl8Groups < 0 || maxTbl8Groups > MAX_TBL8_GROUPS) {
      throw new IllegalArgumentException(
          "maxTbl8Groups " + maxTbl8Groups + " out of range [0, " + MAX_TBL8_GROUPS + "]");
    }
    this.domain = domain;
    this.nextHops = nextHops;
    this.maxTbl8Groups = maxTbl8Groups;
    MemorySegment mem =
        ReservedMemory.reserve(arena, TBL24_BYTES + (long) maxTbl8Groups * GROUP_BYTES);
    this.tbl24 = mem.asSlice(0, TBL24_BYTES);
    this.tbl8 = mem.asSlice(TBL24_BYTES);
  }

  // ---------------------------------------------------------------- read side

  @Override
  public int lookup(int destination) {
    int e = tbl24.get(INT, (long) (destination >>> 8) << 2);
    if (e < 0) {
      e = tbl8.get(INT, ((long) (e & NH_MASK) << 10) | ((destination & 0xFF) << 2));
    }
    return e & NH_MASK;
  }

  /** Two passes so the independent tbl24 loads overlap (as rte_lpm_lookup_bulk). */
  @Override
  public void lookupBulk(int[] destinations, int[] nextHops, int count) {
    MemorySegment t24 = tbl24;
    for (int i = 0; i < count; i++) {
      nextHops[i] = t24.get(INT, (long) (destinations[i] >>> 8) << 2);
    }
    MemorySegment t8 = tbl8;
    for (int i = 0; i < count; i++) {
      int e = nextHops[i];
      if (e < 0) {
        e = t8.get(INT, ((long) (e & NH_MASK) << 10) | ((destinations[i] & 0xFF) << 2));
      }
      nextHops[i] = e & NH_MASK;
    }
  }

  /** Incremented by every commit that changed something, after its last entry was written. */
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

  /** tbl8 groups linked from tbl24 (not counting unlinked ones waiting for their grace period). */
  public synchronized int tbl8GroupsInUse() {
    return groupUsers.size();
  }

  /**
   * Off-heap bytes this table has committed: the tbl24 and the tbl8 groups up to the highest ever
   * used (the reservation beyond it is address space only, untouched).
   */
  public synchronized long memoryBytes() {
    return TBL24_BYTES + (long) highWater * GROUP_BYTES;
  }

  /**
   * Frees the off-heap memory. Workers must have stopped looking up in this table (a lookup after
   * close fails with {@link IllegalStateException}; it cannot read freed memory).
   */
  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      retireList.runAll(); // readers are gone (see above)
      arena.close();
    }
  }

  private synchronized long commit(Long2LongHashMap ops) {
    if (closed) {
      throw new IllegalStateException("Ipv4Fib is closed");
    }
    retireList.runReady(domain);
    Diff diff = netDiff(ops);
    if (diff.count == 0) {
      return generation;
    }
    // Everything that can fail happens before anything changes.
    retainAll(diff); // validates the next hops, atomically with respect to other releases
    try {
      checkTbl8(diff);
    } catch (RouteTableFullException e) {
      releaseNew(diff, diff.count);
      throw e;
    }

    // The final control-plane view first: deletes hand their ranges to the final covering route.
    updateRules(diff);
    int[] order = order(diff);
    for (int i : order) {
      long key = diff.keys[i];
      if (diff.nhs[i] == 0) {
        delete(address(key), depth(key));
      } else {
        add(address(key), depth(key), diff.nhs[i]);
      }
    }
    retireUnlinked();
    long gen = generation + 1;
    generation = gen;

    for (int i = 0; i < diff.count; i++) {
      if (diff.oldNhs[i] != 0) {
        nextHops.release(diff.oldNhs[i]); // index reuse waits for its own grace period
      }
    }
    return gen;
  }

  /**
   * The order changes are applied in: first the deletes that unlink a group (so the batch can reuse
   * it), then everything else longest prefix first (see the class comment).
   */
  private int[] order(Diff diff) {
    int n = diff.count;
    int[] order = new int[n];
    if (n == 1) {
      return order;
    }
    int[] start = new int[34]; // bucket 0: unlinking deletes; bucket 33 - d: depth d
    int[] bucket = new int[n];
    for (int i = 0; i < n; i++) {
      long key = diff.keys[i];
      int d = depth(key);
      boolean unlinks = diff.nhs[i] == 0 && d > 24 && groupUsers.get(address(key) >>> 8) == 0;
      bucket[i] = unlinks ? 0 : 33 - d;
      start[bucket[i]]++;
    }
    for (int b = 0, sum = 0; b < start.length; b++) {
      int c = start[b];
      start[b] = sum;
      sum += c;
    }
    for (int i = 0; i < n; i++) {
      order[start[bucket[i]]++] = i;
    }
    return order;
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
   * Exact: a group per /24 holding a route longer than /24. The groups a batch unlinks are unlinked
   * before it links new ones, so the count never overshoots the larger of before and after.
   */
  private void checkTbl8(Diff diff) {
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

  /** Overwrites the entries of the range owned by shorter (or no) prefixes, as rte_lpm does. */
  private void add(int address, int depth, int nh) {
    int leaf = leaf(nh, depth);
    int dpMax = depth + 1;
    if (depth <= 24) {
      int start = address >>> 8;
      int end = start + (1 << (24 - depth));
      for (int i = start; i < end; i++) {
        long at = (long) i << 2;
        int e = tbl24.get(INT, at);
        if (e >= 0) {
          if (dp(e) <= dpMax && e != leaf) {
            tbl24.set(INT, at, leaf);
          }
        } else {
          replaceInGroup(tbl8, groupBase(e), 0, 256, dpMax, true, leaf);
        }
      }
    } else {
      long at = (long) (address >>> 8) << 2;
      int e = tbl24.get(INT, at);
      int from = address & 0xFF;
      int count = 1 << (32 - depth);
      if (e >= 0) {
        // A new group: complete (the /24's current answer, this route over it) before it is linked.
        int g = allocGroup();
        long base = (long) g * GROUP_BYTES;
        for (int j = 0; j < 256; j++) {
          tbl8.set(INT, base + (j << 2), j >= from && j < from + count ? leaf : e);
        }
        VarHandle.releaseFence(); // the group's contents before the pointer to it
        tbl24.set(INT, at, EXT | g);
        return;
      }
      replaceInGroup(tbl8, groupBase(e), from, count, dpMax, true, leaf);
    }
  }

  /** Gives the entries owned by the deleted prefix to its parent (or NO_ROUTE). */
  private void delete(int address, int depth) {
    int parent = parentLeaf(address, depth);
    int dp = depth + 1;
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
          replaceInGroup(tbl8, groupBase(e), 0, 256, dp, false, parent);
        }
      }
    } else {
      int slot = address >>> 8;
      long at = (long) slot << 2;
      int e = tbl24.get(INT, at);
      if (e >= 0) {
        return; // this /24's group was already unlinked by another delete of the same diff
      }
      if (groupUsers.get(slot) == 0) {
        // No route longer than /24 left here: back to a plain tbl24 entry (its final answer).
        tbl24.set(INT, at, parentLeaf(slot << 8, 25));
        unlinked.addInt(e & NH_MASK); // readers may still be in it: reused after a grace period
      } else {
        replaceInGroup(tbl8, groupBase(e), address & 0xFF, 1 << (32 - depth), dp, false, parent);
      }
    }
  }

  /** In a group's [from, from+count): replace leaves with dp <= dpRef (add) or == dpRef (del). */
  private static void replaceInGroup(
      MemorySegment tbl8, long base, int from, int count, int dpRef, boolean add, int leaf) {
    for (int j = from, end = from + count; j < end; j++) {
      long at = base + (j << 2);
      int e = tbl8.get(INT, at);
      if (e != leaf && (add ? dp(e) <= dpRef : dp(e) == dpRef)) {
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

  private int allocGroup() {
    if (freeTop == 0 && highWater == maxTbl8Groups) {
      // The pool is full of unlinked groups (checkTbl8 guarantees it): wait out their grace period.
      retireUnlinked();
      retireList.drain(domain);
    }
    if (freeTop > 0) {
      return freeGroups[--freeTop];
    }
    if (highWater < maxTbl8Groups) {
      return highWater++;
    }
    throw new IllegalStateException("tbl8 pool exhausted despite the batch's check"); // a bug
  }

  /** Hands the groups this batch unlinked to QSBR: free once every reader has moved on. */
  private void retireUnlinked() {
    if (!unlinked.isEmpty()) {
      int[] groups = unlinked.toIntArray();
      unlinked.clear();
      retireList.add(domain.advance(), () -> freeGroups(groups));
    }
  }

  private void freeGroups(int[] groups) {
    if (freeTop + groups.length > freeGroups.length) {
      freeGroups =
          Arrays.copyOf(freeGroups, Math.max(freeGroups.length * 2, freeTop + groups.length));
    }
    System.arraycopy(groups, 0, freeGroups, freeTop, groups.length);
    freeTop += groups.length;
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
