package io.flatnet.vhost;

import io.flatnet.dpdk.vhost.VhostDevices;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Tracks the life of each vhost-user port by polling, from the control thread (about every 100 ms):
 * no rte_vhost callbacks, no upcalls. Each poll takes one {@link Observation} of every port (link
 * status, the vid the PMD attached, whether a peer is connected on the socket) and derives a {@link
 * VhostPortState}; the first time a vid appears it asks rte_vhost once for the negotiated features,
 * vring count and memory regions. Every transition is counted and logged once; so is every new
 * error.
 *
 * <p>Derivation: a vid with memory regions and link up is running; a vid with regions but link down
 * is memory-mapped; a vid without regions, or a connection on the socket without a vid, is
 * negotiating; nothing at all is waiting-for-peer, except right after a peer was present, which is
 * peer-gone for one poll. The PMD reports a vid only once the device is ready, so memory-mapped is
 * normally passed within one poll and a port that stays negotiating has a peer that connected but
 * never finished (see {@link #stuckAfter}).
 */
public final class VhostPortMonitor {
  /** What one poll saw of one port. */
  public record Observation(
      boolean linkUp,
      int vid,
      boolean connected,
      boolean socketPresent,
      long rxPackets,
      long txPackets,
      long txErrors) {}

  /** Where observations come from: DPDK and /proc in production, a script in tests. */
  public interface Observer {
    /** Called once at the start of each poll (to read shared tables once). */
    default void beginPoll() {}

    Observation observe(int port, VhostPortSpec spec);

    /** Features, vrings and memory regions of a vid the PMD just reported. */
    VhostDevices.DeviceInfo describe(int vid);
  }

  private static final class Tracked {
    final int port;
    final VhostPortSpec spec;
    VhostPortState state = VhostPortState.WAITING_FOR_PEER;
    Instant since;
    Instant runningSince;
    int describedVid = -1;
    int vid = -1;
    long features;
    int vrings;
    int regions;
    long transitions;
    final Map<String, Long> transitionCounts = new TreeMap<>();
    long peerGoneCount;
    Instant lastPeerGone;
    String lastError;
    Instant lastErrorAt;
    Observation last = new Observation(false, -1, false, false, 0, 0, 0);
    boolean stuckReported;

    Tracked(int port, VhostPortSpec spec, Instant now) {
      this.port = port;
      this.spec = spec;
      this.since = now;
    }
  }

  private final Observer observer;
  private final InstantSource clock;
  private final Consumer<String> log;
  private final Duration stuckAfter;
  private final Map<String, Tracked> ports = new LinkedHashMap<>();

  /**
   * @param stuckAfter how long a peer may stay negotiating or memory-mapped before it is reported
   *     as an error
   */
  public VhostPortMonitor(
      Observer observer, InstantSource clock, Consumer<String> log, Duration stuckAfter) {
    this.observer = observer;
    this.clock = clock;
    this.log = log;
    this.stuckAfter = stuckAfter;
  }

  /** Starts tracking a port that was just created: waiting-for-peer from now. */
  public synchronized void track(int port, VhostPortSpec spec) {
    if (ports.containsKey(spec.name())) {
      throw new IllegalArgumentException("pod " + spec.name() + " is tracked already");
    }
    ports.put(spec.name(), new Tracked(port, spec, clock.instant()));
    log.accept(
        prefix(ports.get(spec.name())) + "created, " + VhostPortState.WAITING_FOR_PEER.label());
  }

  /** Stops tracking a port (before it is removed from the router). */
  public synchronized void forget(String name) {
    Tracked tracked = ports.remove(name);
    if (tracked != null) {
      log.accept(prefix(tracked) + "removed in state " + tracked.state.label());
    }
  }

  /** Observes every port once; returns true if any port changed state. */
  public synchronized boolean poll() {
    if (ports.isEmpty()) {
      return false;
    }
    observer.beginPoll();
    boolean changed = false;
    for (Tracked tracked : ports.values()) {
      changed |= poll(tracked);
    }
    return changed;
  }

  private boolean poll(Tracked t) {
    Instant now = clock.instant();
    Observation o;
    try {
      o = observer.observe(t.port, t.spec);
    } catch (RuntimeException e) {
      error(t, now, "observing the port failed: " + e.getMessage());
      return false;
    }
    t.last = o;
    if (o.vid() < 0 || !o.linkUp() && t.state == VhostPortState.RUNNING) {
      // The device the PMD knew is gone; a later vid, even the same number, is a new connection.
      t.describedVid = -1;
    }
    if (o.vid() >= 0 && o.vid() != t.describedVid) {
      try {
        VhostDevices.DeviceInfo info = observer.describe(o.vid());
        t.describedVid = o.vid();
        t.features = info.features();
        t.vrings = info.vrings();
        t.regions = Math.max(0, info.memoryRegions());
      } catch (RuntimeException e) {
        error(t, now, "asking rte_vhost about vid " + o.vid() + " failed: " + e.getMessage());
      }
    }
    t.vid = o.vid();
    VhostPortState next = derive(t.state, o, t.describedVid == o.vid() ? t.regions : 0);
    boolean changed = next != t.state;
    if (changed) {
      transition(t, next, now);
    }
    if (t.spec.mode() == VhostMode.SERVER && !o.socketPresent()) {
      error(
          t,
          now,
          "the listening socket "
              + t.spec.socket()
              + " was deleted: no peer can connect any more; remove and re-add the port");
    }
    Duration in = Duration.between(t.since, now);
    if (t.stuckReported || in.compareTo(stuckAfter) <= 0) {
      return changed;
    }
    if (t.state == VhostPortState.NEGOTIATING) {
      t.stuckReported = true;
      error(
          t,
          now,
          "a peer connected but the device did not become ready within "
              + stuckAfter.toSeconds()
              + " s: the guest's virtio-net driver is not"
              + " up, or its memory is not shared hugepages (QEMU memory-backend-file share=on),"
              + " or it has too many memory regions (virtio_user needs --single-file-segments)");
    } else if (t.state == VhostPortState.MEMORY_MAPPED) {
      t.stuckReported = true;
      error(
          t,
          now,
          "guest memory is mapped but the link did not come up within "
              + stuckAfter.toSeconds()
              + " s: the guest has not enabled its vrings");
    }
    return changed;
  }

  /** The state a poll's observation implies, given the state before it. */
  static VhostPortState derive(VhostPortState previous, Observation o, int regions) {
    if (o.vid() >= 0) {
      if (regions > 0) {
        return o.linkUp() ? VhostPortState.RUNNING : VhostPortState.MEMORY_MAPPED;
      }
      return VhostPortState.NEGOTIATING;
    }
    if (o.connected() || o.linkUp()) {
      return VhostPortState.NEGOTIATING;
    }
    if (previous.peerPresent()) {
      return VhostPortState.PEER_GONE;
    }
    return VhostPortState.WAITING_FOR_PEER;
  }

  private void transition(Tracked t, VhostPortState next, Instant now) {
    VhostPortState from = t.state;
    Duration in = Duration.between(t.since, now);
    t.transitions++;
    t.transitionCounts.merge(from.label() + "->" + next.label(), 1L, Long::sum);
    t.state = next;
    t.since = now;
    t.stuckReported = false;
    StringBuilder line =
        new StringBuilder(prefix(t))
            .append(from.label())
            .append(" -> ")
            .append(next.label())
            .append(" after ")
            .append(seconds(in));
    switch (next) {
      case RUNNING -> {
        t.runningSince = now;
        line.append(": vid ")
            .append(t.vid)
            .append(", features 0x")
            .append(Long.toHexString(t.features))
            .append(", ")
            .append(t.vrings)
            .append(" vrings, ")
            .append(t.regions)
            .append(" memory regions");
      }
      case PEER_GONE -> {
        t.peerGoneCount++;
        t.lastPeerGone = now;
        if (t.runningSince != null && from == VhostPortState.RUNNING) {
          line.append(" (ran ").append(seconds(Duration.between(t.runningSince, now))).append(')');
        }
        line.append(
            t.spec.mode() == VhostMode.SERVER
                ? ": the socket stays; waiting for the peer to connect again"
                : ": rte_vhost reconnects every second");
        t.vid = -1;
        t.features = 0;
        t.vrings = 0;
        t.regions = 0;
      }
      default -> {}
    }
    log.accept(line.toString());
  }

  private void error(Tracked t, Instant now, String message) {
    if (!message.equals(t.lastError)) {
      t.lastError = message;
      t.lastErrorAt = now;
      log.accept(prefix(t) + "error: " + message);
    }
  }

  private static String prefix(Tracked t) {
    return "pod "
        + t.spec.name()
        + " (port "
        + t.port
        + ", "
        + t.spec.mode().label()
        + ", "
        + t.spec.socket()
        + "): ";
  }

  private static String seconds(Duration d) {
    return String.format(java.util.Locale.ROOT, "%.1f s", d.toMillis() / 1000.0);
  }

  /** The current state of a tracked port. */
  public synchronized VhostPortState state(String name) {
    Tracked t = ports.get(name);
    if (t == null) {
      throw new IllegalArgumentException("no vhost-user pod " + name);
    }
    return t.state;
  }

  /** How often a port went from one state to the other. */
  public synchronized long transitions(String name, VhostPortState from, VhostPortState to) {
    Tracked t = ports.get(name);
    return t == null ? 0 : t.transitionCounts.getOrDefault(from.label() + "->" + to.label(), 0L);
  }

  /** Every tracked port's status, in the order they were added. */
  public synchronized List<VhostPortStatus> status() {
    Instant now = clock.instant();
    List<VhostPortStatus> all = new ArrayList<>();
    for (Tracked t : ports.values()) {
      all.add(
          new VhostPortStatus(
              t.spec.name(),
              t.port,
              t.spec.mode().label(),
              t.spec.socket().toString(),
              t.spec.queues(),
              t.state.label(),
              t.since.toString(),
              Duration.between(t.since, now).toMillis() / 1000.0,
              detail(t),
              t.last.linkUp(),
              t.vid,
              "0x" + Long.toHexString(t.features),
              t.vrings,
              t.regions,
              t.transitions,
              Map.copyOf(t.transitionCounts),
              t.peerGoneCount,
              t.lastPeerGone == null ? null : t.lastPeerGone.toString(),
              t.lastError,
              t.lastErrorAt == null ? null : t.lastErrorAt.toString(),
              t.last.rxPackets(),
              t.last.txPackets(),
              t.last.txErrors()));
    }
    return all;
  }

  private static String detail(Tracked t) {
    String socket = t.spec.socket().toString();
    return switch (t.state) {
      case WAITING_FOR_PEER ->
          t.spec.mode() == VhostMode.SERVER
              ? "flatnet listens on " + socket + "; the VM or pod connects to it"
              : t.last.socketPresent()
                  ? "connecting to the VM's socket " + socket + " (retried every second)"
                  : "no socket at " + socket + " yet: the VM side creates it; retried every second";
      case NEGOTIATING -> "a peer is connected; waiting for its features, memory table and vrings";
      case MEMORY_MAPPED -> t.regions + " memory regions mapped; waiting for the link";
      case RUNNING -> t.vrings / 2 + " queue pairs, " + t.regions + " memory regions, link up";
      case PEER_GONE ->
          t.spec.mode() == VhostMode.SERVER
              ? "the peer went away; the socket stays for it to come back"
              : "the peer went away; reconnecting every second";
    };
  }
}
