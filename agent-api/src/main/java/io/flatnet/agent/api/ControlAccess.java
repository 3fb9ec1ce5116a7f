package io.flatnet.agent.api;

import java.util.List;
import java.util.Set;
import java.util.function.IntPredicate;
import java.util.function.Supplier;

/**
 * Who may do what on the control socket. Reaching the socket at all needs its group (mode 0660);
 * among those, anyone may read (show, trace, node-info, pod-check), but only root and the
 * configured writers may change the router (pod-add/del, route-add/del, and any op not known to be
 * read-only, so a new op is closed until it is listed here).
 */
public final class ControlAccess {

  /** Ops that change nothing. */
  public static final Set<String> READ_ONLY_OPS =
      Set.of(
          AgentProtocol.SHOW_PORTS,
          AgentProtocol.SHOW_PODS,
          AgentProtocol.SHOW_ROUTES,
          AgentProtocol.SHOW_NEIGHBORS,
          AgentProtocol.TRACE,
          AgentProtocol.NODE_INFO,
          AgentProtocol.POD_CHECK);

  /** Only root writes. */
  public static final IntPredicate ROOT_ONLY = uid -> false;

  /** The uid we use when the peer's credentials cannot be read: it may only read. */
  public static final int UNKNOWN_UID = -1;

  private ControlAccess() {}

  /**
   * The writers named by {@code users} (names or uids, as in the config's agent.writers), asked
   * anew per request so that a reload takes effect and a user created later is found.
   */
  public static IntPredicate writers(Supplier<List<String>> users) {
    return uid ->
        users.get().stream()
            .map(UnixUsers::uid)
            .anyMatch(u -> u.isPresent() && u.getAsInt() == uid);
  }

  public static boolean isReadOnly(String op) {
    return op != null && READ_ONLY_OPS.contains(op);
  }

  /**
   * Null if {@code uid} may run {@code op}, else why not (sent back to the client as the error).
   *
   * @param writers the non-root uids that may change the router
   */
  public static String refusal(String op, int uid, IntPredicate writers) {
    if (isReadOnly(op) || uid == 0 || (uid != UNKNOWN_UID && writers.test(uid))) {
      return null;
    }
    String who = uid == UNKNOWN_UID ? "a client whose uid could not be read" : "uid " + uid;
    return "permission denied: "
        + who
        + " may not run "
        + op
        + " (it changes the router: only root and the uids in agent.writers may; read-only"
        + " commands such as show and trace are open to the socket's group)";
  }
}
