package io.flatnet.dataplane.app;

import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

/** The worker idle strategies an operator can name. */
public final class IdleStrategies {
  private IdleStrategies() {}

  /**
   * {@code busy-spin}: lowest latency, one CPU at 100 % (production). {@code backoff}: spins,
   * yields, then parks up to 1 ms, so several routers can share a small machine.
   */
  public static IdleStrategy parse(String name) {
    return switch (name) {
      case "busy-spin" -> new BusySpinIdleStrategy();
      case "backoff" -> new BackoffIdleStrategy(100, 10, 1_000, 1_000_000);
      default ->
          throw new IllegalArgumentException(
              "idle strategy must be busy-spin or backoff, not '" + name + "'");
    };
  }
}
