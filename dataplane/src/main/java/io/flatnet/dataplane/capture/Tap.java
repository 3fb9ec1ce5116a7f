package io.flatnet.dataplane.capture;

import io.flatnet.control.CaptureFile;
import io.flatnet.control.CaptureFilter;
import io.flatnet.dataplane.PortTable;
import io.flatnet.dataplane.packet.Ethernet;
import io.flatnet.dataplane.policy.PolicyCheck;
import io.flatnet.dataplane.policy.PolicyTable;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.NextHops;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;

/**
 * A worker's side of a capture or live trace: copies packets (and, for a trace, the stages of the
 * marked ones) into this worker's ring of the capture file. It allocates nothing and never waits: a
 * full ring drops the record and counts it. The worker holds it only while a {@link CaptureSpec} is
 * published ({@link PacketIo#tap} is null otherwise), so with capture off the cost is one branch a
 * burst.
 */
public final class Tap {
  /** Packets a worker's trace follows at once (held ones included). */
  static final int MAX_MARKS = 64;

  /** {@link PacketIo}'s free reasons that are not drops. */
  public static final byte CONSUMED = -1;

  public static final byte NOTED = -2;

  private final int worker;
  private CaptureSpec spec;
  private OneToOneRingBuffer ring;
  private AtomicBuffer buffer;
  private UnsafeBuffer header;
  private long ringFull;
  private long now;
  private final CaptureFilter.Fields fields = new CaptureFilter.Fields();
  private final long[] marked = new long[MAX_MARKS];
  private final int[] markIds = new int[MAX_MARKS];

  /** Packets marked and not yet sent or freed. */
  int marks;

  public Tap(int worker) {
    this.worker = worker;
  }

  /** Once per loop while a spec is published: switches to it if new. */
  public Tap use(CaptureSpec next, long nanoTime) {
    if (next != spec) {
      spec = next;
      ring = next.file.ring(worker);
      buffer = ring.buffer();
      header = next.file.header();
      ringFull = header.getLong(CaptureFile.ringFullOffset(worker));
      marks = 0;
    }
    now = nanoTime;
    return this;
  }

  public boolean tracing() {
    return marks > 0;
  }

  /** An RX burst: captured, or for a trace, matching packets marked. */
  public void received(MbufArray burst, int count, int port) {
    CaptureSpec s = spec;
    if (s.trace) {
      for (int i = 0; i < count && marks < MAX_MARKS; i++) {
        long mbuf = burst.get(i);
        if (matches(s, mbuf) && s.take()) {
          int id = s.nextTraceId();
          marked[marks] = mbuf;
          markIds[marks++] = id;
          long frame = Mbuf.dataAddress(mbuf);
          int length = Mbuf.dataLength(mbuf);
          write(
              CaptureFile.TYPE_TRACE,
              CaptureFile.STAGE_RX,
              port,
              frame,
              length,
              Math.min(length, s.snaplen),
              System.nanoTime(),
              id,
              -1,
              0,
              0);
        }
      }
      return;
    }
    if (s.rx && s.selected(port)) {
      for (int i = 0; i < count; i++) {
        packet(s, burst.get(i), CaptureFile.RX, port, -1);
      }
    }
  }

  /** {@code pending[from, to)} go to {@code port}'s TX queue now. */
  public void transmitting(MbufArray pending, int from, int to, int port) {
    CaptureSpec s = spec;
    if (s.trace) {
      if (marks > 0) {
        for (int i = from; i < to; i++) {
          int id = unmark(pending.get(i));
          if (id != 0) {
            stage(id, CaptureFile.STAGE_TX, port, 0, 0);
          }
        }
      }
      return;
    }
    if (s.tx && s.selected(port)) {
      for (int i = from; i < to; i++) {
        packet(s, pending.get(i), CaptureFile.TX, port, -1);
      }
    }
  }

