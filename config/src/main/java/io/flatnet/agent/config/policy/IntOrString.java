package io.flatnet.agent.config.policy;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.databind.JsonNode;

/**
 * Kubernetes' IntOrString, for a NetworkPolicy port: a number ({@code port: 80}) or a name ({@code
 * port: http}). Exactly one of the two is set. YAML text that looks like a number but is quoted
 * ({@code "80"}) stays a name, as in Kubernetes (and is then rejected as a port name).
 */
public record IntOrString(Integer number, String name) {

  public IntOrString {
    if ((number == null) == (name == null)) {
      throw new IllegalArgumentException("exactly one of number and name");
    }
  }

  public static IntOrString of(int number) {
    return new IntOrString(number, null);
  }

  public static IntOrString of(String name) {
    return new IntOrString(null, name);
  }

  /** Binds a YAML scalar; anything else is a type error at its path. */
  @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
  static IntOrString fromJson(JsonNode node) {
    if (node.isIntegralNumber() && node.canConvertToInt()) {
      return of(node.intValue());
    }
    if (node.isTextual()) {
      return of(node.textValue());
    }
    throw new IllegalArgumentException(
        "expected a port number or a port name, got " + node.getNodeType().name().toLowerCase());
  }

  public boolean isNumber() {
    return number != null;
  }

  @Override
  public String toString() {
    return isNumber() ? number.toString() : name;
  }
}
