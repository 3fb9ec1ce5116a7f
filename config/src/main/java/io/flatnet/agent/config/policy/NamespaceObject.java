package io.flatnet.agent.config.policy;

/** A v1 Namespace: only its name and labels matter (namespace selectors match the labels). */
public record NamespaceObject(String apiVersion, String kind, ObjectMeta metadata) {}
