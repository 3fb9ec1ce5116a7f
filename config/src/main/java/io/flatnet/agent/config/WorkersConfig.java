package io.flatnet.agent.config;

import java.util.List;

/**
 * {@code workers:} forwarding worker CPUs (one worker each; empty: the dataplane's default, the
 * last CPU), the burst size (only {@value #BURST} for now) and the idle strategy ({@code busy-spin}
 * or {@code backoff}).
 */
public record WorkersConfig(List<Integer> cpus, Integer burst, String idle) {

  /** The dataplane's fixed burst size. */
  public static final int BURST = 32;

  public static final String BUSY_SPIN = "busy-spin";
  public static final String BACKOFF = "backoff";

  public static final WorkersConfig DEFAULT = new WorkersConfig(List.of(), BURST, BUSY_SPIN);

  public WorkersConfig {
    cpus = Lists.of(cpus);
    burst = burst == null ? BURST : burst;
    idle = idle == null ? BUSY_SPIN : idle;
  }
}
