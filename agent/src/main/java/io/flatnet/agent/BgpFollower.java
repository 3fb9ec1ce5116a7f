package io.flatnet.agent;

import io.flatnet.agent.bgp.BgpRouteSpecs;
import io.flatnet.agent.bgp.BgpRoutes;
import io.flatnet.agent.bgp.FpmServer;
import io.flatnet.agent.config.BgpConfig;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.State;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The agent's BGP route source: runs the {@link FpmServer} while the config has a {@code bgp}
 * section (and moves it when {@code bgp.fpm} changes), gathers zebra's changes into one refresh
 * ({@code debounce} after the first of a burst), and converts zebra's routes for a config ({@link
 * BgpRouteSpecs}), logging the outcome when it changes. Thread-safe: zebra's changes arrive on the
 * server's threads; the {@link Agent} calls the rest under its monitor.
 */
final class BgpFollower {

  private static final System.Logger LOG = System.getLogger(Agent.class.getName());

  private final Duration debounce;
  private final Runnable refresh;
  private final BgpRoutes routes;
  private final ScheduledExecutorService timer;
  private FpmServer server;
  private BgpConfig.FpmConfig listening;
  private ScheduledFuture<?> refreshDue;
  private String lastSummary;
  private List<String> lastShadowed = List.of();

  /**
   * BGP routes the dataplane held when the agent started (a restarted agent): kept until zebra has
   * re-sent its table, or {@link FpmServer#DEFAULT_STALE_HOLD} if it never does, so an agent
   * restart does not drop them meanwhile.
   */
  private List<RouteSpec> inherited = List.of();

  private boolean closed;

  /**
   * @param refresh applies zebra's routes (the agent's, under its monitor)
   */
  BgpFollower(Duration debounce, Runnable refresh) {
    this.debounce = debounce;
    this.refresh = refresh;
    this.routes = new BgpRoutes(this::changed);
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "flatnet-agent-bgp");
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Follows {@code config}'s {@code bgp} section: starts the FPM server, moves it to a new address,
   * or stops it and forgets zebra's routes when the section is gone. A server that cannot listen is
   * logged; the agent goes on without BGP routes (the next reload tries again).
   */
  synchronized void follow(NodeConfig config) {
    if (closed) {
      return;
    }
    BgpConfig.FpmConfig want = config.bgpEnabled() ? config.bgp().fpm() : null;
    if (Objects.equals(want, listening) && (want == null || server != null)) {
      return;
    }
    stopServer();
    if (want == null) {
      inherited = List.of();
      if (routes.clear() > 0) {
        LOG.log(System.Logger.Level.INFO, "bgp: off; zebra's routes are dropped");
      }
      lastSummary = null;
      return;
    }
    try {
      FpmServer s =
          new FpmServer(
              new InetSocketAddress(InetAddress.getByName(want.address()), want.port()), routes);
      s.start();
      server = s;
      listening = want;
    } catch (IOException e) {
      LOG.log(
          System.Logger.Level.ERROR,
          "bgp: "
              + e.getMessage()
              + (e.getCause() == null ? "" : ": " + e.getCause().getMessage())
              + "; no routes from zebra until the next reload");
    }
  }

