package io.flatnet.control;

/**
 * What the agent drives: the router's control surface, implemented over the real dataplane.
 *
 * <p>The agent calls it from one thread at a time. A {@link Plan} is applied as a sequence of
 * add/remove calls followed by {@link #commit(long)}: an implementation may stage the changes and
 * publish them at {@code commit} (e.g. one {@code RouteBatch}), or apply each call at once. Calls
 * are made in the plan's order (routes removed before the pods and ports they use, ports and pods
 * added before the routes that use them).
 *
 * <p>A call that fails throws (any {@link RuntimeException}); the agent then stops the plan, reads
 * {@link #installed()} and tries to restore its last good state. So {@link #installed()} must
 * always tell the truth, including after a partial plan and after an agent restart (the agent
 * reconciles by diffing against it, so a restart with an unchanged config changes nothing).
 */
public interface DataplaneApi {

  /** What the dataplane has now, with the generation of the last {@link #commit}. */
  State installed();

  /**
   * The generation the dataplane last committed, read without a call, or -1 if it cannot be told
   * (no live dataplane, a restarted one, or an implementation that does not say). A client that
   * committed generation G with state S may plan against S while this says G, instead of asking
   * {@link #installed()} each time: the dataplane still holds S.
   */
  default long committedGeneration() {
    return -1;
  }

  /** Adds a port (a DPDK device). Its name is not in use. */
  void addPort(PortSpec port);

  /** Removes a port; no route uses it any more. */
  void removePort(String name);

  /**
   * Attaches a pod: creates its port (vhost-user socket, tap, or af_packet on the host interface;
   * for kind bridge none: it is reached through the router's one port on the pod bridge), routes
   * its addresses (/32, /128) to it and answers ARP/NDP for its gateways. Its name is not in use.
   */
  void addPod(PodSpec pod);

  /** Detaches a pod and removes its host routes. */
  void removePod(String name);

  /** Adds a route; its prefix is not routed yet. */
  void addRoute(RouteSpec route);

  /** Removes a route (identified by its prefix; {@code route} is what was installed). */
  void removeRoute(RouteSpec route);

  /**
   * Changes the next hop or port of a routed prefix. The default removes and re-adds; an
   * implementation that can replace in place (no window without the route) should override.
   */
  default void replaceRoute(RouteSpec before, RouteSpec after) {
    removeRoute(before);
    addRoute(after);
  }

  /**
   * Applies a batch of route changes in order and, if {@code generation} is not negative, commits
   * that generation with them: one call for what {@link #addRoute}, {@link #removeRoute} and {@link
   * #replaceRoute} do one at a time. The dataplane process applies a batch atomically: all of it or
   * none of it (as {@link #installed()} reports), publishing the FIB changes once; a change it
   * refuses or fails on is reported as a {@link RouteBatchException} naming the change, and then
   * nothing of the batch is applied and nothing is committed. This default applies the changes one
   * at a time, so a failure leaves the changes before it applied.
   *
   * @throws RouteBatchException naming the change that failed
   */
  default void applyRoutes(java.util.List<RouteChange> changes, long generation) {
    for (int i = 0; i < changes.size(); i++) {
      try {
        changes.get(i).applyTo(this);
      } catch (RuntimeException e) {
        throw RouteBatchException.at(i, changes.get(i), e);
      }
    }
    if (generation >= 0) {
      try {
        commit(generation);
      } catch (RuntimeException e) {
        throw new RouteBatchException(
            -1, e instanceof IllegalArgumentException, "commit failed: " + e.getMessage(), e);
      }
    }
  }

  /**
   * Sets a pod's compiled network policy, replacing the one it had. The change may be staged until
   * {@link #commit}, but never later than the next {@link #addPod}, so a new pod never forwards
   * before the policy planned for it.
   */
  void setPolicy(PolicySpec policy);

  /** Removes a pod's policy (the pod is open again, or gone). */
  void removePolicy(String pod);

  /**
   * What is wrong with an installed pod in the live dataplane, beyond its spec (its port gone or
   * down, an address not routed to it), one sentence each; empty if nothing is. For CNI CHECK. The
   * default finds nothing.
   */
  default java.util.List<String> podProblems(String name) {
    return java.util.List.of();
  }

  /**
   * Ends a plan: publishes staged changes and records {@code generation}, which later {@link
   * #installed()} calls return. Generations only grow.
   */
  void commit(long generation);
}
