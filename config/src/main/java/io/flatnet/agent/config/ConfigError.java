package io.flatnet.agent.config;

/**
 * One config problem: the key path (e.g. {@code pods[2].ips[0]}), the offending value as written
 * (or null), and what is wrong.
 */
public record ConfigError(String path, String value, String message) {

  /** {@code path "value": message}, or {@code path: message} without a value. */
  @Override
  public String toString() {
    return value == null ? path + ": " + message : path + " \"" + value + "\": " + message;
  }
}
