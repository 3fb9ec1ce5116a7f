package io.flatnet.route;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Objects;

/**
 * The next-hop table: what a route points at.
 *
 * <h2>Layout and atomicity: one adjacency per next hop</h2>
 *
 * Everything a worker needs to send a packet to a next hop sits in one {@value
 * #ADJACENCY_BYTES}-byte record (VPP's {@code ip_adjacency_t}), off the heap, in an array on 2 MiB
 * pages where the kernel allows ({@link ReservedMemory}, as the FIBs), so aligned to 2 MiB: record
 * {@code i} is at {@code i * 32} and never straddles a cache line, so the forward decision reads
 * one line.
 *
 * <pre>
 *   +0  entry   kind:4 | port:12 | dstMac:48   (the state word)
 *   +8  egress  mtu:16 | srcMac:48             (the out port's MTU, a derived copy; its MAC)
 *   +16 reserved (16 bytes)
 * </pre>
 *
 * The entry word is the mutable state: resolving a neighbour (RESOLVE to FORWARD with its MAC), a
 * MAC change and un-resolving are each a single release store of it, so a reader can never see a
 * kind from one version and a MAC from another: {@link #entry(int)} returns the word, decoded with
 * {@link #kindOf}, {@link #portOf}, {@link #dstMacOf}. The individual accessors ({@link #kind},
 * {@link #dstMac}, ...) each read the word once; the MAC bits are never cleared, so even a
 * kind-then-MAC sequence of calls only sees "old kind + old MAC" or "new kind + new MAC" or
 * "FORWARD + a MAC that was valid".
 *
 * <p>The egress word is read once too ({@link #egress}, decoded with {@link #mtuOf} and {@link
 * #srcMacOf}). Its source MAC and the entry's port are fixed for the life of an index (a port MAC
 * change means a new next hop), as is the neighbour address: they are written before the index is
 * handed out and published to readers by the FIB's volatile publish. The MTU is the one field that
 * changes on its own: it is a copy of the out port's MTU (the port stays the source: {@link
 * #setPortMtu} rewrites the copy in every adjacency on the port, one release store each). A reader
 * pairs any version of the entry with any version of the egress word and gets a consistent
 * decision, because the two share no field that changes together: port and source MAC never change,
 * and an MTU read just before a change is what a worker still on the old port table would use. No
 * seqlock or version word is needed.
 *
 * <h2>Lifetime</h2>
 *
 * Each {@code add*} call returns an index holding one reference for the caller; adding an entry
 * equal to a live one returns that one (and takes a reference). FIBs take one reference per route.
 * When the count drops to zero the index is retired and reused only after a QSBR grace period, so a
 * worker that looked up a stale route still reads a valid entry. Index 0 is {@link #NO_ROUTE}.
 *
 * <h2>ECMP groups</h2>
 *
 * A {@link #KIND_GROUP} entry's word holds a group id; the group's bucket array (bucket → member
 * next hop, see {@link GroupBuckets}) is an immutable {@code int[]} published with one release
 * store, so a worker sees one version of it. A group holds one reference on each member; {@link
 * #updateGroup} republishes the buckets in place (the FIB keeps pointing at the group) and gives
 * back the references of the members it dropped, which are retired after a grace period as usual,
 * so a worker still on the old array reads valid members. The old array is left to the GC: workers
 * only read it. The group id is freed with its entry, after the entry's own grace period.
 *
 * <p>Writer methods are synchronized (one control plane, uncontended); readers take no lock.
 */
public final class NextHopTable implements NextHops {

  /** Largest capacity: next-hop indexes must fit the FIB entries' 23-bit field. */
  public static final int MAX_CAPACITY = (1 << 23) - 1;

  /** Largest port number (12 bits of the entry word). */
  public static final int MAX_PORT = 0xFFF;

  /** The bytes of one adjacency record: half a cache line. */
  public static final int ADJACENCY_BYTES = 32;

  /** A port's MTU until {@link #setPortMtu} says otherwise (the dataplane's default MTU). */
  public static final int DEFAULT_MTU = 1500;

  private static final long ENTRY = 0; // offsets in a record
  private static final long EGRESS = 8;
  private static final int SHIFT = 5; // log2(ADJACENCY_BYTES)

