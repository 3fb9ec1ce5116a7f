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

  /** The compiled network policy per pod (addresses, isolation, rules) and the policy counters. */
  public static final String SHOW_POLICIES = "show-policies";

  /**
   * One forwarding decision; arguments {@code src}, {@code dst} and optionally {@code inPort},
   * {@code proto} (tcp, udp, sctp, icmp or a number), {@code sport} and {@code dport}. The answer's
   * {@code policy} object gives the network-policy verdict of each side.
   */
  public static final String TRACE = "trace";

  /**
   * Starts a capture or live trace into {@link CaptureFile}; arguments (all optional): {@code
   * pods}, {@code ports} (comma-separated names; none: every port), {@code direction} (rx, tx,
   * both), {@code drops} (true/false), {@code snaplen}, {@code count} (0: until stopped), {@code
   * filter} (a {@link CaptureFilter} expression), {@code trace} (true: a live trace). The answer
   * gives the session id, the ports (id, name) and the drop reasons' labels by ordinal.
   */
  public static final String CAPTURE_START = "capture-start";

  /** Ends capture {@code session}; the answer gives the packets it took. */
  public static final String CAPTURE_STOP = "capture-stop";
}
