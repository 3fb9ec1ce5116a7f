package io.flatnet.agent.state;

import io.flatnet.control.DataplaneApi;
import io.flatnet.control.RouteBatchException;
import io.flatnet.control.RouteChange;
import io.flatnet.control.RouteSpec;
import java.util.ArrayList;
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
   * Applies every operation in order, then {@link DataplaneApi#commit commits} the generation. A
   * run of route operations goes as one batch ({@link DataplaneApi#applyRoutes}: one command, one
   * FIB publish in the dataplane process), and the last run, when nothing follows it, carries the
   * commit.
   *
   * @throws PlanApplyException naming the operation that failed (operations before it were applied,
   *     except those of its own batch, which the dataplane process applies whole or not at all; the
   *     generation was not committed)
   */
  public void applyTo(DataplaneApi dp) {
    int n = operations.size();
    boolean committed = false;
    for (int i = 0; i < n; ) {
      if (operations.get(i).spec() instanceof RouteSpec) {
        int end = i;
        List<RouteChange> changes = new ArrayList<>();
        while (end < n && operations.get(end).spec() instanceof RouteSpec) {
          changes.add(operations.get(end).routeChange());
          end++;
        }
        boolean last = end == n;
        try {
          dp.applyRoutes(changes, last ? generation : -1);
        } catch (RouteBatchException e) {
          int failed = e.index() >= 0 ? i + e.index() : last ? n : i;
          throw new PlanApplyException(this, failed, e);
        } catch (RuntimeException e) {
          throw new PlanApplyException(this, i, e);
        }
        committed = last;
        i = end;
        continue;
      }
      try {
        operations.get(i).applyTo(dp);
      } catch (RuntimeException e) {
        throw new PlanApplyException(this, i, e);
      }
      i++;
    }
    if (committed) {
      return;
    }
    try {
      dp.commit(generation);
    } catch (RuntimeException e) {
      throw new PlanApplyException(this, n, e);
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
