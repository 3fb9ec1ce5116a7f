package io.flatnet.control;

/**
 * The read-only views the dataplane answers over the command channel ({@link Records#QUERY}); the
 * agent socket's ops of the same names pass them on, so {@code ctl} and the dataplane agree.
 */
public final class QueryNames {
  private QueryNames() {}

  public static final String SHOW_PORTS = "show-ports";
  public static final String SHOW_PODS = "show-pods";
  public static final String SHOW_ROUTES = "show-routes";
  public static final String SHOW_NEIGHBORS = "show-neighbors";

  /** Each policed pod's compiled rules, and the policy counters. */
  public static final String SHOW_POLICIES = "show-policies";

  /**
   * One forwarding decision; arguments {@code src}, {@code dst} and optionally {@code inPort}, and
   * the flow's {@code proto}, {@code sport} and {@code dport} for the policy verdict.
   */
  public static final String TRACE = "trace";
}