  private static final long MAC_MASK = 0xFFFF_FFFF_FFFFL;
  private static final VarHandle WORDS = ValueLayout.JAVA_LONG.varHandle();
  private static final VarHandle BUCKETS = MethodHandles.arrayElementVarHandle(int[][].class);

  // Identity kinds for de-duplication.
  private static final int ID_FORWARD = 1;
  private static final int ID_NEIGHBOUR4 = 2;
  private static final int ID_NEIGHBOUR6 = 3;
  private static final int ID_LOCAL = 4;
  private static final int ID_DROP = 5;
  private static final int ID_GROUP = 6;

  private record Key(int id, int port, long a, long b, long srcMac) {}

  private final int capacity;
  private final QsbrDomain domain;

  /**
   * The adjacency records, {@link #ADJACENCY_BYTES} each, 64-byte aligned; read with opaque loads,
   * written with release stores.
   */
  private final MemorySegment adjacencies;

  /**
   * Where {@link #adjacencies} starts, for the workers' reads through {@link #ALL}: a constant
   * global segment costs no class or arena-liveness check per read, the table's own segment does.
   */
  private final long adjacencyBase;

  @SuppressWarnings("restricted") // reads at addresses inside adjacencies, index-checked
  private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

  private final int[] portMtus = new int[MAX_PORT + 1]; // writer-only: the ports' MTUs
  private final long[] neighbourHi; // IPv4 neighbours live in the low 32 bits of neighbourLo
  private final long[] neighbourLo;
  private final byte[] neighbourFamily; // 0 none, 4, 6

  // Writer-only state.
  private final int[] refCounts;
  private final Key[] keys;
  private final HashMap<Key, Integer> byKey = new HashMap<>();
  private final int[] free;
  private int freeTop;
  private int highWater; // indexes 1..highWater have been handed out at least once
  private int live;
  private int retired;
  private final RetireList retireList = new RetireList();

  // ECMP groups, by group id 1..groupCapacity: buckets published (release), the rest writer-only.
  private final int[][] groupBuckets;
  private final int[][] groupMembers;
  private final int[][] groupWeights;
  private final int[][] groupActive; // the members the buckets send to: those not down
  private final int[][] groupActiveWeights;
  private final boolean[] down; // by next hop: its neighbour failed (NUD); groups skip it
  private final int[] freeGroups;
  private int freeGroupTop;
  private int groupHighWater;
  private volatile int groups;

  /**
   * @param capacity usable next hops (indexes 1..capacity), at most {@link #MAX_CAPACITY}
   * @param domain the QSBR domain of the workers reading this table
   */
  public NextHopTable(int capacity, QsbrDomain domain) {
    this(capacity, Math.min(capacity, 1024), domain);
  }

  /**
   * @param capacity usable next hops (indexes 1..capacity), at most {@link #MAX_CAPACITY}
   * @param groupCapacity ECMP groups (each is also a next hop), at most {@code capacity}
   * @param domain the QSBR domain of the workers reading this table
   */
  public NextHopTable(int capacity, int groupCapacity, QsbrDomain domain) {
    if (groupCapacity < 0 || groupCapacity > capacity) {
      throw new IllegalArgumentException(
          "group capacity " + groupCapacity + " out of range [0, " + capacity + "]");
    }
    if (capacity < 1 || capacity > MAX_CAPACITY) {
      throw new IllegalArgumentException(
          "next-hop capacity " + capacity + " out of range [1, " + MAX_CAPACITY + "]");
    }
    this.capacity = capacity;
    this.domain = domain;
    int n = capacity + 1;
    // 2 MiB-aligned, on 2 MiB pages where the kernel allows (as the FIBs'); unmapped with the
    // table.
    adjacencies = ReservedMemory.reserve(Arena.ofAuto(), (long) n << SHIFT);
    adjacencyBase = adjacencies.address();
    Arrays.fill(portMtus, DEFAULT_MTU);
    neighbourHi = new long[n];
    neighbourLo = new long[n];
    neighbourFamily = new byte[n];
    refCounts = new int[n];
    keys = new Key[n];
    free = new int[n];
    groupBuckets = new int[groupCapacity + 1][];
    groupMembers = new int[groupCapacity + 1][];
    groupWeights = new int[groupCapacity + 1][];
    groupActive = new int[groupCapacity + 1][];
    groupActiveWeights = new int[groupCapacity + 1][];
    down = new boolean[n];
    freeGroups = new int[groupCapacity + 1];
  }

