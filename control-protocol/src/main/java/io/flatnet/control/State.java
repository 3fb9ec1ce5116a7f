package io.flatnet.control;

import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A complete dataplane state: ports, pods, routes and pods' compiled policies by key, plus the
 * generation that produced it (0 for a state nothing has applied yet). Used for what the agent
 * wants (desired) and for what the dataplane has (installed). {@link #sameSpecs} compares contents
 * without the generation.
 */
public record State(
    long generation,
    SortedMap<String, PortSpec> ports,
    SortedMap<String, PodSpec> pods,
    SortedMap<String, RouteSpec> routes,
    SortedMap<String, PolicySpec> policies) {

  public static final State EMPTY = of(0, List.of(), List.of(), List.of());

  public State {
    ports = Collections.unmodifiableSortedMap(new TreeMap<>(ports));
    pods = Collections.unmodifiableSortedMap(new TreeMap<>(pods));
    routes = Collections.unmodifiableSortedMap(new TreeMap<>(routes));
    policies = Collections.unmodifiableSortedMap(new TreeMap<>(policies));
  }

  /** A state without policies. */
  public State(
      long generation,
      SortedMap<String, PortSpec> ports,
      SortedMap<String, PodSpec> pods,
      SortedMap<String, RouteSpec> routes) {
    this(generation, ports, pods, routes, new TreeMap<>());
  }

  /**
   * @throws IllegalArgumentException on two specs with the same key
   */
  public static State of(
      long generation,
      Collection<PortSpec> ports,
      Collection<PodSpec> pods,
      Collection<RouteSpec> routes) {
    return of(generation, ports, pods, routes, List.of());
  }

  /**
   * @throws IllegalArgumentException on two specs with the same key
   */
  public static State of(
      long generation,
      Collection<PortSpec> ports,
      Collection<PodSpec> pods,
      Collection<RouteSpec> routes,
      Collection<PolicySpec> policies) {
    return new State(generation, byKey(ports), byKey(pods), byKey(routes), byKey(policies));
  }

  private static <T extends Spec> SortedMap<String, T> byKey(Collection<T> specs) {
    SortedMap<String, T> m = new TreeMap<>();
    for (T s : specs) {
      if (m.put(s.key(), s) != null) {
        throw new IllegalArgumentException("duplicate " + s.resource() + " " + s.key());
      }
    }
    return m;
  }

  /** True when both hold the same specs, whatever their generations. */
  public boolean sameSpecs(State o) {
    return ports.equals(o.ports)
        && pods.equals(o.pods)
        && routes.equals(o.routes)
        && policies.equals(o.policies);
  }

  /** This state with another generation number. */
  public State withGeneration(long g) {
    return new State(g, ports, pods, routes, policies);
  }
}
