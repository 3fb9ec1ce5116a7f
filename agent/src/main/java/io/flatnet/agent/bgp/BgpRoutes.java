package io.flatnet.agent.bgp;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The routes and next-hop objects zebra has sent over FPM, as zebra sees them (not yet checked
 * against the node config: {@link BgpRouteSpecs} does that). Thread-safe; {@code onChange} runs
 * after every change, on the thread that made it, outside this table's lock.
 *
 * <p>Connections: every connection is an epoch. zebra sends its whole table when it connects, so
 * {@link #beginEpoch()} marks what is held as "from an earlier connection" without dropping it
 * (forwarding goes on while zebra re-sends), and {@link #endResync()} drops what was not re-sent.
 * {@link FpmServer} decides when (a quiet period after the connection's first burst). Messages of a
 * connection that has been replaced are ignored.
 */
public final class BgpRoutes {

  /** What zebra has sent: its routes (by table and prefix) and next-hop objects (by id). */
  public record Snapshot(
      List<FpmMessage.Route> routes, Map<Long, FpmMessage.Nexthop> nexthops, long epoch) {
    public static final Snapshot EMPTY = new Snapshot(List.of(), Map.of(), 0);

    public Snapshot {
      routes = List.copyOf(routes);
      nexthops = Map.copyOf(nexthops);
    }
  }

  private record Held<T>(T message, long epoch) {}

  private final Runnable onChange;
  private final Map<String, Held<FpmMessage.Route>> routes = new LinkedHashMap<>();
  private final Map<Long, Held<FpmMessage.Nexthop>> nexthops = new HashMap<>();
  private long epoch;
  private boolean synced;

  public BgpRoutes(Runnable onChange) {
    this.onChange = onChange;
  }

  /** A new connection starts: its messages count from now; what is held stays until resync. */
  public long beginEpoch() {
    synchronized (this) {
      return ++epoch;
    }
  }

  /** The current connection's epoch. */
  public synchronized long epoch() {
    return epoch;
  }

  /**
   * Takes {@code messages} of the connection of {@code connectionEpoch} (ignored if a newer one has
   * begun).
   *
   * @return whether anything changed
   */
  public boolean apply(long connectionEpoch, List<FpmMessage> messages) {
    boolean changed = false;
    synchronized (this) {
      if (connectionEpoch != epoch) {
        return false;
      }
      for (FpmMessage m : messages) {
        changed |= applyOne(m);
      }
    }
    if (changed) {
      onChange.run();
    }
    return changed;
  }

  private boolean applyOne(FpmMessage message) {
    switch (message) {
      case FpmMessage.Route r -> {
        String key = r.table() + " " + r.prefix();
        if (r.delete()) {
          return routes.remove(key) != null;
        }
        Held<FpmMessage.Route> before = routes.put(key, new Held<>(r, epoch));
        return before == null || !before.message().equals(r);
      }
      case FpmMessage.Nexthop n -> {
        if (n.delete()) {
          return nexthops.remove(n.id()) != null;
        }
        Held<FpmMessage.Nexthop> before = nexthops.put(n.id(), new Held<>(n, epoch));
        return before == null || !before.message().equals(n);
      }
      case FpmMessage.Skipped s -> {
        return false;
      }
    }
  }

  /**
   * The current connection has re-sent its table: drops what earlier connections sent and it did
   * not.
   *
   * @return how many routes were dropped
   */
  public int endResync(long connectionEpoch) {
    int dropped;
    synchronized (this) {
      if (connectionEpoch != epoch) {
        return 0;
      }
      int before = routes.size() + nexthops.size();
      int routesBefore = routes.size();
      routes.values().removeIf(h -> h.epoch() < connectionEpoch);
      nexthops.values().removeIf(h -> h.epoch() < connectionEpoch);
      dropped = routesBefore - routes.size();
      boolean first = !synced;
      synced = true;
      if (before == routes.size() + nexthops.size() && !first) {
        return 0;
      }
    }
    onChange.run();
    return dropped;
  }

  /** Whether a connection has re-sent zebra's whole table since this table was made. */
  public synchronized boolean synced() {
    return synced;
  }

  /**
   * Forgets everything (zebra has been away too long, or BGP was turned off).
   *
   * @return how many routes were dropped
   */
  public int clear() {
    int dropped;
    synchronized (this) {
      dropped = routes.size();
      if (routes.isEmpty() && nexthops.isEmpty()) {
        return 0;
      }
      routes.clear();
      nexthops.clear();
    }
    onChange.run();
    return dropped;
  }

  public synchronized Snapshot snapshot() {
    List<FpmMessage.Route> r = new ArrayList<>();
    routes.values().forEach(h -> r.add(h.message()));
    Map<Long, FpmMessage.Nexthop> n = new HashMap<>();
    nexthops.forEach((id, h) -> n.put(id, h.message()));
    return new Snapshot(r, n, epoch);
  }
}