  // ---------------------------------------------------------------- read side (lock-free)

  @Override
  public long entry(int nextHop) {
    return (long) WORDS.getOpaque(ALL, adjacencyBase + record(nextHop) + ENTRY);
  }

  @Override
  public long egress(int nextHop) {
    return (long) WORDS.getOpaque(ALL, adjacencyBase + record(nextHop) + EGRESS);
  }

  /** The offset of a next hop's record, index-checked (indexes 0..capacity). */
  private long record(int nextHop) {
    return (long) Objects.checkIndex(nextHop, capacity + 1) << SHIFT;
  }

  /** The MTU of an egress word ({@link #egress}). */
  public static int mtuOf(long egress) {
    return (int) (egress >>> 48);
  }

  /** The source MAC of an egress word ({@link #egress}). */
  public static long srcMacOf(long egress) {
    return egress & MAC_MASK;
  }

  public static int kindOf(long entry) {
    return (int) (entry >>> 60);
  }

  public static int portOf(long entry) {
    return (int) (entry >>> 48) & MAX_PORT;
  }

  public static long dstMacOf(long entry) {
    return entry & MAC_MASK;
  }

  @Override
  public int kind(int nextHop) {
    return kindOf(entry(nextHop));
  }

  @Override
  public int port(int nextHop) {
    return portOf(entry(nextHop));
  }

  @Override
  public long dstMac(int nextHop) {
    return dstMacOf(entry(nextHop));
  }

  @Override
  public boolean hasGroups() {
    VarHandle.acquireFence(); // the caller's FIB loads before this one (free on x86)
    return groups != 0;
  }

  @Override
  public int groupMember(long entry, int hash) {
    int[] buckets = (int[]) BUCKETS.getAcquire(groupBuckets, (int) (entry & MAC_MASK));
    return buckets[hash & (buckets.length - 1)];
  }

  @Override
  public int groupBucket(long entry, int hash) {
    int[] buckets = (int[]) BUCKETS.getAcquire(groupBuckets, (int) (entry & MAC_MASK));
    return hash & (buckets.length - 1);
  }

  @Override
  public long srcMac(int nextHop) {
    return srcMacOf(egress(nextHop));
  }

  @Override
  public int mtu(int nextHop) {
    return mtuOf(egress(nextHop));
  }

  /** The IPv4 neighbour of a RESOLVE-capable entry (host order); 0 if it has none. */
  public int neighbourIpv4(int nextHop) {
    return neighbourFamily[nextHop] == 4 ? (int) neighbourLo[nextHop] : 0;
  }

  /** High half of the IPv6 neighbour of a RESOLVE-capable entry; 0 if it has none. */
  public long neighbourIpv6Hi(int nextHop) {
    return neighbourFamily[nextHop] == 6 ? neighbourHi[nextHop] : 0;
  }

  /** Low half of the IPv6 neighbour of a RESOLVE-capable entry; 0 if it has none. */
  public long neighbourIpv6Lo(int nextHop) {
    return neighbourFamily[nextHop] == 6 ? neighbourLo[nextHop] : 0;
  }

  /** 4 or 6 for an entry with a neighbour to resolve, 0 otherwise. */
  public int neighbourFamily(int nextHop) {
    return neighbourFamily[nextHop];
  }

  // ---------------------------------------------------------------- writer side

  public QsbrDomain domain() {
    return domain;
  }

  public int capacity() {
    return capacity;
  }

  /** Live entries (reference count above zero). */
  public synchronized int size() {
    return live;
  }

  /** Entries with no references left, waiting for their grace period before reuse. */
  public synchronized int retiredCount() {
    return retired;
  }

  public synchronized boolean isLive(int nextHop) {
    return nextHop > 0 && nextHop <= capacity && refCounts[nextHop] > 0;
  }

  public synchronized int refCount(int nextHop) {
    checkIndex(nextHop);
    return refCounts[nextHop];
  }

