package io.flatnet.route;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import org.agrona.collections.IntArrayList;

/**
 * IPv6 longest-prefix-match table: a multibit trie with a 16-bit first stride and 8-bit strides
 * below (as DPDK's {@code rte_lpm6} / {@code rte_fib6} TRIE), off-heap. A lookup touches at most 15
 * entries (one per level), typically 3 to 7, against up to 128 for a binary trie.
 *
 * <h2>Layout</h2>
 *
 * The root has 2<sup>16</sup> int entries, each node below 256. An entry with bit 31 set points to
 * a child node; a leaf entry is {@code depth+1 : 8 (bits 23-30) | nextHop : 23}. Prefixes are
 * expanded within their node and pushed down into children (leaf pushing), so the first leaf met on
 * the way down is the answer. A node whose 256 entries are the same leaf is folded back into its
 * parent entry. The default route (::/0) is kept out of the trie, in the published snapshot, so
 * adding it costs nothing; a lookup that ends on an empty leaf returns it.
 *
 * <h2>Atomic batches: copy-on-write</h2>
 *
 * Nodes reachable from the published root are never written. A batch writes the spare root and
 * copies each node it modifies (once per batch, not once per route) into a free slot; the new
 * snapshot (root, node pool, default) is published with one volatile store. The replaced nodes and
 * root go back to the free lists after a QSBR grace period. The spare root is the one published
 * before the last batch, so a batch first replays onto it only the root entries the last batch
 * wrote (a whole 256 KiB copy only after a batch that wrote more than {@value #ROOT_DIRTY_LIMIT}
 * root entries, or failed). Cost per batch: those root entries plus 1 KiB per node on the changed
 * paths; a prefix much shorter than the ones below it (say a /8 over many /48s) rewrites the whole
 * subtree it is pushed into, each node read into a scratch array and written back with one bulk
 * copy each way.
 *
 * <h2>Memory</h2>
 *
 * Both roots and the node pool sit in one reservation of address space for {@code maxNodes} nodes,
 * on 2 MiB pages where the kernel allows ({@code madvise(MADV_HUGEPAGE)}, see {@link
 * ReservedMemory}). Pages are committed as nodes are first used, so the pool never grows by copying
 * and its address never changes; {@link #memoryBytes()} counts the two roots and the nodes up to
 * the high-water mark. The control-plane view (prefix to next hop) is an open-addressing map,
 * {@link Ipv6RuleMap}.
 *
 * <p>Running out of nodes mid-batch rolls the batch back (the writer's copies are simply dropped),
 * so a failed commit leaves the table unchanged.
 */
public final class Ipv6Fib implements Ipv6Lookup, AutoCloseable {

  /** The largest configurable node limit. */
  public static final int MAX_NODES = 1 << 24;

  static final int EXT = 0x8000_0000;
  static final int NH_MASK = 0x007F_FFFF;
  private static final int DP_SHIFT = 23;
  private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
  private static final long ROOT_BYTES = 4L << 16;
  private static final int NODE_BYTES = 256 * 4;
  private static final int INITIAL_NODES = 64;

  /** Root entries a batch may write before the next one copies the whole root instead. */
  private static final int ROOT_DIRTY_LIMIT = 4096;

  private static final int ROOT = -1;

  private static final byte FREE = 0;
  private static final byte FRESH = 1; // allocated by the batch in progress, not yet published
  private static final byte LIVE = 2;
  private static final byte RETIRED = 3; // unlinked, waiting for its grace period

  /**
   * What readers see. Every field final: published by the one volatile store of {@code current}.
   */
  private record Snapshot(MemorySegment root, MemorySegment pool, int defaultNh) {}

  private record Change(Ipv6Prefix prefix, int nh, int oldNh) {}

  private final QsbrDomain domain;
  private final NextHopTable nextHops;
  private final int maxNodes;

  private volatile Snapshot current;
  private volatile long generation;

