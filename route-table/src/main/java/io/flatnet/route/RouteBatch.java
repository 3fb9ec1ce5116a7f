package io.flatnet.route;

/**
 * A set of route changes applied by one {@link #commit()}. A reader never sees an intermediate or
 * partial answer for an address: every lookup returns the answer before the batch or after it.
 * {@link Ipv6Fib} publishes a whole batch with one store (a reader sees all of it or none of it);
 * {@link Ipv4Fib} updates its one table in place, so while a commit runs one address may already
 * get its new answer and another still its old one.
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
   * Applies and publishes the batch (atomically per address; see above), then empties it.
   *
   * @return the table's generation after the commit (unchanged if the batch was a no-op)
   * @throws RouteTableFullException if a limit would be exceeded; the table is unchanged
   * @throws IllegalArgumentException if a next hop is not live; the table is unchanged
   */
  long commit();
}
