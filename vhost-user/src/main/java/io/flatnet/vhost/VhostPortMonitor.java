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
 * is memory-mapped; a connection on the socket without a vid is negotiating; nothing at all is
 * waiting-for-peer, except right after a peer was present, which is peer-gone for one poll. The PMD
 * reports a vid only once the device is ready, so memory-mapped is normally passed within one poll
 * and a port that stays negotiating has a peer that connected but never finished (see {@link
 * #stuckAfter}).
 *
 * <p>An observation is not a snapshot: its fields are read one after the other (the socket table
 * even once per poll for all ports, before any port), while rte_vhost's thread may be tearing the
 * device down. net_vhost's {@code destroy_device} sets the link down first and clears the vid
 * after; rte_vhost closes the connection before that, then unmaps the guest memory and frees the
 * device. So a port whose peer just died can be seen with its link down and its old vid, or with no
 * vid but a connection still in the socket table. The derivation ({@link #next}) therefore takes
 * the port's history into account: once a device ran, anything but "same vid, link up" means it
 * went away, and that is recorded as running to peer-gone, never as a step down to memory-mapped,
 * negotiating or waiting-for-peer. A vid seen going away is never asked about again (rte_vhost may
 * be freeing it: asking is a use-after-free); only a report without it, or with the link up again
 * (which only a new device's {@code new_device} does), ends that.
 */
public final class VhostPortMonitor {
  /** What one poll saw of one port; the fields may come from slightly different moments. */
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

  /**
   * What the monitor remembers of a port from one poll to the next: the input and the result of
   * {@link #next}.
   *
   * @param state the derived state
   * @param vid the vid of the device the port has (described, alive as far as known), or -1
   * @param device what rte_vhost said of that vid, or null when {@code vid} is -1
   * @param goneVid a vid seen going away, that must not be asked about; -1 if none
   */
  record View(VhostPortState state, int vid, VhostDevices.DeviceInfo device, int goneVid) {
    static final View INITIAL = new View(VhostPortState.WAITING_FOR_PEER, -1, null, -1);
  }

  /**
   * Which vid to ask rte_vhost about before {@link #next} digests {@code o}, or -1 for none: a vid
   * the PMD reports while the port has no device yet, unless it is one seen going away (and still
   * reported with the link down). A port that has a device never asks again: not on every poll, and
   * not when it looks different, which means it is going away.
   */
  static int toDescribe(View before, Observation o) {
    if (o.vid() < 0 || before.vid() >= 0 || dying(before, o)) {
      return -1;
    }
    return o.vid();
  }

  /** True if {@code o} reports, link down, the vid {@code before} saw going away. */
  private static boolean dying(View before, Observation o) {
    return o.vid() >= 0 && o.vid() == before.goneVid() && !o.linkUp();
  }

  /**
   * The port after one poll: a pure function of what the monitor knew, what it saw, and what
   * rte_vhost said of {@link #toDescribe}'s vid ({@code described}; null if nothing was asked or
   * the question failed).
   */
  static View next(View before, Observation o, VhostDevices.DeviceInfo described) {
    VhostPortState previous = before.state();
    if (before.vid() >= 0) {
      // The port has a device: it stays while the PMD reports its vid, with the link up once it was
      // up. net_vhost puts the link down only in destroy_device, just before it clears the vid.
      boolean sameVid = o.vid() == before.vid();
      boolean stays = sameVid && (o.linkUp() || previous != VhostPortState.RUNNING);
      if (stays) {
        VhostPortState state = o.linkUp() ? VhostPortState.RUNNING : VhostPortState.MEMORY_MAPPED;
        return new View(state, before.vid(), before.device(), -1);
      }
      // Gone, whatever else the observation says (a connection still listed, another vid already):
      // the next poll starts afresh, without asking about this vid while it is still reported.
      return new View(VhostPortState.PEER_GONE, -1, null, sameVid ? before.vid() : -1);
    }
    int goneVid = dying(before, o) ? before.goneVid() : -1;
    if (toDescribe(before, o) >= 0) {
      if (alive(described)) {
        VhostPortState state = o.linkUp() ? VhostPortState.RUNNING : VhostPortState.MEMORY_MAPPED;
        return new View(state, o.vid(), described, -1);
      }
      // rte_vhost no longer knows the vid (or the question failed): it is going away already.
      goneVid = o.vid();
    }
    VhostPortState state;
    if (goneVid >= 0) {
      // A device is being torn down; a connection still listed is its own.
      state =
          previous.peerPresent() || previous == VhostPortState.PEER_GONE
              ? VhostPortState.PEER_GONE
              : previous;
    } else if (o.connected()) {
      // A vid without a device is one being described right now; a link reported up without a vid
      // is a torn read of a device that went away, and says nothing.
      state = VhostPortState.NEGOTIATING;
    } else if (previous.peerPresent()) {
      state = VhostPortState.PEER_GONE;
    } else {
      state = VhostPortState.WAITING_FOR_PEER;
    }
    return new View(state, -1, null, goneVid);
  }

  /** A description of a live device: rte_vhost knew the vid and its guest memory is mapped. */
  private static boolean alive(VhostDevices.DeviceInfo info) {
    return info != null && info.features() != -1 && info.memoryRegions() > 0;
  }

  private static final class Tracked {
    final int port;
    final VhostPortSpec spec;
    View view = View.INITIAL;
    Instant since;
    Instant runningSince;
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

    VhostPortState state() {
      return view.state();
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
      log.accept(prefix(tracked) + "removed in state " + tracked.state().label());
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
    int ask = toDescribe(t.view, o);
    VhostDevices.DeviceInfo described = null;
    if (ask >= 0) {
      try {
        described = observer.describe(ask);
      } catch (RuntimeException e) {
        error(t, now, "asking rte_vhost about vid " + ask + " failed: " + e.getMessage());
      }
    }
    View before = t.view;
    t.view = next(before, o, described);
    boolean changed = t.view.state() != before.state();
    if (changed) {
      transition(t, before, now);
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
    if (t.state() == VhostPortState.NEGOTIATING) {
      t.stuckReported = true;
      error(
          t,
          now,
          "a peer connected but the device did not become ready within "
              + stuckAfter.toSeconds()
              + " s: the guest's virtio-net driver is not"
              + " up, or its memory is not shared hugepages (QEMU memory-backend-file share=on),"
              + " or it has too many memory regions (virtio_user needs --single-file-segments)");
    } else if (t.state() == VhostPortState.MEMORY_MAPPED) {
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

  private void transition(Tracked t, View before, Instant now) {
    VhostPortState from = before.state();
    VhostPortState next = t.state();
    Duration in = Duration.between(t.since, now);
    t.transitions++;
    t.transitionCounts.merge(from.label() + "->" + next.label(), 1L, Long::sum);
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
            .append(t.view.vid())
            .append(", features 0x")
            .append(Long.toHexString(features(t.view)))
            .append(", ")
            .append(vrings(t.view))
            .append(" vrings, ")
            .append(regions(t.view))
            .append(" memory regions");
      }
      case PEER_GONE -> {
        t.peerGoneCount++;
        t.lastPeerGone = now;
        if (t.runningSince != null && from == VhostPortState.RUNNING) {
          line.append(" (ran ").append(seconds(Duration.between(t.runningSince, now))).append(')');
        }
        if (t.view.goneVid() >= 0) {
          line.append(", vid ").append(t.view.goneVid()).append(" being torn down");
        }
        line.append(
            t.spec.mode() == VhostMode.SERVER
                ? ": the socket stays; waiting for the peer to connect again"
                : ": rte_vhost reconnects every second");
      }
      default -> {}
    }
    log.accept(line.toString());
  }

  private static long features(View v) {
    return v.device() == null ? 0 : v.device().features();
  }

  private static int vrings(View v) {
    return v.device() == null ? 0 : v.device().vrings();
  }

  private static int regions(View v) {
    return v.device() == null ? 0 : v.device().memoryRegions();
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
    return t.state();
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
              t.state().label(),
              t.since.toString(),
              Duration.between(t.since, now).toMillis() / 1000.0,
              detail(t),
              t.last.linkUp(),
              t.view.vid(),
              "0x" + Long.toHexString(features(t.view)),
              vrings(t.view),
              regions(t.view),
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
    return switch (t.state()) {
      case WAITING_FOR_PEER ->
          t.spec.mode() == VhostMode.SERVER
              ? "flatnet listens on " + socket + "; the VM or pod connects to it"
              : t.last.socketPresent()
                  ? "connecting to the VM's socket " + socket + " (retried every second)"
                  : "no socket at " + socket + " yet: the VM side creates it; retried every second";
      case NEGOTIATING -> "a peer is connected; waiting for its features, memory table and vrings";
      case MEMORY_MAPPED -> regions(t.view) + " memory regions mapped; waiting for the link";
      case RUNNING ->
          vrings(t.view) / 2 + " queue pairs, " + regions(t.view) + " memory regions, link up";
      case PEER_GONE ->
          t.spec.mode() == VhostMode.SERVER
              ? "the peer went away; the socket stays for it to come back"
              : "the peer went away; reconnecting every second";
    };
  }
}