  // Writer state.
  private final Arena arena = Arena.ofShared();
  private MemorySegment spareRoot;
  private long spareGraceEpoch;
  private final MemorySegment pool;
  private byte[] state;
  private int[] freeStack;
  private int freeTop;
  private int highWater;
  private final IntArrayList fresh = new IntArrayList();
  private final IntArrayList copied = new IntArrayList(); // live nodes replaced by this batch
  // Root entries written by this batch and by the previous one: the spare root is the one before
  // the previous batch, so replaying the previous batch's entries brings it up to date.
  private IntArrayList rootDirty = new IntArrayList();
  private IntArrayList lastRootDirty = new IntArrayList();
  private boolean rootAll;
  private boolean lastRootAll;
  private final RetireList retireList = new RetireList();
  private final int[] pathNode = new int[16];
  private final int[][] scratch = new int[17][256]; // one node per recursion depth, + 1 spare
  private final int[] pathIndex = new int[16];

  private final Ipv6RuleMap rules = new Ipv6RuleMap();
  private final int[] depthCount = new int[129];
  private int defaultNh;
  private long sink; // keeps parentLeaf's probes alive
  private boolean closed;

  /**
   * @param domain the QSBR domain of the workers that call {@link #lookup}
   * @param nextHops the table the routes' next-hop indexes refer to
   * @param maxNodes node limit (1 KiB each), at most {@link #MAX_NODES}
   */
  public Ipv6Fib(QsbrDomain domain, NextHopTable nextHops, int maxNodes) {
    if (maxNodes < 0 || maxNodes > MAX_NODES) {
      throw new IllegalArgumentException(
          "maxNodes " + maxNodes + " out of range [0, " + MAX_NODES + "]");
    }
    this.domain = domain;
    this.nextHops = nextHops;
    this.maxNodes = maxNodes;
    // One reservation: both roots, then the node pool; pages are committed as nodes are first used.
    MemorySegment mem =
        ReservedMemory.reserve(arena, 2 * ROOT_BYTES + (long) maxNodes * NODE_BYTES);
    MemorySegment rootA = mem.asSlice(0, ROOT_BYTES);
    spareRoot = mem.asSlice(ROOT_BYTES, ROOT_BYTES);
    pool = mem.asSlice(2 * ROOT_BYTES);
    int initial = Math.min(maxNodes, INITIAL_NODES);
    state = new byte[initial];
    freeStack = new int[initial];
    current = new Snapshot(rootA, pool, 0);
  }

  // ---------------------------------------------------------------- read side

  @Override
  public int lookup(long hi, long lo) {
    Snapshot s = current;
    int e = s.root.get(INT, (hi >>> 48) << 2);
    if (e < 0) {
      MemorySegment nodes = s.pool;
      int j = 2; // next address byte
      do {
        long word = j < 8 ? hi : lo;
        long b = (word >>> ((7 - (j & 7)) << 3)) & 0xFF;
        e = nodes.get(INT, ((long) (e & ~EXT) << 10) | (b << 2));
        j++;
      } while (e < 0);
    }
    int nh = e & NH_MASK;
    return nh != 0 ? nh : s.defaultNh;
  }

