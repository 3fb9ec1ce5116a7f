package io.flatnet.agent;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.config.ConfigError;
import io.flatnet.agent.config.ConfigValidator;
import io.flatnet.agent.config.IpNet;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.config.RouteConfig;
import io.flatnet.agent.state.DesiredState;
import io.flatnet.control.State;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The routes added at run time (ctl route add/del): validated with the config in effect, applied,
 * and kept in {@code <stateDir>/routes.json} across restarts (written only once applied). Not
 * thread-safe: the {@link Agent} serialises.
 */
final class RuntimeRoutes {

  private static final ObjectMapper JSON =
      JsonMapper.builder().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

  private final Path file;
  private final Path configFile;
  private final EffectiveConfig config;
  private final RuntimePods pods;
  private final ConfigValidator validator;
  private final Reconciler reconciler;

  RuntimeRoutes(
      Path stateDir,
      Path configFile,
      EffectiveConfig config,
      RuntimePods pods,
      ConfigValidator validator,
      Reconciler reconciler) {
    this.file = file(stateDir);
    this.configFile = configFile;
    this.config = config;
    this.pods = pods;
    this.validator = validator;
    this.reconciler = reconciler;
  }

  /**
   * The routes kept in {@code stateDir} (none if there is no file).
   *
   * @throws IOException if the file cannot be read
   */
  static List<RouteConfig> load(Path stateDir) throws IOException {
    Path f = file(stateDir);
    return Files.exists(f) ? List.of(JSON.readValue(f.toFile(), RouteConfig[].class)) : List.of();
  }

  private static Path file(Path stateDir) {
    return stateDir.resolve("routes.json");
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
    List<RouteConfig> candidate = new ArrayList<>(config.runtimeRoutes());
    List<Integer> folded = new ArrayList<>();
    for (int i = 0; i < requests.size(); i++) {
      AgentProtocol.Request r = requests.get(i);
      AgentProtocol.Response early =
          AgentProtocol.ROUTE_ADD.equals(r.op()) ? foldAdd(r, candidate) : foldDel(r, candidate);
      if (early != null) {
        answers[i] = early;
      } else {
        folded.add(i);
      }
    }
    if (!folded.isEmpty()) {
      String op =
          folded.size() == 1 ? requests.get(folded.get(0)).op() : folded.size() + " route requests";
      AgentProtocol.Response together = change(op, candidate);
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
  private AgentProtocol.Response foldAdd(AgentProtocol.Request r, List<RouteConfig> candidate) {
    if (!config.hasFile()) {
      return AgentProtocol.Response.retryLater("the agent has no valid node config yet");
    }
    if (r.prefix() == null || r.port() == null) {
      return AgentProtocol.Response.failure("route-add: prefix and port are required");
    }
    candidate.removeIf(route -> samePrefix(route.prefix(), r.prefix()));
    candidate.add(new RouteConfig(r.prefix().trim(), r.via(), r.port()));
    return null;
  }

  /** Folds a route-del into {@code candidate}; a response if it is answered without a change. */
  private AgentProtocol.Response foldDel(AgentProtocol.Request r, List<RouteConfig> candidate) {
    if (!config.hasFile()) {
      return AgentProtocol.Response.retryLater("the agent has no valid node config yet");
    }
    if (r.prefix() == null) {
      return AgentProtocol.Response.failure("route-del: prefix is required");
    }
    if (!candidate.removeIf(route -> samePrefix(route.prefix(), r.prefix()))) {
      boolean configured =
          config.file().routes().stream().anyMatch(route -> samePrefix(route.prefix(), r.prefix()));
      return configured
          ? AgentProtocol.Response.failure(
              "route-del: " + r.prefix() + " is defined in " + configFile + "; remove it there")
          : AgentProtocol.Response.success(); // unknown: already gone
    }
    return null;
  }

  private static boolean samePrefix(String a, String b) {
    try {
      return IpNet.parse(a.trim()).equals(IpNet.parse(b.trim()));
    } catch (IllegalArgumentException e) {
      return a.trim().equals(b.trim());
    }
  }

  /** Validates, applies and persists {@code candidate} as the runtime routes. */
  private AgentProtocol.Response change(String op, List<RouteConfig> candidate) {
    NodeConfig effective = config.withRoutes(candidate);
    List<ConfigError> errors = validator.validate(effective, pods.configs());
    if (!errors.isEmpty()) {
      return AgentProtocol.Response.failure(op + ": " + config.describe(errors));
    }
    State desired = DesiredState.from(effective, pods.configs(), config.bgpRoutes());
    ApplyResult result = reconciler.record(reconciler.apply(desired));
    if (result instanceof ApplyResult.Failed f) {
      return AgentProtocol.Response.failure(op + ": " + f.error());
    }
    try {
      Path tmp = file.resolveSibling("routes.json.tmp");
      JSON.writeValue(tmp.toFile(), candidate);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      return AgentProtocol.Response.failure(op + ": cannot persist the routes: " + e);
    }
    config.useRuntimeRoutes(candidate);
    reconciler.accept(desired);
    return AgentProtocol.Response.success();
  }
}