  /** A next hop with a known MAC: send out {@code port} with these MACs. */
  public synchronized int addForward(int port, long dstMac, long srcMac) {
    checkPort(port);
    checkMac(dstMac, "dstMac");
    checkMac(srcMac, "srcMac");
    return addOrReuse(
        new Key(ID_FORWARD, port, dstMac, 0, srcMac),
        word(KIND_FORWARD, port, dstMac),
        srcMac,
        0,
        0,
        0);
  }

  /**
   * A neighbour to resolve by ARP: starts as {@link #KIND_RESOLVE}; {@link #resolve} makes it
   * {@link #KIND_FORWARD}.
   */
  public synchronized int addNeighbourIpv4(int port, int neighbour, long srcMac) {
    checkPort(port);
    checkMac(srcMac, "srcMac");
    return addOrReuse(
        new Key(ID_NEIGHBOUR4, port, neighbour & 0xFFFF_FFFFL, 0, srcMac),
        word(KIND_RESOLVE, port, 0),
        srcMac,
        4,
        0,
        neighbour & 0xFFFF_FFFFL);
  }

  /** A neighbour to resolve by NDP; see {@link #addNeighbourIpv4}. */
  public synchronized int addNeighbourIpv6(
      int port, long neighbourHi, long neighbourLo, long srcMac) {
    checkPort(port);
    checkMac(srcMac, "srcMac");
    return addOrReuse(
        new Key(ID_NEIGHBOUR6, port, neighbourHi, neighbourLo, srcMac),
        word(KIND_RESOLVE, port, 0),
        srcMac,
        6,
        neighbourHi,
        neighbourLo);
  }

  /** Deliver locally, to the host path behind {@code port}. */
  public synchronized int addLocal(int port) {
    checkPort(port);
    return addOrReuse(new Key(ID_LOCAL, port, 0, 0, 0), word(KIND_LOCAL, port, 0), 0, 0, 0, 0);
  }

  /** An explicit drop (blackhole/unreachable). */
  public synchronized int addDrop() {
    return addOrReuse(new Key(ID_DROP, 0, 0, 0, 0), word(KIND_DROP, 0, 0), 0, 0, 0, 0);
  }

  /**
   * An ECMP group over {@code members} (live FORWARD or RESOLVE next hops, 2..{@value
   * GroupBuckets#MAX_MEMBERS} of them, distinct) with {@code weights} (1..{@value
   * GroupBuckets#MAX_WEIGHT}). The group takes over the caller's reference on each member (given
   * back when the group goes); the returned index holds one reference for the caller, as for the
   * other kinds. Groups are never shared between routes.
   */
  public synchronized int addGroup(int[] members, int[] weights) {
    checkGroup(members, weights);
    if (freeGroupTop == 0 && groupHighWater == groupMembers.length - 1) {
      retireList.runReady(domain);
      if (freeGroupTop == 0 && !retireList.isEmpty()) {
        retireList.drain(domain);
      }
      if (freeGroupTop == 0) {
        throw new RouteTableFullException("ECMP group table", groupMembers.length - 1, "");
      }
    }
    int group = freeGroupTop > 0 ? freeGroups[--freeGroupTop] : ++groupHighWater;
    groupMembers[group] = members.clone();
    groupWeights[group] = weights.clone();
    int[][] active = active(members, weights);
    groupActive[group] = active[0];
    groupActiveWeights[group] = active[1];
    BUCKETS.setRelease(groupBuckets, group, GroupBuckets.initial(active[0], active[1]));
    int nh;
    try {
      nh = addOrReuse(new Key(ID_GROUP, 0, group, 0, 0), word(KIND_GROUP, 0, group), 0, 0, 0, 0);
    } catch (RuntimeException e) {
      freeGroup(group);
      throw e;
    }
    groups = groups + 1; // volatile: before any route to it is published
    return nh;
  }