  /** Level by level over the whole burst, so the independent loads of a level overlap. */
  @Override
  public void lookupBulk(long[] hi, long[] lo, int[] nextHops, int count) {
    Snapshot s = current;
    MemorySegment root = s.root;
    boolean deeper = false;
    for (int i = 0; i < count; i++) {
      int e = root.get(INT, (hi[i] >>> 48) << 2);
      nextHops[i] = e;
      deeper |= e < 0;
    }
    MemorySegment nodes = s.pool;
    for (int j = 2; deeper; j++) {
      deeper = false;
      int shift = (7 - (j & 7)) << 3;
      long[] words = j < 8 ? hi : lo;
      for (int i = 0; i < count; i++) {
        int e = nextHops[i];
        if (e < 0) {
          long b = (words[i] >>> shift) & 0xFF;
          e = nodes.get(INT, ((long) (e & ~EXT) << 10) | (b << 2));
          nextHops[i] = e;
          deeper |= e < 0;
        }
      }
    }
    int dflt = s.defaultNh;
    for (int i = 0; i < count; i++) {
      int nh = nextHops[i] & NH_MASK;
      nextHops[i] = nh != 0 ? nh : dflt;
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
  public long add(Ipv6Prefix prefix, int nextHop) {
    return batch().add(prefix, nextHop).commit();
  }

  /** Deletes one route if present (a one-route batch). */
  public long delete(Ipv6Prefix prefix) {
    return batch().delete(prefix).commit();
  }

  /** The next hop of exactly this prefix in the control-plane view, or NO_ROUTE. */
  public synchronized int get(Ipv6Prefix prefix) {
    return rules.get(prefix.hi(), prefix.lo(), prefix.length());
  }

  public synchronized int routeCount() {
    return rules.size();
  }

  public int maxNodes() {
    return maxNodes;
  }

  /** Nodes in use, including replaced ones still in their grace period. */
  public synchronized int nodesInUse() {
    return highWater - freeTop;
  }

  /**
   * Off-heap bytes this table has committed: two roots and the nodes up to the highest ever used
   * (the reservation beyond it is address space only, untouched).
   */
  public synchronized long memoryBytes() {
    return 2 * ROOT_BYTES + (long) highWater * NODE_BYTES;
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

  private synchronized long commit(LinkedHashMap<Ipv6Prefix, Integer> ops) {
    if (closed) {
      throw new IllegalStateException("Ipv6Fib is closed");
    }
    retireList.runReady(domain);
    List<Change> changes = netDiff(ops);
    if (changes.isEmpty()) {
      return generation;
    }
    // Takes the routes' references first: validates them atomically w.r.t. other releases.
    for (int i = 0; i < changes.size(); i++) {
      Change c = changes.get(i);
      if (c.nh != 0) {
        try {
          nextHops.retain(c.nh);
        } catch (IllegalArgumentException e) {
          releaseNew(changes, i);
          throw new IllegalArgumentException(
              "route " + c.prefix + ": next hop " + c.nh + " is not allocated", e);
        }
      }
    }

    // The spare root: wait until no reader can be in it, then start from the published one.
    domain.awaitGracePeriod(spareGraceEpoch);
    Snapshot cur = current;
    syncSpareRoot(cur.root);
    updateRules(changes, true);
    int newDefault = defaultNh;
    try {
      for (Change c : changes) {
        Ipv6Prefix p = c.prefix;
        if (p.length() == 0) {
          newDefault = c.nh;
        } else if (c.nh == 0) {
          change(p, parentLeaf(p), false);
        } else {
          change(p, leaf(c.nh, p.length()), true);
        }
      }
    } catch (RouteTableFullException e) {
      rollback(changes);
      releaseNew(changes, changes.size());
      throw e;
    }
    for (int i = 0; i < fresh.size(); i++) {
      int n = fresh.getInt(i);
      if (state[n] == FRESH) {
        state[n] = LIVE;
      }
    }
    fresh.clear();

    // Publish: one volatile store makes the whole batch visible.
    current = new Snapshot(spareRoot, pool, newDefault);
    defaultNh = newDefault;
    long gen = generation + 1;
    generation = gen;
    long epoch = domain.advance();
    spareRoot = cur.root;
    spareGraceEpoch = epoch;
    IntArrayList dirty = lastRootDirty;
    lastRootDirty = rootDirty;
    lastRootAll = rootAll;
    rootDirty = dirty;
    rootDirty.clear();
    rootAll = false;
    if (!copied.isEmpty()) {
      int[] ids = copied.toIntArray();
      for (int n : ids) {
        state[n] = RETIRED;
      }
      copied.clear();
      retireList.add(epoch, () -> freeNodes(ids));
    }
    for (Change c : changes) {
      if (c.oldNh != 0) {
        nextHops.release(c.oldNh);
      }
    }
    return gen;
  }

  /**
   * Brings the spare root (the published one before the last batch) up to {@code published}: only
   * the entries the last batch wrote differ.
   */
  private void syncSpareRoot(MemorySegment published) {
    if (lastRootAll) {
      MemorySegment.copy(published, 0, spareRoot, 0, ROOT_BYTES);
    } else {
      for (int i = 0, n = lastRootDirty.size(); i < n; i++) {
        long off = (long) lastRootDirty.getInt(i) << 2;
        spareRoot.set(INT, off, published.get(INT, off));
      }
    }
    lastRootDirty.clear();
    lastRootAll = false;
  }

  private void releaseNew(List<Change> changes, int upTo) {
    for (int i = 0; i < upTo; i++) {
      if (changes.get(i).nh != 0) {
        nextHops.release(changes.get(i).nh);
      }
    }
  }

  private List<Change> netDiff(LinkedHashMap<Ipv6Prefix, Integer> ops) {
    List<Change> deletes = new ArrayList<>();
    List<Change> adds = new ArrayList<>();
    ops.forEach(
        (prefix, nh) -> {
          int old = rules.get(prefix.hi(), prefix.lo(), prefix.length());
          if (nh != old) {
            (nh == 0 ? deletes : adds).add(new Change(prefix, nh, old));
          }
        });
    deletes.addAll(adds); // deletes first: frees nodes before adds need them
    return deletes;
  }

  private void updateRules(List<Change> changes, boolean forward) {
    for (Change c : changes) {
      int to = forward ? c.nh : c.oldNh;
      int from = forward ? c.oldNh : c.nh;
      int depth = c.prefix.length();
      if (to == 0) {
        rules.remove(c.prefix.hi(), c.prefix.lo(), depth);
        depthCount[depth]--;
      } else {
        rules.put(c.prefix.hi(), c.prefix.lo(), depth, to);
        if (from == 0) {
          depthCount[depth]++;
        }
      }
    }
  }

  /** Drops everything the failed batch built; the published snapshot was never touched. */
  private void rollback(List<Change> changes) {
    for (int i = 0; i < fresh.size(); i++) {
      int n = fresh.getInt(i);
      if (state[n] == FRESH) {
        freeNode(n);
      }
    }
    fresh.clear();
    copied.clear(); // still live: the published snapshot uses them
    // The spare root has this batch's writes: the next batch copies it whole from the published
    // one.
    rootDirty.clear();
    rootAll = false;
    lastRootAll = true;
    updateRules(changes, false);
  }

  /**
   * Applies one prefix change to the writer's copy: walks (copying) to the prefix's level, updates
   * its range there and below, then folds nodes that became uniform.
   */
  private void change(Ipv6Prefix p, int leaf, boolean add) {
    long hi = p.hi();
    long lo = p.lo();
    int depth = p.length();
    int level = level(depth);
    int node = ROOT;
    for (int l = 0; l < level; l++) {
      int idx = indexAt(hi, lo, l);
      int e = get(node, idx);
      // Always descend, even through a leaf (expanded here, folded back below if unchanged): a
      // folded leaf can stand for several same-depth prefixes, so it may hide this one's entries.
      int child = e < 0 ? writable(e & ~EXT) : filledNode(e);
      set(node, idx, EXT | child);
      pathNode[l] = node;
      pathIndex[l] = idx;
      node = child;
    }
    int first = indexAt(hi, lo, level);
    int end = first + (1 << (16 + 8 * level - depth));
    int dpRef = depth + 1;
    for (int j = first; j < end; j++) {
      int e = get(node, j);
      int n = update(e, dpRef, add, leaf);
      if (n != e) {
        set(node, j, n);
      }
    }
    for (int l = level - 1; l >= 0 && isUniform(node); l--) {
      int v = get(node, 0);
      freeNode(node); // fresh: nobody else can see it
      set(pathNode[l], pathIndex[l], v);
      node = pathNode[l];
    }
  }

  /**
   * The new value of one entry under the changed prefix: leaves owned by a shorter prefix (add) or
   * by the deleted one (delete) get {@code leaf}; child nodes are updated recursively, copied on
   * their first write and folded if they end up uniform.
   */
  private int update(int e, int dpRef, boolean add, int leaf) {
    return update(e, dpRef, add, leaf, 0);
  }

  /**
   * {@link #update(int, int, boolean, int)} at recursion depth {@code d}: a child node is read into
   * {@code scratch[d]} with one bulk copy, changed there, and written back with one bulk copy into
   * a writable node only if it changed and is not uniform (then it folds into its parent).
   */
  private int update(int e, int dpRef, boolean add, int leaf, int d) {
    if (e >= 0) {
      int dp = e >>> DP_SHIFT;
      return (add ? dp <= dpRef : dp == dpRef) ? leaf : e;
    }
    int child = e & ~EXT;
    int[] a = scratch[d];
    long base = (long) child << 10;
    MemorySegment.copy(pool, INT, base, a, 0, 256);
    boolean changed = false;
    for (int k = 0; k < 256; k++) {
      int e2 = a[k];
      int n2;
      if (e2 >= 0) {
        int dp = e2 >>> DP_SHIFT;
        n2 = (add ? dp <= dpRef : dp == dpRef) ? leaf : e2;
      } else {
        n2 = update(e2, dpRef, add, leaf, d + 1);
      }
      if (n2 != e2) {
        a[k] = n2;
        changed = true;
      }
    }
    if (!changed) {
      return e;
    }
    int v = a[0];
    boolean uniform = v >= 0;
    for (int k = 1; uniform && k < 256; k++) {
      uniform = a[k] == v;
    }
    if (uniform) {
      if (state[child] == FRESH) {
        freeNode(child);
      } else {
        copied.add(child); // unlinked by this batch: retired at publish
      }
      return v;
    }
    int w = writableNoCopy(child);
    MemorySegment.copy(a, 0, pool, INT, (long) w << 10, 256);
    return EXT | w;
  }

  /** The leaf of the longest route in {@link #rules} shorter than {@code p} covering it. */
  private int parentLeaf(Ipv6Prefix p) {
    // The candidates' probes are independent: issue them all first so their misses overlap.
    long touched = 0;
    for (int d = p.length() - 1; d >= 1; d--) {
      if (depthCount[d] != 0) {
        touched += rules.touch(p.hi() & Ipv6Prefix.maskHi(d), p.lo() & Ipv6Prefix.maskLo(d), d);
      }
    }
    sink = touched;
    for (int d = p.length() - 1; d >= 1; d--) {
      if (depthCount[d] != 0) {
        int nh = rules.get(p.hi() & Ipv6Prefix.maskHi(d), p.lo() & Ipv6Prefix.maskLo(d), d);
        if (nh != 0) {
          return leaf(nh, d);
        }
      }
    }
    return 0; // the default route is not in the trie
  }

  private boolean isUniform(int node) {
    int v = get(node, 0);
    if (v < 0) {
      return false;
    }
    int[] a = scratch[scratch.length - 1];
    MemorySegment.copy(pool, INT, (long) node * NODE_BYTES, a, 0, 256);
    for (int k = 1; k < 256; k++) {
      if (a[k] != v) {
        return false;
      }
    }
    return true;
  }

  /** The node itself if this batch allocated it, else a fresh node the caller fills. */
  private int writableNoCopy(int node) {
    if (state[node] == FRESH) {
      return node;
    }
    int n = allocNode();
    copied.add(node);
    return n;
  }

  /** The node itself if this batch allocated it, else a fresh copy (the original is retired). */
  private int writable(int node) {
    if (state[node] == FRESH) {
      return node;
    }
    int copy = allocNode();
    MemorySegment.copy(pool, (long) node * NODE_BYTES, pool, (long) copy * NODE_BYTES, NODE_BYTES);
    copied.add(node);
    return copy;
  }

  private int filledNode(int leaf) {
    int n = allocNode();
    int[] a = scratch[scratch.length - 1];
    Arrays.fill(a, leaf);
    MemorySegment.copy(a, 0, pool, INT, (long) n * NODE_BYTES, 256);
    return n;
  }

  private int allocNode() {
    if (freeTop == 0 && highWater == maxNodes) {
      if (!retireList.isEmpty()) {
        retireList.drain(domain); // full only because of nodes in their grace period
      }
      if (freeTop == 0 && highWater == maxNodes) {
        throw new RouteTableFullException("IPv6 trie nodes", maxNodes, "table unchanged");
      }
    }
    if (freeTop == 0 && highWater == state.length) {
      int cap = (int) Math.min(maxNodes, Math.max(INITIAL_NODES, 2L * state.length));
      state = Arrays.copyOf(state, cap);
      freeStack = Arrays.copyOf(freeStack, cap);
    }
    int n = freeTop > 0 ? freeStack[--freeTop] : highWater++;
    state[n] = FRESH;
    fresh.add(n);
    return n;
  }

  private void freeNode(int n) {
    state[n] = FREE;
    freeStack[freeTop++] = n;
  }

  private void freeNodes(int[] ids) {
    for (int n : ids) {
      freeNode(n);
    }
  }

  private int get(int node, int idx) {
    return node == ROOT
        ? spareRoot.get(INT, (long) idx << 2)
        : pool.get(INT, ((long) node << 10) | ((long) idx << 2));
  }

  private void set(int node, int idx, int value) {
    if (node == ROOT) {
      spareRoot.set(INT, (long) idx << 2, value);
      if (!rootAll) {
        if (rootDirty.size() < ROOT_DIRTY_LIMIT) {
          rootDirty.addInt(idx);
        } else {
          rootAll = true;
        }
      }
    } else {
      pool.set(INT, ((long) node << 10) | ((long) idx << 2), value);
    }
  }

  /** The trie level where a prefix of this length ends: 0 for /1-/16, then one per 8 bits. */
  private static int level(int depth) {
    return depth <= 16 ? 0 : (depth - 9) >>> 3;
  }

  /** The entry index of an address at a level: 16 bits at level 0, then one byte each. */
  private static int indexAt(long hi, long lo, int level) {
    if (level == 0) {
      return (int) (hi >>> 48);
    }
    int j = level + 1;
    long word = j < 8 ? hi : lo;
    return (int) (word >>> ((7 - (j & 7)) << 3)) & 0xFF;
  }

  private static int leaf(int nh, int depth) {
    return ((depth + 1) << DP_SHIFT) | nh;
  }

  private static void checkNextHop(int nextHop) {
    if (nextHop <= 0 || nextHop > NextHopTable.MAX_CAPACITY) {
      throw new IllegalArgumentException(
          "next hop " + nextHop + " out of range [1, " + NextHopTable.MAX_CAPACITY + "]");
    }
  }

  /** A batch of IPv6 route changes; see {@link RouteBatch}. Not thread-safe. */
  public final class Batch implements RouteBatch<Ipv6Prefix> {

    private final LinkedHashMap<Ipv6Prefix, Integer> ops = new LinkedHashMap<>(); // 0 = delete

    private Batch() {}

    @Override
    public Batch add(Ipv6Prefix prefix, int nextHop) {
      checkNextHop(nextHop);
      ops.put(prefix, nextHop);
      return this;
    }

    /** Adds or replaces {@code hi:lo/length}; same checks as {@link Ipv6Prefix}. */
    public Batch add(long hi, long lo, int length, int nextHop) {
      return add(new Ipv6Prefix(hi, lo, length), nextHop);
    }

    @Override
    public Batch delete(Ipv6Prefix prefix) {
      ops.put(prefix, 0);
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
      long gen = Ipv6Fib.this.commit(ops);
      ops.clear();
      return gen;
    }
  }
}
