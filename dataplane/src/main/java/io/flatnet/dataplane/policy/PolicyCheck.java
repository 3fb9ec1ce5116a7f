package io.flatnet.dataplane.policy;

import io.flatnet.dataplane.DropReason;
import io.flatnet.dataplane.WorkerCounters;
import io.flatnet.dataplane.WorkerEvent;
import io.flatnet.dpdk.NativeMemory;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * A worker's stateful network-policy check, between the FIB lookup and forwarding: the flow table
 * answers every packet of a known flow (both directions); the first packet of a flow is classified
 * by {@link PolicyTable#classify} and its verdict recorded. Allocation-free and lock-free: the
 * table arrives as a published reference ({@link #begin}), the flow table is this worker's own, and
 * the other workers' tables are only read.
 *
 * <p>Semantics (see docs/architecture.md, "Network policy in the workers"):
 *
 * <ul>
 *   <li>An allowed flow is recorded with its initiator; later packets in either direction pass.
 *   <li>A denied first packet is recorded as a deny of that direction only: the same direction is
 *       dropped from the table, the other is classified as a new flow of its own.
 *   <li>An entry of an older policy generation is re-classified in its original direction on its
 *       next packet: kept if still allowed; otherwise cut: both directions denied (a reply cannot
 *       re-open it as a new flow of the other end) until it expires or a TCP SYN starts anew.
 *   <li>ICMP/ICMPv6 errors whose embedded header belongs to an allowed flow pass; other ICMP is
 *       classified as ICMP (no ports: only rules without ports match).
 *   <li>Flows begun before this worker enforced any policy (the node's first policy, a restart)
 *       have no entry: for {@link #PICKUP_WINDOW} after enforcement starts, a reply-shaped packet
 *       (TCP without SYN, an echo reply) with no entry that its own direction would deny is picked
 *       up as a reply when the opposite direction is allowed, as Linux conntrack picks up TCP
 *       mid-stream. Without it, the first reply after a pod's first policy lands is dropped.
 *   <li>Non-first IPv4 fragments and IPv6 packets whose first next header is not TCP, UDP, SCTP or
 *       ICMPv6 (extension headers are not walked) have no ports: they are their own flow, keyed
 *       with ports 0, and only rules without ports allow them.
 * </ul>
 */
public final class PolicyCheck {
  public static final int PASS = 0;
  static final int DENY_EGRESS = 1;
  public static final int DENY_INGRESS = 2;

  /** The drop reason of a deny verdict. */
  public static DropReason dropReason(int verdict) {
    return verdict == DENY_INGRESS
        ? DropReason.POLICY_DENIED_INGRESS
        : DropReason.POLICY_DENIED_EGRESS;
  }

  private static final long SECOND = 1_000_000_000L;
  static final long TCP_TIMEOUT = 300 * SECOND;
  static final long TCP_UNREPLIED_TIMEOUT = 30 * SECOND;
  static final long TCP_FIN_TIMEOUT = 30 * SECOND;
  static final long TCP_RST_TIMEOUT = 10 * SECOND;
  static final long UDP_TIMEOUT = 60 * SECOND;
  static final long ICMP_TIMEOUT = 30 * SECOND;
  static final long OTHER_TIMEOUT = 60 * SECOND;

  /**
   * How long after this worker starts enforcing policy a reply of an untracked flow is picked up
   * (see the class comment): long enough for every live flow to send a packet, short because it
   * lets a pod send reply-shaped packets (ACKs a pod's kernel answers with RST, echo replies) to
   * ports its policy does not open.
   */
  static final long PICKUP_WINDOW = 10 * SECOND;

  /**
   * A hit stores its flow's new expiry only when that moves it by this much or more: most packets
   * of a busy flow then write nothing (the entry may expire up to this much before its full idle
   * timeout, which is 10 s or more).
   */
  static final long TOUCH_SLACK = SECOND;

  private static final int ICMP = 1;
  private static final int ICMP6 = 58;
  private static final int TCP_FIN = 0x01;
  private static final int TCP_SYN = 0x02;
  private static final int TCP_RST = 0x04;
  private static final int TCP_ACK = 0x10;
  private static final long POD_AB_MASK = 0xFFFFL << 32;
  private static final long POD_BA_MASK = 0xFFFFL << 48;

  private final FlowTable flows;
  private final WorkerCounters counters;
  private FlowTable[] peers = new FlowTable[0];
  private int self;
  private PolicyTable table = PolicyTable.EMPTY;
  private int generation;

  /** Some pod has a policy: the nodes run the check. Read once per vector. */
  public boolean active;

  /**
   * The last check classified the packet (a flow's first) rather than finding its flow: {@link
   * #verdict()} then holds each side's result. Only a live trace clears it before a check.
   */
  public boolean classified;

  private long now;

  /** When this worker's check last became active (a table with a policed pod arrived). */
  private long activeSince;

  /** The packet being checked could be a reply: TCP without SYN, or an echo reply. */
  private boolean replyShaped;

  /**
   * The slot of the last flow this loop found or recorded, or -1: the next packet of the same flow
   * (real traffic comes in bursts of one flow) skips the hash and the probe. Reset every loop, so
   * the flow it names was live at this loop's {@link #now}.
   */
  private int lastSlot = -1;

  private final FlowKey key = new FlowKey();
  private final FlowKey inner = new FlowKey();
  private final PolicyTable.Verdict verdict = new PolicyTable.Verdict();
  private final long[] copy = new long[FlowTable.WORDS];
  private final long[] pendingFlows = new long[PolicyTable.MAX_POLICIES];
  private final long[] pendingDeniedIngress = new long[PolicyTable.MAX_PODS];
  private final long[] pendingDeniedEgress = new long[PolicyTable.MAX_PODS];
  private boolean dirty;
  private int busyLoops;

  public PolicyCheck(int flowCapacity, WorkerCounters counters) {
    this.flows = new FlowTable(flowCapacity);
    this.counters = counters;
  }

  public FlowTable flows() {
    return flows;
  }

  /** The table of the current loop (a live trace names rules with it). */
  public PolicyTable table() {
    return table;
  }

  /** The last classification's result (see {@link #classified}). */
  public PolicyTable.Verdict verdict() {
    return verdict;
  }

  /** Control path, before the workers start: every worker's table, this one's at {@code self}. */
  public void peers(FlowTable[] all, int selfIndex) {
    this.peers = all.clone();
    this.self = selfIndex;
  }

  /** Once per loop: the published table and the loop's timestamp. */
  public void begin(PolicyTable next, long nanoTime) {
    if (next != table) {
      publishCounters(); // counted under the old table's indices
      table = next;
      generation = (int) next.generation();
      boolean wasActive = active;
      active = next.podCount() > 0;
      if (active && !wasActive) {
        activeSince = nanoTime;
      }
    }
    now = nanoTime;
    lastSlot = -1;
  }

  /** The IPv4 packet at {@code ip} ({@code ipLength} bytes in the mbuf): PASS or a deny. */
  public int check4(long ip, int ipLength, boolean fromHost) {
    int headerLength = (NativeMemory.getU8(ip) & 0x0F) << 2;
    int total = Math.min(NativeMemory.getU16Be(ip + 2), ipLength);
    int protocol = NativeMemory.getU8(ip + 9);
    boolean firstFragment = (NativeMemory.getU16Be(ip + 6) & 0x1FFF) == 0;
    long srcLo = PolicyTable.v4Lo(NativeMemory.getIntBe(ip + 12));
    long dstLo = PolicyTable.v4Lo(NativeMemory.getIntBe(ip + 16));
    long l4 = ip + headerLength;
    int l4Length = total - headerLength;
    int srcPort = 0;
    int dstPort = 0;
    int tcpFlags = 0;
    boolean reply = false;
    if (firstFragment) {
      if (hasPorts(protocol)) {
        if (l4Length >= 4) {
          srcPort = NativeMemory.getU16Be(l4);
          dstPort = NativeMemory.getU16Be(l4 + 2);
        }
        if (protocol == PolicyTable.TCP && l4Length >= 14) {
          tcpFlags = NativeMemory.getU8(l4 + 13);
          reply = (tcpFlags & TCP_SYN) == 0;
        }
      } else if (protocol == ICMP && l4Length >= 8) {
        int type = NativeMemory.getU8(l4);
        if (type == 8 || type == 0) {
          srcPort = dstPort = NativeMemory.getU16Be(l4 + 4); // echo: keyed on the id
          reply = type == 0;
        } else if ((type == 3 || type == 11 || type == 12)
            && innerFlowAllowed4(l4 + 8, l4Length - 8)) {
          return PASS;
        }
      }
    }
    key.set4(srcLo, srcPort, dstLo, dstPort, protocol);
    replyShaped = reply;
    return decide(fromHost, tcpFlags);
  }

  /** The IPv6 packet at {@code ip}: PASS or a deny. Extension headers are not walked. */
  public int check6(long ip, int ipLength, boolean fromHost) {
    int protocol = NativeMemory.getU8(ip + 6);
    int l4Length = Math.min(NativeMemory.getU16Be(ip + 4), ipLength - 40);
    long l4 = ip + 40;
    int srcPort = 0;
    int dstPort = 0;
    int tcpFlags = 0;
    boolean reply = false;
    if (hasPorts(protocol)) {
      if (l4Length >= 4) {
        srcPort = NativeMemory.getU16Be(l4);
        dstPort = NativeMemory.getU16Be(l4 + 2);
      }
      if (protocol == PolicyTable.TCP && l4Length >= 14) {
        tcpFlags = NativeMemory.getU8(l4 + 13);
        reply = (tcpFlags & TCP_SYN) == 0;
      }
    } else if (protocol == ICMP6 && l4Length >= 8) {
      int type = NativeMemory.getU8(l4);
      if (type == 128 || type == 129) {
        srcPort = dstPort = NativeMemory.getU16Be(l4 + 4);
        reply = type == 129;
      } else if (type >= 1 && type <= 4 && innerFlowAllowed6(l4 + 8, l4Length - 8)) {
        return PASS;
      }
    }
    key.set(
        NativeMemory.getLongBe(ip + 8),
        NativeMemory.getLongBe(ip + 16),
        srcPort,
        NativeMemory.getLongBe(ip + 24),
        NativeMemory.getLongBe(ip + 32),
        dstPort,
        protocol);
    replyShaped = reply;
    return decide(fromHost, tcpFlags);
  }

  private static boolean hasPorts(int protocol) {
    return protocol == PolicyTable.TCP
        || protocol == PolicyTable.UDP
        || protocol == PolicyTable.SCTP;
  }

  /** The IPv4 header an ICMP error quotes: does it belong to an allowed flow? */
  private boolean innerFlowAllowed4(long ip, int length) {
    if (length < 20) {
      return false;
    }
    int headerLength = (NativeMemory.getU8(ip) & 0x0F) << 2;
    if (headerLength < 20 || headerLength > length) {
      return false;
    }
    int protocol = NativeMemory.getU8(ip + 9);
    long l4 = ip + headerLength;
    int l4Length = length - headerLength;
    int srcPort = 0;
    int dstPort = 0;
    if ((NativeMemory.getU16Be(ip + 6) & 0x1FFF) == 0) {
      if (hasPorts(protocol) && l4Length >= 4) {
        srcPort = NativeMemory.getU16Be(l4);
        dstPort = NativeMemory.getU16Be(l4 + 2);
      } else if (protocol == ICMP && l4Length >= 8) {
        int type = NativeMemory.getU8(l4);
        if (type == 8 || type == 0) {
          srcPort = dstPort = NativeMemory.getU16Be(l4 + 4);
        }
      }
    }
    inner.set(
        0,
        PolicyTable.v4Lo(NativeMemory.getIntBe(ip + 12)),
        srcPort,
        0,
        PolicyTable.v4Lo(NativeMemory.getIntBe(ip + 16)),
        dstPort,
        protocol);
    return allowedFlow(inner);
  }

  private boolean innerFlowAllowed6(long ip, int length) {
    if (length < 40) {
      return false;
    }
    int protocol = NativeMemory.getU8(ip + 6);
    long l4 = ip + 40;
    int l4Length = length - 40;
    int srcPort = 0;
    int dstPort = 0;
    if (hasPorts(protocol) && l4Length >= 4) {
      srcPort = NativeMemory.getU16Be(l4);
      dstPort = NativeMemory.getU16Be(l4 + 2);
    } else if (protocol == ICMP6 && l4Length >= 8) {
      int type = NativeMemory.getU8(l4);
      if (type == 128 || type == 129) {
        srcPort = dstPort = NativeMemory.getU16Be(l4 + 4);
      }
    }
    inner.set(
        NativeMemory.getLongBe(ip + 8),
        NativeMemory.getLongBe(ip + 16),
        srcPort,
        NativeMemory.getLongBe(ip + 24),
        NativeMemory.getLongBe(ip + 32),
        dstPort,
        protocol);
    return allowedFlow(inner);
  }

  /**
   * An allowed flow of this generation in this worker's table or another's. A flow of an older
   * generation does not count (its next own packet re-checks it); the error is then classified as
   * plain ICMP.
   */
  private boolean allowedFlow(FlowKey k) {
    int slot = flows.find(k, now);
    if (slot >= 0) {
      return (flows.flags(slot) & FlowTable.ALLOWED) != 0 && (int) flows.gen(slot) == generation;
    }
    for (int w = 0; w < peers.length; w++) {
      if (w != self && peers[w].read(k, now, copy)) {
        return ((int) copy[FlowTable.META] & FlowTable.ALLOWED) != 0
            && (int) copy[FlowTable.GEN] == generation;
      }
    }
    return false;
  }

  /**
   * The decision for the packet in {@link #key}. The hit of an established flow (allowed in this
   * generation, no TCP SYN, FIN or RST, nothing new to record) is the short path: no sequence
   * write, and an expiry store only when it moves by {@link #TOUCH_SLACK}; everything else goes to
   * {@link #decideEntry}.
   */
  private int decide(boolean fromHost, int tcpFlags) {
    int slot = lastSlot;
    if (slot < 0 || !flows.holds(slot, key)) {
      slot = flows.find(key, now);
      if (slot < 0) {
        return decideMiss(fromHost, tcpFlags);
      }
    }
    int flags = flows.flags(slot);
    if ((flags & FlowTable.ALLOWED) != 0
        && (tcpFlags & (TCP_SYN | TCP_FIN | TCP_RST)) == 0
        && (int) flows.gen(slot) == generation
        && ((flags & FlowTable.REPLIED) != 0
            || key.srcIsB == ((flags & FlowTable.INIT_B) != 0))) { // the initiator's
      long expires = now + timeout(key.protocol, flags);
      if (expires - flows.expires(slot) >= TOUCH_SLACK) {
        flows.touch(slot, expires);
      }
      lastSlot = slot;
      return PASS;
    }
    return decideEntry(slot, flags, fromHost, tcpFlags);
  }

  /** No flow here: one copied from another worker, or a new flow. */
  private int decideMiss(boolean fromHost, int tcpFlags) {
    int slot = peers.length > 1 ? copyFromPeer() : -1;
    if (slot < 0) {
      return classifyNew(-1, 0, 0, fromHost, tcpFlags);
    }
    return decideEntry(slot, flows.flags(slot), fromHost, tcpFlags);
  }

  /** The decision for the packet in {@link #key}, whose flow is in {@code slot}. */
  private int decideEntry(int slot, int flags, boolean fromHost, int tcpFlags) {
    long gen = flows.gen(slot);
    if ((int) gen != generation) {
      if ((flags & FlowTable.ALLOWED) == 0) {
        return classifyNew(slot, 0, 0, fromHost, tcpFlags); // an old deny: forget it
      }
      flags = recheck(slot, flags);
      gen = flows.gen(slot);
    }
    boolean fromInitiator = key.srcIsB == ((flags & FlowTable.INIT_B) != 0);
    if ((flags & FlowTable.ALLOWED) != 0) {
      if ((tcpFlags & (TCP_SYN | TCP_ACK)) == TCP_SYN
          && fromInitiator
          && (flags & (FlowTable.FIN | FlowTable.RST)) != 0) {
        return classifyNew(slot, 0, 0, fromHost, tcpFlags); // the ports reused: a new connection
      }
      int next = flags;
      if (!fromInitiator) {
        next |= FlowTable.REPLIED;
      }
      if ((tcpFlags & TCP_FIN) != 0) {
        next |= FlowTable.FIN;
      }
      if ((tcpFlags & TCP_RST) != 0) {
        next |= FlowTable.RST;
      }
      long expires = now + timeout(key.protocol, next);
      if (next != flags) {
        flows.update(slot, next, gen, expires);
      } else {
        flows.touch(slot, expires);
      }
      lastSlot = slot;
      return PASS;
    }
    if ((flags & FlowTable.CUT) != 0 && (tcpFlags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
      return classifyNew(slot, 0, 0, fromHost, tcpFlags); // a new connection after a cut
    }
    if (key.srcIsB ? (flags & FlowTable.DENY_BA) != 0 : (flags & FlowTable.DENY_AB) != 0) {
      boolean ingress =
          key.srcIsB
              ? (flags & FlowTable.DENY_BA_INGRESS) != 0
              : (flags & FlowTable.DENY_AB_INGRESS) != 0;
      int pod = (int) (gen >>> (key.srcIsB ? 48 : 32) & 0xFFFF) - 1;
      return denied(ingress, pod);
    }
    return classifyNew(slot, flags, gen, fromHost, tcpFlags); // the other direction's deny
  }

  /** Another worker has the flow: copy it here. Returns its slot here, or -1. */
  private int copyFromPeer() {
    for (int w = 0; w < peers.length; w++) {
      if (w != self && peers[w].read(key, now, copy)) {
        int slot = flows.claim(key, now);
        if (flows.evicted) {
          counters.event(WorkerEvent.FLOW_EVICTED);
        }
        flows.writeCopy(slot, copy);
        counters.event(WorkerEvent.FLOW_COPIED);
        return slot;
      }
    }
    return -1;
  }

  /**
   * An allowed flow of an older generation: classify its original direction again. Returns the
   * entry's new flags (still allowed, or a deny of the initiator's direction).
   */
  private int recheck(int slot, int flags) {
    boolean initB = (flags & FlowTable.INIT_B) != 0;
    long iHi = initB ? key.bHi : key.aHi;
    long iLo = initB ? key.bLo : key.aLo;
    long rHi = initB ? key.aHi : key.bHi;
    long rLo = initB ? key.aLo : key.bLo;
    int responderPort = initB ? key.aPort() : key.bPort();
    table.classify(
        verdict,
        iHi,
        iLo,
        rHi,
        rLo,
        key.protocol,
        responderPort,
        (flags & FlowTable.HOST_INIT) != 0);
    long gen = generation & 0xFFFF_FFFFL;
    if (verdict.allowed()) {
      flows.update(slot, flags, gen, flows.expires(slot));
      return flags;
    }
    boolean ingress = verdict.egress != PolicyTable.DENIED;
    int pod = ingress ? verdict.ingressPod : verdict.egressPod;
    // Cut: both directions denied, under the initiator's reason and pod.
    int next =
        FlowTable.VALID
            | FlowTable.CUT
            | FlowTable.DENY_AB
            | FlowTable.DENY_BA
            | (ingress ? FlowTable.DENY_AB_INGRESS | FlowTable.DENY_BA_INGRESS : 0);
    gen |= (long) (pod + 1) << 48 | (long) (pod + 1) << 32;
    flows.update(slot, next, gen, now + timeout(key.protocol, next));
    return next;
  }

  /**
   * Classifies {@link #key}'s packet as a flow's first and records the verdict, in {@code slot} if
   * the flow has one ({@code keepFlags}/{@code keepGen}: a deny of the other direction to keep, or
   * 0), else in a slot claimed for it.
   */
  private int classifyNew(int slot, int keepFlags, long keepGen, boolean fromHost, int tcpFlags) {
    classified = true;
    boolean srcIsB = key.srcIsB;
    classifyFrom(srcIsB, key.dstPort, fromHost);
    if (verdict.allowed()) {
      int flags =
          FlowTable.VALID
              | FlowTable.ALLOWED
              | (srcIsB ? FlowTable.INIT_B : 0)
              | (fromHost ? FlowTable.HOST_INIT : 0)
              | ((tcpFlags & TCP_FIN) != 0 ? FlowTable.FIN : 0)
              | ((tcpFlags & TCP_RST) != 0 ? FlowTable.RST : 0);
      record(slot, flags, generation & 0xFFFF_FFFFL);
      countAllowed();
      return PASS;
    }
    if (slot < 0 && replyShaped && now - activeSince < PICKUP_WINDOW && pickUp(srcIsB)) {
      return PASS;
    }
    boolean ingress = verdict.egress != PolicyTable.DENIED; // egress is checked first
    int pod = ingress ? verdict.ingressPod : verdict.egressPod;
    int flags = FlowTable.VALID;
    long gen = generation & 0xFFFF_FFFFL;
    if (keepFlags != 0 && (keepFlags & FlowTable.ALLOWED) == 0) {
      flags = keepFlags;
      gen = keepGen;
    }
    if (srcIsB) {
      flags |= FlowTable.DENY_BA | (ingress ? FlowTable.DENY_BA_INGRESS : 0);
      gen = (gen & ~POD_BA_MASK) | (long) (pod + 1) << 48;
    } else {
      flags |= FlowTable.DENY_AB | (ingress ? FlowTable.DENY_AB_INGRESS : 0);
      gen = (gen & ~POD_AB_MASK) | (long) (pod + 1) << 32;
    }
    record(slot, flags, gen);
    return denied(ingress, pod);
  }

  /**
   * {@link #verdict} for {@link #key}'s flow from endpoint B ({@code fromB}) or A to {@code port}.
   */
  private void classifyFrom(boolean fromB, int port, boolean fromHost) {
    table.classify(
        verdict,
        fromB ? key.bHi : key.aHi,
        fromB ? key.bLo : key.aLo,
        fromB ? key.aHi : key.bHi,
        fromB ? key.aLo : key.bLo,
        key.protocol,
        port,
        fromHost);
  }

  /**
   * The denied packet in {@link #key} as the reply of a flow its destination began untracked: if
   * the opposite direction is allowed, records that flow (replied) and returns true; otherwise
   * leaves {@link #verdict} as this direction's deny.
   */
  private boolean pickUp(boolean srcIsB) {
    int egress = verdict.egress;
    int egressPod = verdict.egressPod;
    int ingress = verdict.ingress;
    int ingressPod = verdict.ingressPod;
    classifyFrom(!srcIsB, srcIsB ? key.bPort() : key.aPort(), false); // to the responder's port
    if (!verdict.allowed()) {
      verdict.egress = egress;
      verdict.egressPod = egressPod;
      verdict.ingress = ingress;
      verdict.ingressPod = ingressPod;
      return false;
    }
    int flags =
        FlowTable.VALID
            | FlowTable.ALLOWED
            | FlowTable.REPLIED
            | (srcIsB ? 0 : FlowTable.INIT_B); // the initiator is this packet's destination
    record(-1, flags, generation & 0xFFFF_FFFFL);
    countAllowed();
    counters.event(WorkerEvent.FLOW_PICKED_UP);
    return true;
  }

  private void record(int slot, int flags, long gen) {
    if (slot < 0) {
      slot = flows.claim(key, now);
      if (flows.evicted) {
        counters.event(WorkerEvent.FLOW_EVICTED);
      }
    }
    flows.write(slot, key, flags, gen, now + timeout(key.protocol, flags));
  }

  static long timeout(int protocol, int flags) {
    return switch (protocol) {
      case PolicyTable.TCP -> {
        if ((flags & FlowTable.RST) != 0) {
          yield TCP_RST_TIMEOUT;
        }
        if ((flags & FlowTable.FIN) != 0) {
          yield TCP_FIN_TIMEOUT;
        }
        yield (flags & FlowTable.REPLIED) != 0 ? TCP_TIMEOUT : TCP_UNREPLIED_TIMEOUT;
      }
      case PolicyTable.UDP, PolicyTable.SCTP -> UDP_TIMEOUT;
      case ICMP, ICMP6 -> ICMP_TIMEOUT;
      default -> OTHER_TIMEOUT;
    };
  }

  private void countAllowed() {
    int egress = verdict.egress;
    int ingress = verdict.ingress;
    int egressPolicy = -1;
    if (egress >= 0) {
      egressPolicy = table.rulePolicyIndex(verdict.egressPod, egress);
      pendingFlows[egressPolicy]++;
    }
    if (ingress >= 0) {
      int ingressPolicy = table.rulePolicyIndex(verdict.ingressPod, ingress);
      if (ingressPolicy != egressPolicy) {
        pendingFlows[ingressPolicy]++;
      }
    }
    dirty = true;
  }

  private int denied(boolean ingress, int pod) {
    if (pod >= 0) {
      if (ingress) {
        pendingDeniedIngress[pod]++;
      } else {
        pendingDeniedEgress[pod]++;
      }
      dirty = true;
    }
    return ingress ? DENY_INGRESS : DENY_EGRESS;
  }

  /** Once per loop: publishes the policy counters every 16th busy loop and on an idle one. */
  public void publish(boolean busy) {
    if (dirty && (!busy || (++busyLoops & 15) == 0)) {
      publishCounters();
    }
  }

  public void publishCounters() {
    if (!dirty) {
      return;
    }
    dirty = false;
    PolicyTable t = table;
    publish(t.flowsAllowed, pendingFlows, t.policyCount());
    publish(t.deniedIngress, pendingDeniedIngress, t.podCount());
    publish(t.deniedEgress, pendingDeniedEgress, t.podCount());
  }

  private static void publish(AtomicCounter[] shared, long[] pending, int count) {
    for (int i = 0; i < count; i++) {
      if (pending[i] != 0) {
        AtomicCounter counter = shared[i];
        if (counter != null) {
          counter.getAndAddRelease(pending[i]);
        }
        pending[i] = 0;
      }
    }
  }
}