  /**
   * {@code mbufs[from, to)} are freed for {@code reasons[i]} (a drop ordinal or CONSUMED/NOTED).
   */
  public void freeing(MbufArray mbufs, byte[] reasons, int from, int to) {
    CaptureSpec s = spec;
    if (s.trace) {
      if (marks > 0) {
        for (int i = from; i < to; i++) {
          long mbuf = mbufs.get(i);
          int id = reasons[i] == NOTED ? 0 : unmark(mbuf);
          if (id != 0) {
            int reason = reasons[i];
            stage(
                id,
                reason == CONSUMED ? CaptureFile.STAGE_CONSUMED : CaptureFile.STAGE_DROP,
                Mbuf.port(mbuf),
                0,
                0,
                reason);
          }
        }
      }
      return;
    }
    if (s.drops) {
      for (int i = from; i < to; i++) {
        int reason = reasons[i];
        if (reason >= 0) {
          long mbuf = mbufs.get(i);
          int port = Mbuf.port(mbuf);
          if (s.selected(port)) {
            packet(s, mbuf, CaptureFile.DROP, port, reason);
          }
        }
      }
    }
  }

  /** As {@link #freeing} for the same {@code reason} each. */
  public void freeing(MbufArray mbufs, int from, int to, int reason) {
    CaptureSpec s = spec;
    for (int i = from; i < to; i++) {
      dropped(s, mbufs.get(i), reason);
    }
  }

  /**
   * A packet dropped before it is turned into something else (an ICMP error) or freed uncounted.
   */
  public void dropped(long mbuf, int reason) {
    dropped(spec, mbuf, reason);
  }

  private void dropped(CaptureSpec s, long mbuf, int reason) {
    if (s.trace) {
      int id = marks > 0 ? unmark(mbuf) : 0;
      if (id != 0) {
        stage(id, CaptureFile.STAGE_DROP, Mbuf.port(mbuf), 0, 0, reason);
      }
      return;
    }
    int port = Mbuf.port(mbuf);
    if (s.drops && s.selected(port)) {
      packet(s, mbuf, CaptureFile.DROP, port, reason);
    }
  }

  /** The trace id of a marked packet, or 0. */
  int traceId(long mbuf) {
    for (int i = 0; i < marks; i++) {
      if (marked[i] == mbuf) {
        return markIds[i];
      }
    }
    return 0;
  }

  /** Unmarks (the packet is gone); returns its id, or 0 if it was not marked. */
  private int unmark(long mbuf) {
    for (int i = 0; i < marks; i++) {
      if (marked[i] == mbuf) {
        int id = markIds[i];
        marks--;
        marked[i] = marked[marks];
        markIds[i] = markIds[marks];
        return id;
      }
    }
    return 0;
  }

  void stage(int id, int stage, int port, long a, long b) {
    stage(id, stage, port, a, b, -1);
  }

  private void stage(int id, int stage, int port, long a, long b, int reason) {
    write(CaptureFile.TYPE_TRACE, stage, port, 0, 0, 0, System.nanoTime(), id, reason, a, b);
  }

  /** The parsed and lookup stages of a vector's marked packets. */
  public void lookups(long[] packets, int[] nextHops, int count, NextHops hops, int family) {
    for (int i = 0; i < count; i++) {
      lookup(packets[i], nextHops[i], hops, family);
    }
  }

  /** A packet's parse and lookup stages, if it is marked. */
  public void lookup(long mbuf, int nextHop, NextHops hops, int family) {
    int id = traceId(mbuf);
    if (id != 0) {
      stage(id, CaptureFile.STAGE_PARSED, CaptureFile.NO_PORT, family, 0);
      long entry = hops.entry(nextHop);
      int kind = NextHopTable.kindOf(entry);
      stage(id, CaptureFile.STAGE_LOOKUP, routedPort(entry), nextHop, kind);
    }
  }

  /**
   * A marked packet's ECMP pick: a second lookup stage for the member, {@code a} its next hop,
   * {@code b} its kind | group next hop << 8 | bucket << 40 (the group next hop is never 0).
   */
  public void member(long mbuf, int group, long groupEntry, int hash, int member, NextHops hops) {
    int id = traceId(mbuf);
    if (id != 0) {
      long entry = hops.entry(member);
      long b =
          NextHopTable.kindOf(entry)
              | (long) group << 8
              | (long) hops.groupBucket(groupEntry, hash) << 40;
      stage(id, CaptureFile.STAGE_LOOKUP, routedPort(entry), member, b);
    }
  }

  private static int routedPort(long entry) {
    int kind = NextHopTable.kindOf(entry);
    return kind == NextHops.KIND_FORWARD || kind == NextHops.KIND_RESOLVE
        ? NextHopTable.portOf(entry)
        : CaptureFile.NO_PORT;
  }

