package io.flatnet.route;

import java.util.ArrayDeque;

/**
 * A FIFO of (epoch, action) awaiting their QSBR grace period. Not thread-safe: each owner guards
 * its own list, so an owner's actions only ever run under the owner's lock.
 */
final class RetireList {

  private record Entry(long epoch, Runnable action) {}

  private static final Runnable[] NONE = new Runnable[0];

  private final ArrayDeque<Entry> queue = new ArrayDeque<>();

  void add(long epoch, Runnable action) {
    queue.addLast(new Entry(epoch, action));
  }

  int size() {
    return queue.size();
  }

  boolean isEmpty() {
    return queue.isEmpty();
  }

  long oldestEpoch() {
    Entry e = queue.peekFirst();
    return e == null ? 0 : e.epoch;
  }

  long newestEpoch() {
    Entry e = queue.peekLast();
    return e == null ? 0 : e.epoch;
  }

  /** Removes and returns the actions whose grace period is over (epochs only grow in the queue). */
  Runnable[] takeReady(QsbrDomain domain) {
    if (queue.isEmpty() || !domain.isGracePeriodOver(queue.peekFirst().epoch)) {
      return NONE;
    }
    var ready = new java.util.ArrayList<Runnable>();
    while (!queue.isEmpty() && domain.isGracePeriodOver(queue.peekFirst().epoch)) {
      ready.add(queue.pollFirst().action);
    }
    return ready.toArray(NONE);
  }

  /** Runs the actions whose grace period is over; returns how many. */
  int runReady(QsbrDomain domain) {
    Runnable[] ready = takeReady(domain);
    for (Runnable r : ready) {
      r.run();
    }
    return ready.length;
  }

  /** Runs every action now, grace period or not: only when no reader can be left (close). */
  void runAll() {
    while (!queue.isEmpty()) {
      queue.pollFirst().action.run();
    }
  }

  /** Waits for every entry's grace period, then runs them all. */
  void drain(QsbrDomain domain) {
    if (!queue.isEmpty()) {
      domain.awaitGracePeriod(newestEpoch());
      runReady(domain);
    }
  }
}