  /**
   * Changes group {@code nextHop}'s members and weights in place, with the least movement of flows
   * ({@link GroupBuckets#update}): the new bucket array is published with one release store, the
   * FIB is not touched. Takes over the caller's reference on each of {@code members} and gives back
   * the group's references on its previous members.
   *
   * @return how many buckets now send to a different member
   */
  public synchronized int updateGroup(int nextHop, int[] members, int[] weights) {
    checkLive(nextHop);
    if (kindOf(word(nextHop)) != KIND_GROUP) {
      throw new IllegalArgumentException("next hop " + nextHop + " is not an ECMP group");
    }
    checkGroup(members, weights);
    int group = (int) (word(nextHop) & MAC_MASK);
    int[] old = groupBuckets[group];
    int[] previous = groupMembers[group];
    groupMembers[group] = members.clone();
    groupWeights[group] = weights.clone();
    int[] buckets = republish(group);
    for (int member : previous) {
      release(member); // retired only after a grace period: a worker on the old array is safe
    }
    int moved = 0;
    for (int i = 0; i < buckets.length; i++) {
      if (buckets[i] != old[i & (old.length - 1)]) {
        moved++;
      }
    }
    return moved;
  }

  /**
   * Marks a neighbour next hop down (its neighbour failed unreachability detection) or up again.
   * Every group with it as a member republishes its buckets without it (only its buckets move, to
   * the other members, as for a removed path) or with it again (it takes back about its share); a
   * group whose members are all down sends to all of them (packets wait for the neighbours, which
   * keeps them probed). The reference counts and the configured members do not change.
   */
  public synchronized void setDown(int nextHop, boolean isDown) {
    if (nextHop <= 0 || nextHop > capacity || refCounts[nextHop] == 0 || down[nextHop] == isDown) {
      return;
    }
    down[nextHop] = isDown;
    for (int group = 1; group <= groupHighWater; group++) {
      if (groupMembers[group] != null && GroupBuckets.indexOf(groupMembers[group], nextHop) >= 0) {
        republish(group);
      }
    }
  }

  /** Whether {@link #setDown} marked the next hop down. */
  public synchronized boolean isDown(int nextHop) {
    return nextHop > 0 && nextHop <= capacity && down[nextHop];
  }

  /** Whether {@code nextHop} is a member of a live group. */
  public synchronized boolean isGroupMember(int nextHop) {
    for (int group = 1; group <= groupHighWater; group++) {
      if (groupMembers[group] != null && GroupBuckets.indexOf(groupMembers[group], nextHop) >= 0) {
        return true;
      }
    }
    return false;
  }

  /** The group's buckets over its members that are up, from its current ones; published. */
  private int[] republish(int group) {
    int[][] active = active(groupMembers[group], groupWeights[group]);
    int[] buckets =
        GroupBuckets.update(
            groupBuckets[group],
            groupActive[group],
            groupActiveWeights[group],
            active[0],
            active[1]);
    groupActive[group] = active[0];
    groupActiveWeights[group] = active[1];
    BUCKETS.setRelease(groupBuckets, group, buckets);
    return buckets;
  }

  /** The members that are not down and their weights; all of them if every one is down. */
  private int[][] active(int[] members, int[] weights) {
    int up = 0;
    for (int member : members) {
      up += down[member] ? 0 : 1;
    }
    if (up == 0 || up == members.length) {
      return new int[][] {members.clone(), weights.clone()};
    }
    int[] m = new int[up];
    int[] w = new int[up];
    for (int i = 0, j = 0; i < members.length; i++) {
      if (!down[members[i]]) {
        m[j] = members[i];
        w[j++] = weights[i];
      }
    }
    return new int[][] {m, w};
  }

  /** The members of group {@code nextHop}, or null if it is not a group. */
  public synchronized int[] groupMembers(int nextHop) {
    return isGroup(nextHop) ? groupMembers[groupId(nextHop)].clone() : null;
  }

  /** The weights of group {@code nextHop}'s members, or null if it is not a group. */
  public synchronized int[] groupWeights(int nextHop) {
    return isGroup(nextHop) ? groupWeights[groupId(nextHop)].clone() : null;
  }

  /** The published buckets of group {@code nextHop} (a copy), or null if it is not a group. */
  public synchronized int[] groupBuckets(int nextHop) {
    return isGroup(nextHop) ? groupBuckets[groupId(nextHop)].clone() : null;
  }

  /** ECMP groups in use or waiting for their grace period. */
  public int groupCount() {
    return groups;
  }