  /**
   * Keeps {@code installedBgpRoutes} (the dataplane's routes of origin bgp at start) in use until
   * zebra has re-sent its table, for at most {@link FpmServer#DEFAULT_STALE_HOLD}.
   */
  synchronized void inherit(List<RouteSpec> installedBgpRoutes) {
    if (installedBgpRoutes.isEmpty() || closed) {
      return;
    }
    inherited = List.copyOf(installedBgpRoutes);
    LOG.log(
        System.Logger.Level.INFO,
        "bgp: keeping the dataplane's "
            + inherited.size()
            + " routes from zebra until zebra re-sends its table");
    timer.schedule(
        () -> {
          synchronized (this) {
            if (inherited.isEmpty()) {
              return;
            }
            inherited = List.of();
            LOG.log(
                System.Logger.Level.WARNING,
                "bgp: zebra has not sent its table within "
                    + FpmServer.DEFAULT_STALE_HOLD.toSeconds()
                    + " s of the agent's start; dropping the routes kept from before");
          }
          changed();
        },
        FpmServer.DEFAULT_STALE_HOLD.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  /** Where the FPM server listens (the real port), or null when it does not. */
  synchronized InetSocketAddress listening() {
    return server == null ? null : server.boundAddress();
  }

  /** Whether zebra is connected now. */
  synchronized boolean zebraConnected() {
    return server != null && server.connected();
  }

  /**
   * zebra's routes for {@code config}, before precedence; none when it has no {@code bgp} section.
   * Logs the outcome when it changes.
   */
  synchronized List<RouteSpec> routesFor(NodeConfig config) {
    if (!config.bgpEnabled()) {
      return List.of();
    }
    BgpRouteSpecs.Result r = BgpRouteSpecs.convert(config, routes.snapshot());
    if (!inherited.isEmpty() && routes.synced()) {
      inherited = List.of(); // zebra has re-sent its table: it alone counts now
    }
    List<RouteSpec> use = new ArrayList<>(r.routes());
    String summary = r.summary();
    if (!inherited.isEmpty()) {
      Set<String> sent = new HashSet<>();
      r.routes().forEach(route -> sent.add(route.prefix()));
      Set<String> uplinks = new HashSet<>();
      config.ports().stream()
          .filter(p -> "uplink".equals(p.role()))
          .forEach(p -> uplinks.add(p.name()));
      int kept = 0;
      for (RouteSpec old : inherited) {
        boolean portsLeft =
            old.effectivePaths().stream().allMatch(path -> uplinks.contains(path.port()));
        if (portsLeft && sent.add(old.prefix())) {
          use.add(old);
          kept++;
        }
      }
      summary += ", " + kept + " kept from before the agent restarted until zebra re-sends them";
    }
    if (!summary.equals(lastSummary)) {
      lastSummary = summary;
      System.Logger.Level level =
          r.leftOut().isEmpty() ? System.Logger.Level.INFO : System.Logger.Level.WARNING;
      LOG.log(level, "flatnet agent: bgp: " + summary);
    }
    return List.copyOf(use);
  }

  /**
   * Logs the BGP routes that {@code desired} does not use because another source has the prefix.
   */
  synchronized void reportShadowed(List<RouteSpec> offered, State desired) {
    List<String> shadowed =
        offered.stream()
            .filter(
                r -> {
                  RouteSpec used = desired.routes().get(r.prefix());
                  return used != null && !RouteSpec.ORIGIN_BGP.equals(used.origin());
                })
            .map(r -> r.prefix() + " (given by " + desired.routes().get(r.prefix()).origin() + ")")
            .toList();
    if (!shadowed.equals(lastShadowed)) {
      lastShadowed = shadowed;
      if (!shadowed.isEmpty()) {
        LOG.log(
            System.Logger.Level.INFO,
            "flatnet agent: bgp: routes from zebra not used, another source has the prefix: "
                + String.join(", ", shadowed));
      }
    }
  }

  /** zebra changed something: schedules a refresh unless one is due. */
  private synchronized void changed() {
    if (closed || refreshDue != null) {
      return;
    }
    refreshDue = timer.schedule(this::refreshSafely, debounce.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** A refresh that cannot end the follower: a bug is logged, the next change tries again. */
  private void refreshSafely() {
    try {
      refresh.run();
    } catch (RuntimeException e) {
      synchronized (this) {
        refreshDue = null;
      }
      LOG.log(System.Logger.Level.ERROR, "bgp: applying zebra's routes failed", e);
    }
  }

  /** A refresh runs now: later changes schedule another. */
  synchronized void refreshing() {
    refreshDue = null;
  }

  synchronized void close() {
    closed = true;
    stopServer();
    timer.shutdownNow();
  }

  private void stopServer() {
    if (server != null) {
      server.close();
      server = null;
      LOG.log(System.Logger.Level.INFO, "bgp: stopped listening for zebra");
    }
    listening = null;
  }
}
