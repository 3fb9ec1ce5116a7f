package io.flatnet.control;

/**
 * A batch of route changes ({@link DataplaneApi#applyRoutes}) that was not applied: change {@link
 * #index()} was refused ({@link #refused()}: the change was wrong, e.g. a port that does not exist)
 * or failed in the dataplane (e.g. a full table). The message names the route and says why. An
 * atomic implementation (the dataplane process) has then applied none of the batch and committed
 * nothing.
 */
public final class RouteBatchException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int index;
  private final boolean refused;

  public RouteBatchException(int index, boolean refused, String message, Throwable cause) {
    super(message, cause);
    this.index = index;
    this.refused = refused;
  }

  /** The failure of change {@code index} ({@code change}), caused by {@code cause}. */
  public static RouteBatchException at(int index, RouteChange change, RuntimeException cause) {
    if (cause instanceof RouteBatchException e) {
      return e;
    }
    return new RouteBatchException(
        index,
        cause instanceof IllegalArgumentException,
        "change " + (index + 1) + " (" + change + "): " + cause.getMessage(),
        cause);
  }

  /** Which change of the batch (from 0); -1 if the batch failed as a whole (the commit). */
  public int index() {
    return index;
  }

  /** True if the change was refused (a wrong request), false if the dataplane failed. */
  public boolean refused() {
    return refused;
  }
}
