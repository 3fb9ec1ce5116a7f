package io.flatnet.dataplane;

import io.flatnet.dataplane.packet.Ethernet;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.route.NextHops;

/**
 * Packets whose next hop is not resolved yet wait here, a few per next hop, while the control path
 * resolves it (ARP/NDP). Each loop the worker releases those whose next hop became FORWARD and
 * drops those that waited too long. Per worker, so no locks; arrays are sized once.
 */
final class NeighborWait {
  static final int PER_NEXT_HOP = 4;
  static final long TIMEOUT_NANOS = 3_000_000_000L;
  static final long REQUEST_INTERVAL_NANOS = 200_000_000L;

  private final long[] slots;
  private final byte[] held;
  private final long[] firstHeld;
  private final long[] lastRequest;
  private final int[] waiting;
  private int waitingCount;

  private final PacketIo io;
  private final ControlChannel.Writer control;

  NeighborWait(int nextHopCapacity, PacketIo io, ControlChannel.Writer control) {
    int size = nextHopCapacity + 1;
    this.slots = new long[size * PER_NEXT_HOP];
    this.held = new byte[size];
    this.firstHeld = new long[size];
    this.lastRequest = new long[size];
    this.waiting = new int[size];
    this.io = io;
    this.control = control;
  }

  void hold(long mbuf, int nextHop) {
    if (nextHop >= held.length) {
      io.drop(mbuf, DropReason.NEIGHBOR_UNRESOLVED);
      return;
    }
    int count = held[nextHop];
    if (count == PER_NEXT_HOP) {
      io.drop(mbuf, DropReason.NEIGHBOR_QUEUE_FULL);
      return;
    }
    long now = System.nanoTime();
    if (count == 0) {
      waiting[waitingCount++] = nextHop;
      firstHeld[nextHop] = now;
    }
    slots[nextHop * PER_NEXT_HOP + count] = mbuf;
    held[nextHop] = (byte) (count + 1);
    io.counters.event(WorkerEvent.NEIGHBOR_HELD);
    if (now - lastRequest[nextHop] > REQUEST_INTERVAL_NANOS) {
      lastRequest[nextHop] = now;
      control.resolve(nextHop);
    }
  }

  boolean isEmpty() {
    return waitingCount == 0;
  }

  /** Releases or expires waiting packets; returns how many left the queue. */
  int poll(NextHops hops) {
    if (waitingCount == 0) {
      return 0;
    }
    long now = System.nanoTime();
    int moved = 0;
    for (int i = 0; i < waitingCount; ) {
      int nextHop = waiting[i];
      int kind = hops.kind(nextHop);
      boolean expired = now - firstHeld[nextHop] > TIMEOUT_NANOS;
      if (kind == NextHops.KIND_RESOLVE && !expired) {
        if (now - lastRequest[nextHop] > REQUEST_INTERVAL_NANOS) {
          lastRequest[nextHop] = now;
          control.resolve(nextHop);
        }
        i++;
        continue;
      }
      int count = held[nextHop];
      for (int j = 0; j < count; j++) {
        long mbuf = slots[nextHop * PER_NEXT_HOP + j];
        if (kind == NextHops.KIND_FORWARD) {
          release(mbuf, hops, nextHop);
        } else {
          io.drop(mbuf, DropReason.NEIGHBOR_UNRESOLVED);
        }
      }
      moved += count;
      held[nextHop] = 0;
      waiting[i] = waiting[--waitingCount];
    }
    return moved;
  }

  private void release(long mbuf, NextHops hops, int nextHop) {
    long frame = Mbuf.dataAddress(mbuf);
    if (Ethernet.type(frame) == Ethernet.IPV6) {
      Ipv6Node.rewrite(frame, hops, nextHop);
    } else {
      Ipv4Node.rewrite(frame, hops, nextHop);
    }
    io.send(hops.port(nextHop), mbuf);
  }

  /** Frees everything still waiting (the worker is stopping). */
  void clear() {
    for (int i = 0; i < waitingCount; i++) {
      int nextHop = waiting[i];
      for (int j = 0; j < held[nextHop]; j++) {
        io.drop(slots[nextHop * PER_NEXT_HOP + j], DropReason.NEIGHBOR_UNRESOLVED);
      }
      held[nextHop] = 0;
    }
    waitingCount = 0;
  }
}