  private boolean isGroup(int nextHop) {
    return nextHop > 0
        && nextHop <= capacity
        && refCounts[nextHop] > 0
        && kindOf(word(nextHop)) == KIND_GROUP;
  }

  private int groupId(int nextHop) {
    return (int) (word(nextHop) & MAC_MASK);
  }

  private void checkGroup(int[] members, int[] weights) {
    if (groupMembers.length == 1) {
      throw new IllegalArgumentException("this next-hop table has no room for ECMP groups");
    }
    if (members.length < 2 || members.length > GroupBuckets.MAX_MEMBERS) {
      throw new IllegalArgumentException(
          "an ECMP group has 2.." + GroupBuckets.MAX_MEMBERS + " members, not " + members.length);
    }
    if (weights.length != members.length) {
      throw new IllegalArgumentException(
          members.length + " members but " + weights.length + " weights");
    }
    for (int m = 0; m < members.length; m++) {
      checkLive(members[m]);
      int kind = kindOf(word(members[m]));
      if (kind != KIND_FORWARD && kind != KIND_RESOLVE) {
        throw new IllegalArgumentException(
            "ECMP member " + members[m] + " is of kind " + kind + ", not a neighbour");
      }
      if (weights[m] < 1 || weights[m] > GroupBuckets.MAX_WEIGHT) {
        throw new IllegalArgumentException(
            "weight " + weights[m] + " outside 1.." + GroupBuckets.MAX_WEIGHT);
      }
      if (GroupBuckets.indexOf(members, members[m]) != m) {
        throw new IllegalArgumentException("ECMP member " + members[m] + " appears twice");
      }
    }
  }

  private void freeGroup(int group) {
    BUCKETS.setRelease(groupBuckets, group, null);
    groupMembers[group] = null;
    groupWeights[group] = null;
    groupActive[group] = null;
    groupActiveWeights[group] = null;
    freeGroups[freeGroupTop++] = group;
  }

  /**
   * The neighbour is resolved: the entry becomes {@link #KIND_FORWARD} with {@code dstMac}, in one
   * atomic store. Also used when the neighbour's MAC changes.
   */
  public synchronized void resolve(int nextHop, long dstMac) {
    checkLive(nextHop);
    checkMac(dstMac, "dstMac");
    if (neighbourFamily[nextHop] == 0) {
      throw new IllegalArgumentException("next hop " + nextHop + " has no neighbour to resolve");
    }
    long w = word(nextHop);
    setEntry(nextHop, word(KIND_FORWARD, portOf(w), dstMac));
  }

  /** The neighbour became unreachable/stale: back to {@link #KIND_RESOLVE} (one atomic store). */
  public synchronized void unresolve(int nextHop) {
    checkLive(nextHop);
    if (neighbourFamily[nextHop] == 0) {
      throw new IllegalArgumentException("next hop " + nextHop + " has no neighbour to resolve");
    }
    long w = word(nextHop);
    // Keep the old MAC bits: a reader pairing a stale FORWARD kind with them stays consistent.
    setEntry(nextHop, word(KIND_RESOLVE, portOf(w), dstMacOf(w)));
  }

  /** Takes one more reference. */
  public synchronized void retain(int nextHop) {
    checkLive(nextHop);
    refCounts[nextHop]++;
  }

  /** Drops one reference; the last one retires the index (reused after a grace period). */
  public synchronized void release(int nextHop) {
    checkLive(nextHop);
    if (--refCounts[nextHop] == 0) {
      if (kindOf(word(nextHop)) == KIND_GROUP) {
        for (int member : groupMembers[groupId(nextHop)]) {
          release(member); // retired in the same grace period as the group
        }
      }
      byKey.remove(keys[nextHop]);
      keys[nextHop] = null;
      live--;
      retired++;
      // The caller has already unpublished every route to it; readers may still hold the index.
      retireList.add(domain.advance(), () -> free(nextHop));
    }
  }

  /** Frees retired indexes whose grace period is over; returns how many. */
  public synchronized int reclaim() {
    return retireList.runReady(domain);
  }

  private void free(int nextHop) {
    if (kindOf(word(nextHop)) == KIND_GROUP) {
      freeGroup(groupId(nextHop));
      groups = groups - 1;
    }
    setEntry(nextHop, 0L);
    setEgress(nextHop, 0L);
    down[nextHop] = false;
    neighbourHi[nextHop] = 0;
    neighbourLo[nextHop] = 0;
    neighbourFamily[nextHop] = 0;
    free[freeTop++] = nextHop;
    retired--;
  }

