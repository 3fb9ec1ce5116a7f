/**
 * Longest-prefix-match forwarding tables and next hops for the dataplane, pure Java, off-heap.
 *
 * <h2>Concurrency model</h2>
 *
 * One writer (the control plane), many readers (dataplane workers), no locks or allocation on the
 * read side.
 *
 * <ul>
 *   <li><b>Every answer is before or after a batch.</b> Route changes are collected in a {@link
 *       io.flatnet.route.RouteBatch}. {@link io.flatnet.route.Ipv6Fib} copies the trie nodes it
 *       changes (copy-on-write) and publishes the whole batch with a single volatile store: a
 *       reader sees the whole table before the batch or after it, and a bulk lookup is answered
 *       from one version. {@link io.flatnet.route.Ipv4Fib} updates its one DIR-24-8 table in place
 *       (as rte_fib), each entry written at most once per batch with its final value, so every
 *       lookup returns its address's answer before or after the batch; different addresses may
 *       straddle a running commit.
 *   <li><b>Reclamation is QSBR.</b> Workers register a {@link io.flatnet.route.QsbrReader} with the
 *       {@link io.flatnet.route.QsbrDomain} and call {@code quiescent()} once per poll loop, when
 *       they hold nothing from earlier lookups. Memory a batch replaced (unlinked IPv4 tbl8 groups,
 *       old trie nodes, node pools, next-hop indexes) is reused or freed only after every online
 *       reader has announced an epoch later than the publish. Offline readers don't block the
 *       writer.
 *   <li><b>Next hops</b> ({@link io.flatnet.route.NextHopTable}) are referenced by index; an index
 *       is stable while routes use it. Its mutable state (kind, port, destination MAC) is one
 *       64-bit word changed by one store, so a resolved neighbour appears atomically.
 *   <li><b>Failures are atomic.</b> Limits (tbl8 groups, trie nodes, next hops) raise {@link
 *       io.flatnet.route.RouteTableFullException} and invalid input raises {@link
 *       IllegalArgumentException}, before anything visible changes.
 * </ul>
 *
 * Off-heap memory comes from shared {@link java.lang.foreign.Arena}s closed explicitly: a worker
 * that broke the QSBR protocol and touched freed memory gets an exception, not a crash.
 */
package io.flatnet.route;
