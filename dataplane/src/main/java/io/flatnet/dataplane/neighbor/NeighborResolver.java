package io.flatnet.dataplane.neighbor;

import io.flatnet.dataplane.ControlChannel;
import io.flatnet.dataplane.PortTable;
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
 * Control path: resolves next hops' MACs. Workers report every ARP/NDP sender they hear (and
 * whether it was an answer to us) and every next hop packets wait for; this keeps one {@link
 * NeighborEntry} per neighbour that a route goes through, installs its MAC in the matching next
 * hops (one atomic store each, which the workers see at once), and sends the ARP requests and
 * neighbour solicitations that resolution and unreachability detection need, through a worker. Runs
 * on the control thread; the router's owner adds and removes next hops from its own thread, hence
 * the (uncontended, control-path-only) locking.
 */
public final class NeighborResolver implements MessageHandler {
  private record Key(int port, int family, long hi, long lo) {}

  private final class Neighbor implements NeighborEntry.Actions {
    final Key key;
    final List<Integer> nextHops = new ArrayList<>();
    final NeighborEntry nud = new NeighborEntry(timers);
    long lastRetry;

    Neighbor(Key key) {
      this.key = key;
    }

    @Override
    public void install(long mac) {
      for (int nextHop : nextHops) {
        NeighborResolver.this.nextHops.resolve(nextHop, mac);
        NeighborResolver.this.nextHops.setDown(nextHop, false); // back in its ECMP groups
        resolved++;
      }
    }

    @Override
    public void withdraw() {
      for (int nextHop : nextHops) {
        NeighborResolver.this.nextHops.unresolve(nextHop);
        // ECMP groups stop sending to it (only its flows move); age() keeps asking for it
        NeighborResolver.this.nextHops.setDown(nextHop, true);
      }
      failed++;
    }

    @Override
    public void probe(long mac) {
      request(key.port(), key.hi(), key.lo(), key.family() == 6, mac);
    }
  }

  private final NextHopTable nextHops;
  private final Supplier<PortTable> ports;
  private final PktMbufPool pool;
  private final LongPredicate send;
  private final NeighborEntry.Timers timers;
  private final Map<Key, Neighbor> neighbors = new HashMap<>();
  private final MbufArray scratch = new MbufArray(Arena.ofAuto(), 1);
  long requestsSent;
  long resolved;
  long failed;

  /**
   * @param send hands a built packet (out port in its port field) to a worker; false if it can't
   */
  public NeighborResolver(
      NextHopTable nextHops,
      Supplier<PortTable> ports,
      PktMbufPool pool,
      LongPredicate send,
      NeighborEntry.Timers timers) {
    this.nextHops = nextHops;
    this.ports = ports;
    this.pool = pool;
    this.send = send;
    this.timers = timers;
  }

  /** Registers a neighbour next hop so that ARP/NDP answers resolve it. */
  public synchronized void track(int nextHop, int port, int family, long hi, long lo) {
    Key key = new Key(port, family, hi, lo);
    Neighbor neighbor = neighbors.computeIfAbsent(key, Neighbor::new);
    if (!neighbor.nextHops.contains(nextHop)) {
      neighbor.nextHops.add(nextHop);
    }
    if (neighbor.nud.mac() >= 0) {
      nextHops.resolve(nextHop, neighbor.nud.mac());
    }
  }

  public synchronized void untrack(int nextHop) {
    neighbors.values().removeIf(n -> n.nextHops.remove((Integer) nextHop) && n.nextHops.isEmpty());
  }

