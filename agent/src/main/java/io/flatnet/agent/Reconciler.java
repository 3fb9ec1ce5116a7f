package io.flatnet.agent;

import io.flatnet.agent.state.Plan;
import io.flatnet.agent.state.PlanApplyException;
import io.flatnet.agent.state.Planner;
import io.flatnet.control.DataplaneApi;
import io.flatnet.control.State;

/**
 * Brings the dataplane to a desired {@link State}: diffs it against what the dataplane holds
 * ({@link DataplaneApi#installed()}, or the state this agent last committed while the dataplane's
 * published generation says it still holds it), so a restart with the same state applies nothing
 * and a change repairs drift; applies the plan as the next generation, and restores the last good
 * state if applying fails part-way.
 *
 * <p>Callers decide when a desired state becomes the last good one ({@link #accept}), since some
 * must persist it first. Not thread-safe: the {@link Agent} serialises.
 */
final class Reconciler {

  private static final System.Logger LOG = System.getLogger(Agent.class.getName());

  private final DataplaneApi dataplane;
  private long generation;
  private State lastGood;
  private ApplyResult lastResult;
  private State committed; // what this agent last committed, while the dataplane still holds it

  Reconciler(DataplaneApi dataplane) {
    this.dataplane = dataplane;
  }

  /** Diffs {@code desired} against the dataplane and applies the plan; rolls back on failure. */
  ApplyResult apply(State desired) {
    return apply(desired, System.Logger.Level.INFO);
  }

  /** As {@link #apply(State)}, with the plan logged at {@code planLevel} (failures as ever). */
  ApplyResult apply(State desired, System.Logger.Level planLevel) {
    State installed = installed();
    generation = Math.max(generation, installed.generation());
    Plan plan = Planner.plan(installed, desired, generation + 1);
    if (plan.isEmpty()) {
      LOG.log(
          System.Logger.Level.DEBUG, "generation " + generation + " is current; nothing to apply");
      return new ApplyResult.Unchanged(generation);
    }
    LOG.log(planLevel, () -> "applying " + plan);
    try {
      plan.applyTo(dataplane);
      generation = plan.generation();
      committed = desired.withGeneration(generation);
      return new ApplyResult.Applied(plan);
    } catch (PlanApplyException e) {
      committed = null;
      LOG.log(System.Logger.Level.ERROR, e.getMessage(), e);
      generation = Math.max(plan.generation(), dataplane.installed().generation());
      return new ApplyResult.Failed(e.getMessage(), plan, restoreLastGood());
    }
  }

  /**
   * What the dataplane holds: the state this agent last committed while the dataplane says that
   * generation is still its last commit (read from shared memory, no call), else its answer to
   * {@link DataplaneApi#installed()}. A restarted dataplane, another writer or a failed apply makes
   * it ask. This spares each change a call that carries the whole state.
   */
  private State installed() {
    if (committed != null && dataplane.committedGeneration() == committed.generation()) {
      return committed;
    }
    committed = null;
    return dataplane.installed();
  }

  /** Whether the last good state (if any) is back in the dataplane. */
  private boolean restoreLastGood() {
    if (lastGood == null) {
      return false;
    }
    Plan back = Planner.plan(dataplane.installed(), lastGood, generation + 1);
    try {
      LOG.log(System.Logger.Level.WARNING, "restoring the last good state: " + back);
      back.applyTo(dataplane);
      generation = back.generation();
      return true;
    } catch (PlanApplyException e2) {
      LOG.log(
          System.Logger.Level.ERROR,
          "restoring the last good state failed too: " + e2.getMessage(),
          e2);
      return false;
    }
  }

  /** {@code desired} (applied) is the state to restore when a later apply fails. */
  void accept(State desired) {
    lastGood = desired;
  }

  /** The last good state as accepted (its generation is not current), or null before any. */
  State lastGood() {
    return lastGood;
  }

  long generation() {
    return generation;
  }

  ApplyResult lastResult() {
    return lastResult;
  }

  /** Remembers {@code r} as the last result, and returns it. */
  ApplyResult record(ApplyResult r) {
    lastResult = r;
    return r;
  }
}
