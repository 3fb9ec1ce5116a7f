package io.flatnet.agent;

import io.flatnet.agent.config.ConfigError;
import io.flatnet.agent.state.Plan;
import java.util.List;

/** What a reload or a pod change did. */
public sealed interface ApplyResult {

  /** The plan was applied and committed as its generation. */
  record Applied(Plan plan) implements ApplyResult {}

  /** The dataplane already had the desired state; nothing was applied. */
  record Unchanged(long generation) implements ApplyResult {}

  /** The config (or pod) was invalid and nothing was applied; the old state keeps running. */
  record Rejected(List<ConfigError> errors) implements ApplyResult {}

  /**
   * Applying {@code plan} failed part-way; {@code rolledBack} tells whether the last good state was
   * restored afterwards.
   */
  record Failed(String error, Plan plan, boolean rolledBack) implements ApplyResult {}

  /** True for {@link Applied} and {@link Unchanged}. */
  default boolean ok() {
    return this instanceof Applied || this instanceof Unchanged;
  }
}