  @Override
  public synchronized void onMessage(int type, MutableDirectBuffer buffer, int index, int length) {
    switch (type) {
      case ControlChannel.NEIGHBOR_V4 ->
          heard(
              buffer.getInt(index),
              4,
              0,
              buffer.getInt(index + 4) & 0xFFFF_FFFFL,
              buffer.getLong(index + 8),
              buffer.getInt(index + 16) != 0);
      case ControlChannel.NEIGHBOR_V6 ->
          heard(
              buffer.getInt(index),
              6,
              buffer.getLong(index + 4),
              buffer.getLong(index + 12),
              buffer.getLong(index + 20),
              buffer.getInt(index + 28) != 0);
      case ControlChannel.RESOLVE -> solicit(buffer.getInt(index));
      default -> {}
    }
  }

  private void heard(int port, int family, long hi, long lo, long mac, boolean confirmed) {
    Neighbor neighbor = neighbors.get(new Key(port, family, hi, lo));
    if (neighbor == null) {
      return; // not a next hop anyone routes through
    }
    neighbor.nud.heard(mac, confirmed, System.nanoTime(), neighbor);
  }

  /** Sends an ARP request or a neighbour solicitation for a next hop's neighbour (multicast). */
  synchronized void solicit(int nextHop) {
    if (!nextHops.isLive(nextHop) || nextHops.kind(nextHop) == NextHops.KIND_FORWARD) {
      return;
    }
    int family = nextHops.neighbourFamily(nextHop);
    int port = nextHops.port(nextHop);
    if (family == 4) {
      request(port, 0, nextHops.neighbourIpv4(nextHop) & 0xFFFF_FFFFL, false, -1);
    } else if (family == 6) {
      request(port, nextHops.neighbourIpv6Hi(nextHop), nextHops.neighbourIpv6Lo(nextHop), true, -1);
    }
  }

  /** An ARP request or solicitation for {@code hi:lo}: to {@code mac}, or multicast if -1. */
  private void request(int port, long hi, long lo, boolean ipv6, long mac) {
    long mbuf = pool.alloc(scratch);
    if (mbuf == 0) {
      return;
    }
    PortTable table = ports.get();
    long portMac = table.mac(port);
    long frame = Mbuf.dataAddress(mbuf);
    int length =
        ipv6
            ? NeighborPackets.solicitation(frame, portMac, hi, lo, mac)
            : NeighborPackets.arpRequest(frame, portMac, table.ipv4(port), (int) lo, mac);
    Mbuf.setLength(mbuf, length);
    Mbuf.setPort(mbuf, port);
    if (send.test(mbuf)) {
      requestsSent++;
    } else {
      PktMbufPool.freeBulk(scratch.address(), 1);
    }
  }

  /**
   * Runs every neighbour's unreachability detection; call at least once per retransmit time. A
   * failed neighbour that ECMP groups skip gets no packets to wait for it, so nothing would ask for
   * it again: it is asked here, by broadcast or multicast, once per retransmit time, and its answer
   * puts it back in its groups.
   */
  public synchronized void age(long now) {
    for (Neighbor neighbor : neighbors.values()) {
      neighbor.nud.tick(now, neighbor);
      if (neighbor.nud.state() == NeighborEntry.State.INCOMPLETE
          && now - neighbor.lastRetry >= timers.retransNanos()
          && skipped(neighbor)) {
        neighbor.lastRetry = now;
        neighbor.probe(-1);
      }
    }
  }

  private boolean skipped(Neighbor neighbor) {
    for (int nextHop : neighbor.nextHops) {
      if (nextHops.isDown(nextHop)) {
        return true;
      }
    }
    return false;
  }

  /** How often {@link #age} should run. */
  public long agingIntervalNanos() {
    return Math.max(1_000_000L, timers.retransNanos() / 4);
  }

  public synchronized List<NeighborView> view(long now) {
    List<NeighborView> out = new ArrayList<>();
    for (Neighbor n : neighbors.values()) {
      out.add(
          new NeighborView(
              n.key.port(),
              n.key.family(),
              n.key.hi(),
              n.key.lo(),
              n.nud.mac(),
              n.nud.state().label,
              now - n.nud.since(),
              n.nud.failures()));
    }
    return out;
  }

  synchronized int size() {
    return neighbors.size();
  }
}