  private int addOrReuse(Key key, long word, long srcMac, int family, long nbHi, long nbLo) {
    Integer existing = byKey.get(key);
    if (existing != null) {
      refCounts[existing]++;
      return existing;
    }
    int nh = allocate();
    setEgress(nh, kindOf(word) == KIND_GROUP ? 0 : egress(portMtus[portOf(word)], srcMac));
    neighbourFamily[nh] = (byte) family;
    neighbourHi[nh] = nbHi;
    neighbourLo[nh] = nbLo;
    setEntry(nh, word);
    refCounts[nh] = 1;
    keys[nh] = key;
    byKey.put(key, nh);
    live++;
    return nh;
  }

  private int allocate() {
    retireList.runReady(domain);
    if (freeTop == 0 && highWater == capacity && !retireList.isEmpty()) {
      // Full only because of entries in their grace period: wait for it rather than fail.
      retireList.drain(domain);
    }
    if (freeTop > 0) {
      return free[--freeTop];
    }
    if (highWater < capacity) {
      return ++highWater;
    }
    throw new RouteTableFullException("next-hop table", capacity, "");
  }

  /**
   * The out port's MTU changed: every adjacency on {@code port} (but ECMP groups, which have no
   * port) gets the new copy, one release store each, as does every one made on it from now on.
   * Callers keep this in step with the port table, which stays where the MTU is configured.
   */
  public synchronized void setPortMtu(int port, int mtu) {
    checkPort(port);
    if (mtu < 0 || mtu > 0xFFFF) {
      throw new IllegalArgumentException("MTU " + mtu + " does not fit in 16 bits");
    }
    if (portMtus[port] == mtu) {
      return;
    }
    portMtus[port] = mtu;
    for (int nh = 1; nh <= highWater; nh++) {
      long w = word(nh);
      if (w != 0 && kindOf(w) != KIND_GROUP && portOf(w) == port) {
        setEgress(nh, egress(mtu, srcMacOf((long) WORDS.get(adjacencies, offset(nh) + EGRESS))));
      }
    }
  }

  /** The MTU {@link #setPortMtu} last gave {@code port}. */
  public synchronized int portMtu(int port) {
    checkPort(port);
    return portMtus[port];
  }

  /** Writer side: the entry word (no ordering needed, only the writer stores it). */
  private long word(int nextHop) {
    return (long) WORDS.get(adjacencies, offset(nextHop) + ENTRY);
  }

  private void setEntry(int nextHop, long word) {
    WORDS.setRelease(adjacencies, offset(nextHop) + ENTRY, word);
  }

  private void setEgress(int nextHop, long egress) {
    WORDS.setRelease(adjacencies, offset(nextHop) + EGRESS, egress);
  }

  private static long offset(int nextHop) {
    return (long) nextHop << SHIFT;
  }

  private static long egress(int mtu, long srcMac) {
    return ((long) mtu << 48) | (srcMac & MAC_MASK);
  }

  private static long word(int kind, int port, long mac) {
    return ((long) kind << 60) | ((long) port << 48) | (mac & MAC_MASK);
  }

  private void checkIndex(int nextHop) {
    if (nextHop <= 0 || nextHop > capacity) {
      throw new IllegalArgumentException(
          "next hop " + nextHop + " out of range [1, " + capacity + "]");
    }
  }

  private void checkLive(int nextHop) {
    checkIndex(nextHop);
    if (refCounts[nextHop] == 0) {
      throw new IllegalArgumentException("next hop " + nextHop + " is not allocated");
    }
  }

  private static void checkPort(int port) {
    if (port < 0 || port > MAX_PORT) {
      throw new IllegalArgumentException("port " + port + " out of range [0, " + MAX_PORT + "]");
    }
  }

  private static void checkMac(long mac, String what) {
    if ((mac & ~MAC_MASK) != 0) {
      throw new IllegalArgumentException(
          what + " 0x" + Long.toHexString(mac) + " does not fit in 48 bits");
    }
  }
}
