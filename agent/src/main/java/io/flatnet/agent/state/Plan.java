package io.flatnet.agent.state;

import io.flatnet.control.DataplaneApi;
import java.util.List;

/**
 * The operations that turn the installed state into the desired one, as generation {@code
 * generation}. Made by {@link Planner}; empty when the two are equal.
 */
public record Plan(long generation, List<Operation> operations) {

  public Plan {
    operations = List.copyOf(operations);
  }

  public boolean isEmpty() {
    return operations.isEmpty();
  }

  /**
   * Applies every operation in order, then {@link DataplaneApi#commit commits} the generation.
   *
   * @throws PlanApplyException naming the operation that failed (operations before it were applied,
   *     the generation was not committed)
   */
  public void applyTo(DataplaneApi dp) {
    for (int i = 0; i < operations.size(); i++) {
      Operation op = operations.get(i);
      try {
        op.applyTo(dp);
      } catch (RuntimeException e) {
        throw new PlanApplyException(this, i, e);
      }
    }
    try {
      dp.commit(generation);
    } catch (RuntimeException e) {
      throw new PlanApplyException(this, operations.size(), e);
    }
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("generation ").append(generation).append(": ");
    if (operations.isEmpty()) {
      return sb.append("no changes").toString();
    }
    sb.append(operations.size()).append(operations.size() == 1 ? " operation" : " operations");
    for (Operation op : operations) {
      sb.append("\n  ").append(op);
    }
    return sb.toString();
  }
}
