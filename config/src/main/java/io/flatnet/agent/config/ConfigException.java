package io.flatnet.agent.config;

import java.util.List;
import java.util.stream.Collectors;

/** A config that cannot be used: every problem found, one per line in the message. */
public final class ConfigException extends Exception {

  private static final long serialVersionUID = 1L;

  private final transient List<ConfigError> errors;

  public ConfigException(String source, List<ConfigError> errors) {
    super(
        source
            + ": "
            + errors.size()
            + (errors.size() == 1 ? " error" : " errors")
            + errors.stream().map(e -> "\n  " + e).collect(Collectors.joining()));
    this.errors = List.copyOf(errors);
  }

  public List<ConfigError> errors() {
    return errors;
  }
}
