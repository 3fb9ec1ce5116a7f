package io.flatnet.agent.state;

/** A {@link Plan} stopped at operation {@code index} (== size: the commit failed). */
public final class PlanApplyException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final transient Plan plan;
  private final int index;

  public PlanApplyException(Plan plan, int index, Throwable cause) {
    super(
        "generation "
            + plan.generation()
            + ": "
            + (index < plan.operations().size()
                ? "operation "
                    + (index + 1)
                    + "/"
                    + plan.operations().size()
                    + " failed: "
                    + plan.operations().get(index)
                : "commit failed")
            + ": "
            + cause,
        cause);
    this.plan = plan;
    this.index = index;
  }

  public Plan plan() {
    return plan;
  }

  public int index() {
    return index;
  }
}
