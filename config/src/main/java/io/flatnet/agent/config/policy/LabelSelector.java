package io.flatnet.agent.config.policy;

import java.util.List;
import java.util.Map;

/**
 * A metav1.LabelSelector: every {@code matchLabels} pair and every {@code matchExpressions}
 * requirement must hold (AND). An empty selector matches everything.
 */
public record LabelSelector(Map<String, String> matchLabels, List<Requirement> matchExpressions) {

  public static final LabelSelector ALL = new LabelSelector(null, null);

  public static final String IN = "In";
  public static final String NOT_IN = "NotIn";
  public static final String EXISTS = "Exists";
  public static final String DOES_NOT_EXIST = "DoesNotExist";
  public static final List<String> OPERATORS = List.of(IN, NOT_IN, EXISTS, DOES_NOT_EXIST);

  public LabelSelector {
    matchLabels = Lists.of(matchLabels);
    matchExpressions = Lists.of(matchExpressions);
  }

  /** {@code matchExpressions[]:} {@code key operator values}. */
  public record Requirement(String key, String operator, List<String> values) {
    public Requirement {
      values = Lists.of(values);
    }

    /** Whether {@code labels} satisfy this requirement (NotIn holds when the key is absent). */
    public boolean matches(Map<String, String> labels) {
      String value = labels.get(key);
      return switch (operator) {
        case IN -> value != null && values.contains(value);
        case NOT_IN -> value == null || !values.contains(value);
        case EXISTS -> value != null;
        case DOES_NOT_EXIST -> value == null;
        default -> throw new IllegalArgumentException("unknown operator " + operator);
      };
    }
  }

  /** Whether {@code labels} satisfy every term of this selector. */
  public boolean matches(Map<String, String> labels) {
    for (Map.Entry<String, String> e : matchLabels.entrySet()) {
      if (!e.getValue().equals(labels.get(e.getKey()))) {
        return false;
      }
    }
    for (Requirement r : matchExpressions) {
      if (!r.matches(labels)) {
        return false;
      }
    }
    return true;
  }
}
