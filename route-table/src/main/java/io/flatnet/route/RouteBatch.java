package io.flatnet.route;

/**
 * A set of route changes applied as one atomic step: {@link #commit()} publishes them so that a
 * reader sees, for every address at every instant, either the table before the batch or after it.
 *
 * <p>Operations on the same prefix within a batch collapse to the last one. Deleting an absent
 * route is a no-op (idempotent, as a control plane re-syncing state wants). A batch is reusable: a
 * successful commit empties it; a failed one leaves the table untouched and the batch as it was.
 *
 * @param <P> the prefix type
 */
public interface RouteBatch<P> {

  /** Adds or replaces the route for {@code prefix}; {@code nextHop} must be a live index. */
  RouteBatch<P> add(P prefix, int nextHop);

  /** Deletes the route for exactly {@code prefix} (not the routes it covers). */
  RouteBatch<P> delete(P prefix);

  /** Operations recorded (after collapsing repeats). */
  int size();

  /** Drops the recorded operations. */
  void clear();

  /**
   * Applies and publishes the batch atomically, then empties it.
   *
   * @return the table's generation after the commit (unchanged if the batch was a no-op)
   * @throws RouteTableFullException if a limit would be exceeded; the table is unchanged
   * @throws IllegalArgumentException if a next hop is not live; the table is unchanged
   */
  long commit();
}
