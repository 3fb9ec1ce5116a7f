package io.flatnet.agent;

import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.config.ConfigError;
import io.flatnet.agent.config.ConfigValidator;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.config.RouteConfig;
import io.flatnet.agent.state.DesiredState;
import io.flatnet.agent.state.RuntimeRouteStore;
import io.flatnet.control.State;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The routes added at run time (ctl route add/del): validated with the config in effect, applied,
 * and kept in the state directory across restarts ({@link RuntimeRouteStore}, written only once
 * applied). Not thread-safe: the {@link Agent} serialises.
 *
 * <p>A change alone is logged with its plan; changes that follow within {@link #LOG_EVERY_NANOS} of
 * the last one logged are counted and summed up in one line with the next one logged (each plan at
 * DEBUG): an automation making a thousand changes a second would otherwise write a thousand log
 * lines a second, each a stack walk and a write (0.2 ms of CPU here).
 */
final class RuntimeRoutes {

  static final long LOG_EVERY_NANOS = 10_000_000_000L;

  private static final System.Logger LOG = System.getLogger(Agent.class.getName());

  private final RuntimeRouteStore store;
  private final Path configFile;
  private final EffectiveConfig config;
  private final RuntimePods pods;
  private final ConfigValidator validator;
  private final Reconciler reconciler;

  private long lastLogged = System.nanoTime() - LOG_EVERY_NANOS;
  private long unlogged; // changes applied since the last one logged at INFO

  RuntimeRoutes(
      Path stateDir,
      Path configFile,
      EffectiveConfig config,
      RuntimePods pods,
      ConfigValidator validator,
      Reconciler reconciler)
      throws IOException {
    this.store = RuntimeRouteStore.open(stateDir);
    this.configFile = configFile;
    this.config = config;
    this.pods = pods;
    this.validator = validator;
    this.reconciler = reconciler;
  }

  /**
   * The routes kept in {@code stateDir} (none if nothing is kept).
   *
   * @throws IOException if the files cannot be read
   */
  static List<RouteConfig> load(Path stateDir) throws IOException {
    return RuntimeRouteStore.load(stateDir);
  }

  /**
   * At a clean stop: the journal folded into the snapshot, so that the state directory holds one
   * file that any version of the agent reads. A failure is logged; the journal still holds it all.
   */
  void close() {
    logUnlogged();
    try {
      store.compact(config.runtimeRoutes());
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "runtime routes: journal not folded at stop: " + e);
    }
  }

  private void logUnlogged() {
    if (unlogged > 0) {
      long skipped = unlogged;
      LOG.log(
          System.Logger.Level.INFO,
          () ->
              "runtime routes: "
                  + skipped
                  + " more changes applied since the last one logged (each at DEBUG)");
      unlogged = 0;
    }
  }

  AgentProtocol.Response add(AgentProtocol.Request r) {
    return apply(List.of(r)).get(0);
  }

  AgentProtocol.Response del(AgentProtocol.Request r) {
    return apply(List.of(r)).get(0);
  }

  /**
   * Applies route requests (add or del) received together as one change: each is checked and folded
   * into the runtime routes in order; the result is validated, applied as one plan and persisted
   * once, and every request that got that far is answered with its outcome. If the combined change
   * is refused or fails, each request is applied alone instead, so one bad request answers for
   * itself only. (Requests that come while a change is applied are gathered for the next: {@link
   * Agent#handle}.)
   */
  List<AgentProtocol.Response> apply(List<AgentProtocol.Request> requests) {
    AgentProtocol.Response[] answers = new AgentProtocol.Response[requests.size()];
    Map<Object, RouteConfig> candidate = RuntimeRouteStore.byNetwork(config.runtimeRoutes());
    List<Integer> folded = new ArrayList<>();
    List<RuntimeRouteStore.Change> changes = new ArrayList<>();
    for (int i = 0; i < requests.size(); i++) {
      AgentProtocol.Request r = requests.get(i);
      AgentProtocol.Response early =
          AgentProtocol.ROUTE_ADD.equals(r.op())
              ? foldAdd(r, candidate, changes)
              : foldDel(r, candidate, changes);
      if (early != null) {
        answers[i] = early;
      } else {
        folded.add(i);
      }
    }
    if (!folded.isEmpty()) {
      String op =
          folded.size() == 1 ? requests.get(folded.get(0)).op() : folded.size() + " route requests";
      AgentProtocol.Response together = change(op, new ArrayList<>(candidate.values()), changes);
      if (together.ok() || folded.size() == 1) {
        for (int i : folded) {
          answers[i] = together;
        }
      } else {
        for (int i : folded) { // one at a time: each answers for itself
          answers[i] = apply(List.of(requests.get(i))).get(0);
        }
      }
    }
    return List.of(answers);
  }

  /** Folds a route-add into {@code candidate}; a response if it is answered without a change. */
  private AgentProtocol.Response foldAdd(
      AgentProtocol.Request r,
      Map<Object, RouteConfig> candidate,
      List<RuntimeRouteStore.Change> changes) {
    if (!config.hasFile()) {
      return AgentProtocol.Response.retryLater("the agent has no valid node config yet");
    }
    if (r.prefix() == null || r.port() == null) {
      return AgentProtocol.Response.failure("route-add: prefix and port are required");
    }
    RuntimeRouteStore.Change change =
        RuntimeRouteStore.Change.add(new RouteConfig(r.prefix().trim(), r.via(), r.port()));
    RuntimeRouteStore.apply(candidate, change);
    changes.add(change);
    return null;
  }

  /** Folds a route-del into {@code candidate}; a response if it is answered without a change. */
  private AgentProtocol.Response foldDel(
      AgentProtocol.Request r,
      Map<Object, RouteConfig> candidate,
      List<RuntimeRouteStore.Change> changes) {
    if (!config.hasFile()) {
      return AgentProtocol.Response.retryLater("the agent has no valid node config yet");
    }
    if (r.prefix() == null) {
      return AgentProtocol.Response.failure("route-del: prefix is required");
    }
    if (!candidate.containsKey(RuntimeRouteStore.networkKey(r.prefix()))) {
      boolean configured =
          config.file().routes().stream().anyMatch(route -> samePrefix(route.prefix(), r.prefix()));
      return configured
          ? AgentProtocol.Response.failure(
              "route-del: " + r.prefix() + " is defined in " + configFile + "; remove it there")
          : AgentProtocol.Response.success(); // unknown: already gone
    }
    RuntimeRouteStore.Change change = RuntimeRouteStore.Change.remove(r.prefix().trim());
    RuntimeRouteStore.apply(candidate, change);
    changes.add(change);
    return null;
  }

  private static boolean samePrefix(String a, String b) {
    return RuntimeRouteStore.samePrefix(a, b);
  }

  /**
   * Validates, applies and keeps {@code candidate} as the runtime routes ({@code changes}: how it
   * differs from the routes in effect).
   */
  private AgentProtocol.Response change(
      String op, List<RouteConfig> candidate, List<RuntimeRouteStore.Change> changes) {
    NodeConfig effective = config.withRoutes(candidate);
    List<ConfigError> errors = validator.validate(effective, pods.configs());
    if (!errors.isEmpty()) {
      return AgentProtocol.Response.failure(op + ": " + config.describe(errors));
    }
    State desired = DesiredState.from(effective, pods.configs(), config.bgpRoutes());
    long now = System.nanoTime();
    boolean logThis = now - lastLogged >= LOG_EVERY_NANOS;
    if (logThis) {
      logUnlogged();
      lastLogged = now;
    }
    ApplyResult result =
        reconciler.record(
            reconciler.apply(
                desired, logThis ? System.Logger.Level.INFO : System.Logger.Level.DEBUG));
    if (result instanceof ApplyResult.Failed f) {
      return AgentProtocol.Response.failure(op + ": " + f.error());
    }
    if (!logThis) {
      unlogged += changes.size();
    }
    try {
      store.record(changes, candidate);
    } catch (IOException e) {
      return AgentProtocol.Response.failure(op + ": cannot persist the routes: " + e);
    }
    config.useRuntimeRoutes(candidate);
    reconciler.accept(desired);
    return AgentProtocol.Response.success();
  }
}
