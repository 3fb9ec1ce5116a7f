package io.flatnet.agent.state;

import io.flatnet.control.DataplaneApi;
import io.flatnet.control.PodSpec;
import io.flatnet.control.PolicySpec;
import io.flatnet.control.PortSpec;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.State;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * A test double of {@link DataplaneApi}: keeps ports, pods and routes in maps and records every
 * call. It exists only to test the agent's pure-Java logic (diffing, ordering, reconcile, rollback)
 * without DPDK; the real implementation is the router's. It enforces the interface's preconditions
 * (no double add, no remove of what is absent, no route on a missing port) so ordering bugs fail
 * loudly, and can be told to fail a call.
 */
public final class InMemoryDataplane implements DataplaneApi {

  private final Map<String, PortSpec> ports = new TreeMap<>();
  private final Map<String, PodSpec> pods = new TreeMap<>();
  private final Map<String, RouteSpec> routes = new TreeMap<>();
  private final Map<String, PolicySpec> policies = new TreeMap<>();
  private long generation;

  /** Every mutating call, e.g. "addPod default/a", "commit 3". */
  public final List<String> calls = new ArrayList<>();

  /** Calls (by their {@link #calls} text) that throw instead. */
  public Predicate<String> failOn = c -> false;

  private void call(String c) {
    if (failOn.test(c)) {
      throw new IllegalStateException("injected failure: " + c);
    }
    calls.add(c);
  }

  /** If set, it says its last commit without a call, as the real dataplane does in cnc.dat. */
  public boolean publishesCommits;

  /** How often {@link #installed()} was asked. */
  public int installedCalls;

  @Override
  public synchronized State installed() {
    installedCalls++;
    return new State(
        generation,
        new TreeMap<>(ports),
        new TreeMap<>(pods),
        new TreeMap<>(routes),
        new TreeMap<>(policies));
  }

  @Override
  public synchronized long committedGeneration() {
    return publishesCommits && generation > 0 ? generation : -1;
  }

  /** What a restarted dataplane holds: nothing, and no commit yet. */
  public synchronized void restart() {
    ports.clear();
    pods.clear();
    routes.clear();
    policies.clear();
    generation = 0;
  }

  @Override
  public synchronized void addPort(PortSpec port) {
    call("addPort " + port.name());
    if (ports.putIfAbsent(port.name(), port) != null) {
      throw new IllegalStateException("port exists: " + port.name());
    }
  }

  @Override
  public synchronized void removePort(String name) {
    call("removePort " + name);
    if (routes.values().stream().anyMatch(r -> r.port().equals(name))) {
      throw new IllegalStateException("port in use by a route: " + name);
    }
    if (ports.remove(name) == null) {
      throw new IllegalStateException("no port " + name);
    }
  }

  @Override
  public synchronized void addPod(PodSpec pod) {
    call("addPod " + pod.name());
    if (pods.putIfAbsent(pod.name(), pod) != null) {
      throw new IllegalStateException("pod exists: " + pod.name());
    }
    for (PodSpec other : pods.values()) {
      if (other != pod && other.ips().stream().anyMatch(pod.ips()::contains)) {
        throw new IllegalStateException("address held twice: " + pod + " / " + other);
      }
    }
  }

  @Override
  public synchronized void removePod(String name) {
    call("removePod " + name);
    if (pods.remove(name) == null) {
      throw new IllegalStateException("no pod " + name);
    }
  }

  @Override
  public synchronized void addRoute(RouteSpec route) {
    call("addRoute " + route.prefix());
    if (!hasPorts(route)) {
      throw new IllegalStateException("route on a missing port: " + route);
    }
    if (routes.putIfAbsent(route.prefix(), route) != null) {
      throw new IllegalStateException("route exists: " + route.prefix());
    }
  }

  /** Whether the route's port, or every port of an ECMP route's paths, exists. */
  private boolean hasPorts(RouteSpec route) {
    if (route.isMultipath()) {
      return route.paths().stream().allMatch(p -> ports.containsKey(p.port()));
    }
    return ports.containsKey(route.port());
  }

  @Override
  public synchronized void removeRoute(RouteSpec route) {
    call("removeRoute " + route.prefix());
    if (routes.remove(route.prefix()) == null) {
      throw new IllegalStateException("no route " + route.prefix());
    }
  }

  @Override
  public synchronized void replaceRoute(RouteSpec before, RouteSpec after) {
    call("replaceRoute " + after.prefix());
    if (!before.equals(routes.get(before.prefix())) || !hasPorts(after)) {
      throw new IllegalStateException("replace of " + before + " with " + after);
    }
    routes.put(after.prefix(), after);
  }

  @Override
  public synchronized void setPolicy(PolicySpec policy) {
    call("setPolicy " + policy.pod());
    policies.put(policy.pod(), policy);
  }

  @Override
  public synchronized void removePolicy(String pod) {
    call("removePolicy " + pod);
    if (policies.remove(pod) == null) {
      throw new IllegalStateException("no policy for " + pod);
    }
  }

  @Override
  public synchronized void commit(long g) {
    call("commit " + g);
    if (g <= generation) {
      throw new IllegalStateException("generation " + g + " after " + generation);
    }
    generation = g;
  }
}
