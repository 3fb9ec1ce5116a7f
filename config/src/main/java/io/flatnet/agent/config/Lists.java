package io.flatnet.agent.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Null-tolerant immutable list copies for the config records (YAML may hold null elements). */
final class Lists {
  private Lists() {}

  static <T> List<T> of(List<T> list) {
    return list == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(list));
  }
}
