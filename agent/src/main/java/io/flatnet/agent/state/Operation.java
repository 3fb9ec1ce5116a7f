package io.flatnet.agent.state;

import io.flatnet.control.DataplaneApi;
import io.flatnet.control.PodSpec;
import io.flatnet.control.PolicySpec;
import io.flatnet.control.PortSpec;
import io.flatnet.control.RouteChange;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.Spec;

/**
 * One step of a {@link Plan}. {@code previous} is the installed spec an {@link Action#UPDATE}
 * replaces (null otherwise); {@code reason} says why ("added", "removed", "changed: via", ...).
 */
public record Operation(Action action, Spec spec, Spec previous, String reason) {

  /** What an operation does to its spec. */
  public enum Action {
    ADD,
    REMOVE,
    UPDATE
  }

  public Operation {
    if ((action == Action.UPDATE) != (previous != null)) {
      throw new IllegalArgumentException("previous is required for UPDATE only");
    }
  }

  /** Calls the matching {@link DataplaneApi} method. */
  void applyTo(DataplaneApi dp) {
    switch (spec) {
      case PortSpec p -> {
        switch (action) {
          case ADD -> dp.addPort(p);
          case REMOVE -> dp.removePort(p.name());
          case UPDATE -> throw new IllegalStateException("ports are replaced, not updated");
        }
      }
      case PodSpec p -> {
        switch (action) {
          case ADD -> dp.addPod(p);
          case REMOVE -> dp.removePod(p.name());
          case UPDATE -> throw new IllegalStateException("pods are replaced, not updated");
        }
      }
      case PolicySpec p -> {
        switch (action) {
          case ADD, UPDATE -> dp.setPolicy(p);
          case REMOVE -> dp.removePolicy(p.pod());
        }
      }
      case RouteSpec r -> {
        switch (action) {
          case ADD -> dp.addRoute(r);
          case REMOVE -> dp.removeRoute(r);
          case UPDATE -> dp.replaceRoute((RouteSpec) previous, r);
        }
      }
    }
  }

  /** This operation as a route change; its spec is a {@link RouteSpec}. */
  RouteChange routeChange() {
    RouteSpec r = (RouteSpec) spec;
    return switch (action) {
      case ADD -> RouteChange.add(r);
      case REMOVE -> RouteChange.remove(r);
      case UPDATE -> RouteChange.replace((RouteSpec) previous, r);
    };
  }

  @Override
  public String toString() {
    return action.name().toLowerCase(java.util.Locale.ROOT)
        + " "
        + spec.resource().name().toLowerCase(java.util.Locale.ROOT)
        + " "
        + spec.key()
        + " ("
        + reason
        + "): "
        + spec;
  }
}
