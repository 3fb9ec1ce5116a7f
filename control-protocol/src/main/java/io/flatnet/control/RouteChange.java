package io.flatnet.control;

/**
 * One route change of a batch ({@link DataplaneApi#applyRoutes}): add {@code route}, remove it, or
 * replace {@code previous} (what is installed for the prefix) with {@code route}.
 */
public record RouteChange(Kind kind, RouteSpec route, RouteSpec previous) {

  /** What a change does. */
  public enum Kind {
    ADD,
    REMOVE,
    REPLACE
  }

  public RouteChange {
    if (kind == null || route == null) {
      throw new IllegalArgumentException("a route change needs a kind and a route");
    }
    if ((kind == Kind.REPLACE) != (previous != null)) {
      throw new IllegalArgumentException("previous is required for REPLACE only");
    }
  }

  public static RouteChange add(RouteSpec route) {
    return new RouteChange(Kind.ADD, route, null);
  }

  public static RouteChange remove(RouteSpec route) {
    return new RouteChange(Kind.REMOVE, route, null);
  }

  public static RouteChange replace(RouteSpec before, RouteSpec after) {
    return new RouteChange(Kind.REPLACE, after, before);
  }

  /** Applies this change alone, through the one-route calls. */
  public void applyTo(DataplaneApi dp) {
    switch (kind) {
      case ADD -> dp.addRoute(route);
      case REMOVE -> dp.removeRoute(route);
      case REPLACE -> dp.replaceRoute(previous, route);
    }
  }

  @Override
  public String toString() {
    return kind.name().toLowerCase(java.util.Locale.ROOT) + " route " + route.prefix();
  }
}
