package io.flatnet.route;

/**
 * A fixed-size resource of a table (tbl8 groups, trie nodes, next-hop slots) is exhausted. The
 * operation that hit the limit had no effect: a failed batch leaves the table exactly as before.
 */
public final class RouteTableFullException extends IllegalStateException {

  private final String resource;
  private final long limit;

  public RouteTableFullException(String resource, long limit, String detail) {
    super(resource + " exhausted: limit " + limit + (detail.isEmpty() ? "" : " (" + detail + ")"));
    this.resource = resource;
    this.limit = limit;
  }

  /** What ran out, e.g. {@code "tbl8 groups"}. */
  public String resource() {
    return resource;
  }

  /** The configured limit that was hit. */
  public long limit() {
    return limit;
  }
}
