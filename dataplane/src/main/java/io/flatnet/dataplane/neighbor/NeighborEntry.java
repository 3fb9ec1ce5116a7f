package io.flatnet.dataplane.neighbor;

/**
 * Neighbour unreachability detection (RFC 4861 7.3, used for ARP as well) for one neighbour, as a
 * pure state machine: the resolver feeds it what workers heard and the clock, and it says what to
 * do (install or withdraw a MAC, send a probe). No entry stays {@code reachable} without a
 * confirmation: a wrong MAC is probed, found silent and withdrawn within {@link
 * Timers#worstCaseRecoveryNanos()} of its last confirmation.
 *
 * <pre>
 *   incomplete --any answer--> stale --(next tick)--> probe: unicast x N, then multicast x M
 *   probe/stale --solicited answer--> reachable --reachable time--> stale
 *   probe --no answer after N+M probes--> incomplete (MAC withdrawn, counted as failed)
 * </pre>
 */
public final class NeighborEntry {
  /** What an operator sees in {@code ctl show neighbors}. */
  enum State {
    INCOMPLETE("incomplete"),
    REACHABLE("reachable"),
    STALE("stale"),
    PROBE("probe");

    final String label;

    State(String label) {
      this.label = label;
    }
  }

  /** RFC 4861 10's constants, with Linux's defaults; tests shorten them. */
  public record Timers(
      long reachableNanos, long retransNanos, int unicastProbes, int multicastProbes) {
    public static Timers defaults() {
      return new Timers(30_000_000_000L, 1_000_000_000L, 3, 3);
    }

    /** From the last confirmation until a silent neighbour's MAC is withdrawn. */
    public long worstCaseRecoveryNanos() {
      return reachableNanos + (unicastProbes + multicastProbes + 1) * retransNanos;
    }
  }

  /** What the entry asks its owner to do. */
  interface Actions {
    /** Install {@code mac} in the next hops that route through this neighbour. */
    void install(long mac);

    /** Withdraw the MAC: next hops go back to resolving (packets wait and trigger a request). */
    void withdraw();

    /** Send a probe: unicast to {@code mac}, or multicast/broadcast if {@code mac} is -1. */
    void probe(long mac);
  }

  private final Timers timers;
  private State state = State.INCOMPLETE;
  private long mac = -1;
  private long since;
  private int probesSent;
  private long failures;

  NeighborEntry(Timers timers) {
    this.timers = timers;
  }

  State state() {
    return state;
  }

  /** The installed MAC, or -1. */
  long mac() {
    return mac;
  }

  /** When the entry entered its state. */
  long since() {
    return since;
  }

  /** How many times the neighbour went silent and lost its MAC. */
  long failures() {
    return failures;
  }

  /**
   * The neighbour spoke: {@code confirmed} for a solicited advertisement or an ARP reply (proof
   * that it hears us), otherwise an unsolicited claim (a solicitation, an ARP request, gratuitous
   * ARP), which RFC 4861 7.2.3 lets set the MAC but never confirms it.
   */
  void heard(long heardMac, boolean confirmed, long now, Actions actions) {
    boolean changed = heardMac != mac;
    if (changed) {
      mac = heardMac;
      actions.install(heardMac);
    }
    if (confirmed) {
      enter(State.REACHABLE, now);
    } else if (changed) {
      enter(State.STALE, now); // a new, unproven MAC: probe it at the next tick
    }
  }

  /** Advances the timers; call often (at least once per retransmission interval). */
  void tick(long now, Actions actions) {
    switch (state) {
      case REACHABLE -> {
        if (now - since >= timers.reachableNanos()) {
          enter(State.STALE, now);
          startProbing(now, actions);
        }
      }
      case STALE -> startProbing(now, actions);
      case PROBE -> {
        if (now - since < timers.retransNanos()) {
          return;
        }
        if (probesSent < timers.unicastProbes() + timers.multicastProbes()) {
          sendProbe(now, actions);
        } else {
          mac = -1;
          failures++;
          enter(State.INCOMPLETE, now);
          actions.withdraw();
        }
      }
      case INCOMPLETE -> {}
    }
  }

  /** The MAC went away for another reason (its next hops were re-added): start over. */
  void forget(long now) {
    mac = -1;
    enter(State.INCOMPLETE, now);
  }

  private void startProbing(long now, Actions actions) {
    probesSent = 0;
    sendProbe(now, actions);
  }

  private void sendProbe(long now, Actions actions) {
    boolean unicast = probesSent < timers.unicastProbes();
    probesSent++;
    state = State.PROBE;
    since = now;
    actions.probe(unicast ? mac : -1);
  }

  private void enter(State next, long now) {
    state = next;
    since = now;
    probesSent = 0;
  }
}
