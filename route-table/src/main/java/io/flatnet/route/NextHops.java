package io.flatnet.route;

/**
 * The read side of the next-hop table: what a worker needs to send a packet that a lookup resolved.
 * Indexes are stable while any route points at them.
 */
public interface NextHops {

  /** The index every lookup miss returns. Its kind is {@link #KIND_NO_ROUTE}. */
  int NO_ROUTE = 0;

  /** No route: the lookup missed. */
  int KIND_NO_ROUTE = 0;

  /** Forward: send out {@link #port} with the given MACs. */
  int KIND_FORWARD = 1;

  /** The next hop's MAC is not known yet: resolve it (ARP/NDP) first. */
  int KIND_RESOLVE = 2;

  /** Addressed to this router or its host: hand to the local/host path. */
  int KIND_LOCAL = 3;

  /** An explicit drop/unreachable route. */
  int KIND_DROP = 4;

  /**
   * An ECMP group: the entry's low 48 bits are a group id; {@link #groupMember} picks the member
   * (an ordinary FORWARD/RESOLVE next hop) for a flow's hash. Workers replace it before anything
   * else looks at the kind.
   */
  int KIND_GROUP = 5;

  /**
   * The entry's state word (kind, port, destination MAC), read once: decode it with {@link
   * NextHopTable#kindOf}, {@link NextHopTable#portOf} and {@link NextHopTable#dstMacOf}, so that
   * one decision sees one consistent entry.
   */
  long entry(int nextHop);

  int kind(int nextHop);

  int port(int nextHop);

  /** Destination MAC in the low 48 bits, most significant byte first on the wire. */
  long dstMac(int nextHop);

  /**
   * True while any ECMP group exists (a volatile read). A worker reads it after its bulk lookup: a
   * group next hop it found was created before the route to it was published, so it reads true.
   */
  default boolean hasGroups() {
    return false;
  }

  /**
   * The member of the group {@code entry} (a {@link #KIND_GROUP} word) that {@code hash} (a {@link
   * FlowHash}) picks: {@code buckets[hash & (buckets - 1)]} of the group's published bucket array.
   */
  default int groupMember(long entry, int hash) {
    throw new UnsupportedOperationException("no ECMP groups here");
  }

  /** The bucket of group {@code entry} that {@code hash} falls in (for traces). */
  default int groupBucket(long entry, int hash) {
    throw new UnsupportedOperationException("no ECMP groups here");
  }

  /**
   * The adjacency's egress word ({@code mtu:16 | srcMac:48}: the out port's MTU and MAC), read
   * once: decode it with {@link NextHopTable#mtuOf} and {@link NextHopTable#srcMacOf}. It shares a
   * cache line with {@link #entry}; any version of one pairs consistently with any version of the
   * other (see {@link NextHopTable}).
   */
  long egress(int nextHop);

  /** Source MAC (the out port's) in the low 48 bits, most significant byte first on the wire. */
  default long srcMac(int nextHop) {
    return NextHopTable.srcMacOf(egress(nextHop));
  }

  /** The out port's MTU, as the adjacency holds it. */
  default int mtu(int nextHop) {
    return NextHopTable.mtuOf(egress(nextHop));
  }
}
