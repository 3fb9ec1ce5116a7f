package io.flatnet.control;

/**
 * One piece of dataplane state: a port, a pod, a route or a pod's compiled policy. Identified by
 * {@link #resource()} + {@link #key()}; two specs with the same key and different values are a
 * change. Specs are records, so equality is by value.
 */
public sealed interface Spec permits PortSpec, PodSpec, RouteSpec, PolicySpec {

  /** What a spec describes. */
  enum Resource {
    PORT,
    POD,
    ROUTE,
    POLICY
  }

  Resource resource();

  /** Unique within the kind: the port or pod name, or the canonical route prefix. */
  String key();
}
