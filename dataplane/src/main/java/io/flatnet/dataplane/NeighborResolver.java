package io.flatnet.dataplane;

import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.NextHops;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongPredicate;
import java.util.function.Supplier;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.MessageHandler;

/**
 * Control path: resolves next hops' MACs. Workers report every ARP/NDP sender they hear and every
 * next hop packets wait for; this resolves the matching next hops (one atomic store each, which the
 * workers see at once), sends ARP requests and neighbour solicitations through a worker, and ages
 * neighbours that stop answering. Runs on the control thread; the router's owner adds and removes
 * next hops from its own thread, hence the (uncontended, control-path-only) locking.
 */
final class NeighborResolver implements MessageHandler {
  static final long PROBE_AFTER_NANOS = 60_000_000_000L;
  static final long FORGET_AFTER_NANOS = 120_000_000_000L;

  private record Key(int port, int family, long hi, long lo) {}

  private static final class Neighbor {
    final List<Integer> nextHops = new ArrayList<>();
    long mac = -1;
    long lastSeen;
  }

  private final NextHopTable nextHops;
  private final Supplier<PortTable> ports;
  private final PktMbufPool pool;
  private final LongPredicate send;
  private final Map<Key, Neighbor> neighbors = new HashMap<>();
  private final MbufArray scratch = new MbufArray(Arena.ofAuto(), 1);
  long requestsSent;
  long resolved;

  /**
   * @param send hands a built packet (out port in its port field) to a worker; false if it can't
   */
  NeighborResolver(
      NextHopTable nextHops, Supplier<PortTable> ports, PktMbufPool pool, LongPredicate send) {
    this.nextHops = nextHops;
    this.ports = ports;
    this.pool = pool;
    this.send = send;
  }

  /** Registers a neighbour next hop so that ARP/NDP answers resolve it. */
  synchronized void track(int nextHop, int port, int family, long hi, long lo) {
    Neighbor neighbor =
        neighbors.computeIfAbsent(new Key(port, family, hi, lo), k -> new Neighbor());
    if (!neighbor.nextHops.contains(nextHop)) {
      neighbor.nextHops.add(nextHop);
    }
    if (neighbor.mac >= 0) {
      nextHops.resolve(nextHop, neighbor.mac);
    }
  }

  synchronized void untrack(int nextHop) {
    neighbors.values().forEach(n -> n.nextHops.remove((Integer) nextHop));
  }

  @Override
  public synchronized void onMessage(int type, MutableDirectBuffer buffer, int index, int length) {
    switch (type) {
      case ControlChannel.NEIGHBOR_V4 ->
          learned(
              buffer.getInt(index),
              4,
              0,
              buffer.getInt(index + 4) & 0xFFFF_FFFFL,
              buffer.getLong(index + 8));
      case ControlChannel.NEIGHBOR_V6 ->
          learned(
              buffer.getInt(index),
              6,
              buffer.getLong(index + 4),
              buffer.getLong(index + 12),
              buffer.getLong(index + 20));
      case ControlChannel.RESOLVE -> solicit(buffer.getInt(index));
      default -> {}
    }
  }

  private void learned(int port, int family, long hi, long lo, long mac) {
    Neighbor neighbor = neighbors.get(new Key(port, family, hi, lo));
    if (neighbor == null) {
      return; // not a next hop anyone routes through
    }
    neighbor.lastSeen = System.nanoTime();
    if (neighbor.mac != mac) {
      neighbor.mac = mac;
      for (int nextHop : neighbor.nextHops) {
        nextHops.resolve(nextHop, mac);
        resolved++;
      }
    }
  }

  /** Sends an ARP request or a neighbour solicitation for a next hop's neighbour. */
  synchronized void solicit(int nextHop) {
    if (!nextHops.isLive(nextHop) || nextHops.kind(nextHop) == NextHops.KIND_FORWARD) {
      return;
    }
    int family = nextHops.neighbourFamily(nextHop);
    int port = nextHops.port(nextHop);
    if (family == 4) {
      request(port, 0, nextHops.neighbourIpv4(nextHop) & 0xFFFF_FFFFL, false);
    } else if (family == 6) {
      request(port, nextHops.neighbourIpv6Hi(nextHop), nextHops.neighbourIpv6Lo(nextHop), true);
    }
  }

  private void request(int port, long hi, long lo, boolean ipv6) {
    long mbuf = pool.alloc(scratch);
    if (mbuf == 0) {
      return;
    }
    PortTable table = ports.get();
    long mac = table.mac(port);
    long frame = Mbuf.dataAddress(mbuf);
    int length =
        ipv6
            ? NeighborPackets.solicitation(frame, mac, hi, lo)
            : NeighborPackets.arpRequest(frame, mac, table.ipv4(port), (int) lo);
    Mbuf.setLength(mbuf, length);
    Mbuf.setPort(mbuf, port);
    if (send.test(mbuf)) {
      requestsSent++;
    } else {
      PktMbufPool.freeBulk(scratch.address(), 1);
    }
  }

  /** Re-probes neighbours that went quiet and forgets those that stay quiet. */
  synchronized void age(long now) {
    for (Map.Entry<Key, Neighbor> entry : neighbors.entrySet()) {
      Neighbor neighbor = entry.getValue();
      if (neighbor.mac < 0 || neighbor.nextHops.isEmpty()) {
        continue;
      }
      Key key = entry.getKey();
      if (now - neighbor.lastSeen > FORGET_AFTER_NANOS) {
        neighbor.mac = -1;
        for (int nextHop : neighbor.nextHops) {
          nextHops.unresolve(nextHop);
        }
      } else if (now - neighbor.lastSeen > PROBE_AFTER_NANOS) {
        request(key.port(), key.hi(), key.lo(), key.family() == 6);
      }
    }
  }

  synchronized int size() {
    return neighbors.size();
  }
}