  /** A marked packet's decision: neighbour state and rewrite, or answered locally. */
  public void decision(long mbuf, int nextHop, long entry, NextHops hops, PortTable ports) {
    int id = traceId(mbuf);
    if (id == 0) {
      return;
    }
    int port = routedPort(entry);
    switch (NextHopTable.kindOf(entry)) {
      case NextHops.KIND_FORWARD -> {
        stage(id, CaptureFile.STAGE_NEIGHBOR, port, 1, NextHopTable.dstMacOf(entry));
        long ip = Mbuf.dataAddress(mbuf) + Ethernet.HEADER;
        boolean v6 = (NativeMemory.getU8(ip) >>> 4) == 6;
        int ttl = NativeMemory.getU8(ip + (v6 ? 7 : 8));
        if (ttl > 1) { // else the TTL drop follows
          stage(
              id,
              CaptureFile.STAGE_REWRITE,
              port,
              NextHopTable.dstMacOf(entry),
              hops.srcMac(nextHop));
        }
      }
      case NextHops.KIND_RESOLVE -> stage(id, CaptureFile.STAGE_NEIGHBOR, port, 0, 0);
      case NextHops.KIND_LOCAL -> stage(id, CaptureFile.STAGE_LOCAL, Mbuf.port(mbuf), 0, 0);
      default -> {} // the drop stage follows
    }
  }

  /** The policy stage of a marked packet. */
  public void policy(long mbuf, int verdict, PolicyCheck check) {
    int id = traceId(mbuf);
    if (id != 0) {
      policy(id, verdict, check);
    }
  }

  /**
   * The policy stage: {@code verdict} (PolicyCheck's) and, if the packet was classified (a flow's
   * first), each side's result in the published table's names.
   */
  private void policy(int id, int verdict, PolicyCheck check) {
    int index = ring.tryClaim(CaptureFile.TYPE_TRACE, CaptureFile.DATA + 512);
    if (index < 0) {
      full();
      return;
    }
    int at = index + CaptureFile.DATA;
    int end = at + 512;
    if (!check.classified) {
      at = text(at, end, "flow table: ");
      at = text(at, end, verdict == PolicyCheck.PASS ? "allowed flow" : "denied flow");
    } else {
      PolicyTable table = check.table();
      PolicyTable.Verdict v = check.verdict();
      at = text(at, end, "egress ");
      at = side(at, end, table, v.egressPod, v.egress);
      at = text(at, end, "; ingress ");
      at = side(at, end, table, v.ingressPod, v.ingress);
    }
    header(index, CaptureFile.STAGE_POLICY, CaptureFile.NO_PORT, at - index - CaptureFile.DATA);
    buffer.putLong(index + CaptureFile.TIME, System.nanoTime());
    buffer.putInt(index + CaptureFile.TRACE_ID, id);
    buffer.putLong(index + CaptureFile.A, verdict);
    buffer.putLong(index + CaptureFile.B, 0);
    // the claimed length is fixed; the text's own length is in LENGTH, the rest is zeros
    ring.commit(index);
  }

  private int side(int at, int end, PolicyTable table, int pod, int result) {
    if (pod >= 0) {
      at = text(at, end, table.podName(pod));
      at = text(at, end, ": ");
    }
    if (result >= 0) {
      at = text(at, end, "allowed by ");
      at = text(at, end, table.rulePolicy(pod, result));
      at = text(at, end, " rule ");
      return number(at, end, table.ruleNumber(pod, result));
    }
    return text(
        at,
        end,
        switch (result) {
          case PolicyTable.NOT_POLICED -> "not policed";
          case PolicyTable.OPEN -> "not isolated";
          case PolicyTable.EXEMPT -> "exempt (host port)";
          default -> "denied: no rule allows it";
        });
  }

