package io.flatnet.agent.config.policy;

import java.util.Map;

/**
 * {@code metadata:} of a Namespace, Pod or NetworkPolicy. {@code annotations} are accepted (so
 * objects can be pasted from kubectl) and ignored.
 */
public record ObjectMeta(
    String name, String namespace, Map<String, String> labels, Map<String, String> annotations) {

  public ObjectMeta {
    labels = Lists.of(labels);
    annotations = Lists.of(annotations);
  }

  /** "namespace/name", the key of namespaced objects. */
  public String key() {
    return namespace + "/" + name;
  }
}
