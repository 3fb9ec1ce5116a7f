package io.flatnet.vhost;

/** A vhost-user port could not be created (nothing of it was left behind) or removed. */
public final class VhostPortException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** What was wrong, for callers and tests; the message says it for people. */
  public enum Problem {
    DUPLICATE,
    BAD_SPEC,
    PATH_TOO_LONG,
    DIRECTORY_MISSING,
    DIRECTORY_OWNER,
    DIRECTORY_MODE,
    NOT_A_SOCKET,
    SOCKET_IN_USE,
    SOCKET_UNCHECKABLE,
    UNKNOWN_GROUP,
    PERMISSIONS,
    NO_HUGEPAGES,
    HUGETLBFS_NOT_MOUNTED,
    DEVICE
  }

  private final Problem problem;

  public VhostPortException(Problem problem, String message) {
    super(message);
    this.problem = problem;
  }

  public VhostPortException(Problem problem, String message, Throwable cause) {
    super(message, cause);
    this.problem = problem;
  }

  public Problem problem() {
    return problem;
  }
}