  private int text(int at, int end, String s) {
    int n = Math.min(s.length(), end - at);
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      buffer.putByte(at + i, (byte) (c < 128 ? c : '?'));
    }
    return at + n;
  }

  private int number(int at, int end, int value) {
    if (value < 0) {
      at = text(at, end, "-");
      value = -value;
    }
    int digits = 1;
    for (int v = value; v >= 10; v /= 10) {
      digits++;
    }
    if (at + digits > end) {
      return at;
    }
    for (int i = digits - 1; i >= 0; i--) {
      buffer.putByte(at + i, (byte) ('0' + value % 10));
      value /= 10;
    }
    return at + digits;
  }

  private void packet(CaptureSpec s, long mbuf, int kind, int port, int reason) {
    if (matches(s, mbuf) && s.take()) {
      int length = Mbuf.dataLength(mbuf);
      write(
          CaptureFile.TYPE_PACKET,
          kind,
          port,
          Mbuf.dataAddress(mbuf),
          length,
          Math.min(length, s.snaplen),
          now,
          0,
          reason,
          0,
          0);
    }
  }

  private void write(
      int type,
      int kind,
      int port,
      long from,
      int length,
      int copy,
      long time,
      int id,
      int reason,
      long a,
      long b) {
    int index = ring.tryClaim(type, CaptureFile.DATA + copy);
    if (index < 0) {
      full();
      return;
    }
    header(index, kind, port, length);
    buffer.putLong(index + CaptureFile.TIME, time);
    buffer.putInt(index + CaptureFile.TRACE_ID, id);
    buffer.putInt(index + CaptureFile.REASON, reason);
    buffer.putLong(index + CaptureFile.A, a);
    buffer.putLong(index + CaptureFile.B, b);
    if (copy > 0) {
      NativeMemory.move(from, buffer.addressOffset() + index + CaptureFile.DATA, copy);
    }
    ring.commit(index);
  }

  private void header(int index, int kind, int port, int length) {
    buffer.putByte(index + CaptureFile.KIND, (byte) kind);
    buffer.putByte(index + CaptureFile.WORKER, (byte) worker);
    buffer.putShort(index + CaptureFile.PORT, (short) port);
    buffer.putInt(index + CaptureFile.LENGTH, length);
    buffer.putInt(index + CaptureFile.REASON, -1);
  }

  private void full() {
    header.putLongOrdered(CaptureFile.ringFullOffset(worker), ++ringFull);
  }

  /** Extracts the fields the filter tests and runs it. */
  private boolean matches(CaptureSpec s, long mbuf) {
    if (s.anyPacket) {
      return true;
    }
    CaptureFilter.Fields f = fields;
    f.clear();
    long frame = Mbuf.dataAddress(mbuf);
    int length = Mbuf.dataLength(mbuf);
    if (length >= Ethernet.HEADER) {
      int type = Ethernet.type(frame);
      long ip = frame + Ethernet.HEADER;
      if (type == Ethernet.IPV4 && length >= Ethernet.HEADER + 20) {
        f.family = 4;
        f.srcLo = NativeMemory.getIntBe(ip + 12) & 0xFFFF_FFFFL;
        f.dstLo = NativeMemory.getIntBe(ip + 16) & 0xFFFF_FFFFL;
        f.protocol = NativeMemory.getU8(ip + 9);
        int headerLength = (NativeMemory.getU8(ip) & 0x0F) << 2;
        if ((NativeMemory.getU16Be(ip + 6) & 0x1FFF) == 0
            && hasPorts(f.protocol)
            && length >= Ethernet.HEADER + headerLength + 4) {
          f.srcPort = NativeMemory.getU16Be(ip + headerLength);
          f.dstPort = NativeMemory.getU16Be(ip + headerLength + 2);
        }
      } else if (type == Ethernet.IPV6 && length >= Ethernet.HEADER + 40) {
        f.family = 6;
        f.srcHi = NativeMemory.getLongBe(ip + 8);
        f.srcLo = NativeMemory.getLongBe(ip + 16);
        f.dstHi = NativeMemory.getLongBe(ip + 24);
        f.dstLo = NativeMemory.getLongBe(ip + 32);
        f.protocol = NativeMemory.getU8(ip + 6);
        if (hasPorts(f.protocol) && length >= Ethernet.HEADER + 44) {
          f.srcPort = NativeMemory.getU16Be(ip + 40);
          f.dstPort = NativeMemory.getU16Be(ip + 42);
        }
      } else if (type == Ethernet.ARP) {
        f.arp = true;
      }
    }
    return s.filter.matches(f);
  }

  private static boolean hasPorts(int protocol) {
    return protocol == 6 || protocol == 17 || protocol == 132;
  }
}
