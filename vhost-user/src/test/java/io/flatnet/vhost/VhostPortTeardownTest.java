package io.flatnet.vhost;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.dpdk.vhost.VhostDevices;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The monitor against observations torn by a device being torn down, without DPDK: a model of
 * net_vhost and rte_vhost (22.11) steps through a peer's death while the monitor's reads (socket
 * table, link, vid, then rte_vhost's description) land between any two of those steps.
 *
 * <p>When a peer dies, rte_vhost's thread closes the connection; net_vhost's {@code destroy_device}
 * sets the link down, then clears the vid in its queues (which {@code
 * rte_eth_vhost_get_vid_from_port_id} reads); then rte_vhost unmaps the guest memory and frees the
 * device. The monitor must record exactly one running to peer-gone and nothing else out of running,
 * and must not ask rte_vhost about the vid once it was seen going away.
 */
class VhostPortTeardownTest {
  /** The model: where a device is in its teardown. */
  private enum Step {
    RUNNING,
    CONNECTION_CLOSED,
    LINK_DOWN,
    VID_CLEARED,
    MEMORY_UNMAPPED,
    FREED;

    boolean connected() {
      return this == RUNNING;
    }

    boolean linkUp() {
      return compareTo(LINK_DOWN) < 0;
    }

    boolean vidReported() {
      return compareTo(VID_CLEARED) < 0;
    }
  }

  private static final int VID = 0;

  /** A scripted DPDK: each read may first let the teardown advance. */
  private static final class Model implements VhostPortMonitor.Observer {
    final SplittableRandom random;
    Step step = Step.RUNNING;
    boolean dying;
    boolean connectedAtPollStart;
    final List<String> describes = new ArrayList<>();
    final List<String> trace = new ArrayList<>();

    Model(long seed) {
      random = new SplittableRandom(seed);
    }

    /** Between two reads, the teardown moves on by zero or more steps. */
    void maybeAdvance() {
      if (!dying) {
        return;
      }
      int by = random.nextInt(3) == 0 ? random.nextInt(3) : 0;
      for (int i = 0; i < by && step != Step.FREED; i++) {
        step = Step.values()[step.ordinal() + 1];
      }
    }

    @Override
    public void beginPoll() {
      maybeAdvance();
      connectedAtPollStart = step.connected();
    }

    @Override
    public VhostPortMonitor.Observation observe(int port, VhostPortSpec spec) {
      maybeAdvance();
      boolean up = step.linkUp();
      maybeAdvance();
      int vid = step.vidReported() ? VID : -1;
      maybeAdvance();
      VhostPortMonitor.Observation o =
          new VhostPortMonitor.Observation(up, vid, connectedAtPollStart, true, 0, 0, 0);
      trace.add("observed " + o + " (model at " + step + ")");
      return o;
    }

    @Override
    public VhostDevices.DeviceInfo describe(int vid) {
      maybeAdvance();
      describes.add("vid " + vid + " asked at " + step);
      trace.add("describe(" + vid + ") at " + step);
      return switch (step) {
        case RUNNING, CONNECTION_CLOSED, LINK_DOWN, VID_CLEARED ->
            new VhostDevices.DeviceInfo(vid, 0x950008000L, 2, 1);
        // In DPDK this is the use-after-free: the memory table is gone, the device next.
        case MEMORY_UNMAPPED -> new VhostDevices.DeviceInfo(vid, 0x950008000L, 2, 0);
        case FREED -> new VhostDevices.DeviceInfo(vid, -1, 0, -1);
      };
    }
  }

  private Instant now = Instant.parse("2026-12-01T00:00:00Z");

  private Instant clock() {
    return now;
  }

  @Test
  void everyTornTeardownIsRecordedAsRunningToPeerGoneWithoutAskingAboutTheDyingVid() {
    int seeds = 2000;
    for (long seed = 1; seed <= seeds; seed++) {
      Model model = new Model(seed);
      List<String> log = new ArrayList<>();
      VhostPortMonitor monitor =
          new VhostPortMonitor(model, this::clock, log::add, Duration.ofSeconds(10));
      monitor.track(1, new VhostPortSpec("pod", Path.of("/run/t.sock"), VhostMode.SERVER, 1));
      poll(monitor);
      poll(monitor);
      assertEquals(VhostPortState.RUNNING, monitor.state("pod"), "seed " + seed);
      assertEquals(1, model.describes.size(), "seed " + seed + ": " + model.describes);

      model.dying = true;
      for (int i = 0; i < 30; i++) {
        poll(monitor);
      }
      model.step = Step.FREED;
      for (int i = 0; i < 3; i++) {
        poll(monitor);
      }

      String context =
          "seed "
              + seed
              + ": transitions "
              + monitor.status().getFirst().transitionCounts()
              + "\n"
              + String.join("\n", model.trace)
              + "\n"
              + String.join("\n", log);
      assertEquals(
          List.of("vid " + VID + " asked at RUNNING"),
          model.describes,
          "rte_vhost was asked about a dying vid; " + context);
      assertEquals(
          Map.of(
              "waiting-for-peer->running", 1L,
              "running->peer-gone", 1L,
              "peer-gone->waiting-for-peer", 1L),
          monitor.status().getFirst().transitionCounts(),
          context);
      assertEquals(VhostPortState.WAITING_FOR_PEER, monitor.state("pod"), context);
    }
  }

  private void poll(VhostPortMonitor monitor) {
    now = now.plusMillis(100);
    monitor.poll();
  }

  /* The torn observations seen one by one, through the monitor as the router drives it. */

  private final List<Integer> asked = new ArrayList<>();
  private VhostPortMonitor.Observation seen;
  private VhostDevices.DeviceInfo answer;
  private final List<String> log = new ArrayList<>();
  private final VhostPortMonitor monitor =
      new VhostPortMonitor(
          new VhostPortMonitor.Observer() {
            @Override
            public VhostPortMonitor.Observation observe(int port, VhostPortSpec spec) {
              return seen;
            }

            @Override
            public VhostDevices.DeviceInfo describe(int vid) {
              asked.add(vid);
              return answer;
            }
          },
          this::clock,
          log::add,
          Duration.ofSeconds(10));

  private VhostPortState see(boolean up, int vid, boolean connected) {
    now = now.plusMillis(100);
    seen = new VhostPortMonitor.Observation(up, vid, connected, true, 0, 0, 0);
    monitor.poll();
    return monitor.state("pod");
  }

  private void startRunning() {
    answer = new VhostDevices.DeviceInfo(3, 0x950008000L, 2, 1);
    monitor.track(2, new VhostPortSpec("pod", Path.of("/run/u.sock"), VhostMode.SERVER, 1));
    see(false, -1, true);
    assertEquals(VhostPortState.RUNNING, see(true, 3, true));
    asked.clear();
  }

  private void assertOnlyRunningToPeerGone() {
    Map<String, Long> counts = monitor.status().getFirst().transitionCounts();
    String context = counts + "\n" + String.join("\n", log);
    assertEquals(1, monitor.transitions("pod", VhostPortState.RUNNING, VhostPortState.PEER_GONE));
    counts.forEach(
        (edge, n) ->
            assertTrue(
                !edge.startsWith("running->") || edge.equals("running->peer-gone"), context));
    assertEquals(List.of(), asked, "rte_vhost was asked about the dying vid; " + context);
  }

  @Test
  void linkDownWhileTheVidIsStillReportedIsPeerGoneNotMemoryMapped() {
    startRunning();
    // destroy_device put the link down; rte_vhost would still describe the device, memory and all.
    assertEquals(VhostPortState.PEER_GONE, see(false, 3, true));
    assertEquals(VhostPortState.PEER_GONE, see(false, 3, false));
    assertEquals(VhostPortState.WAITING_FOR_PEER, see(false, -1, false));
    assertOnlyRunningToPeerGone();
  }

  @Test
  void linkDownWhileRteVhostFreesTheDeviceIsPeerGoneNotNegotiating() {
    startRunning();
    answer = new VhostDevices.DeviceInfo(3, -1, 0, -1);
    assertEquals(VhostPortState.PEER_GONE, see(false, 3, false));
    assertEquals(VhostPortState.WAITING_FOR_PEER, see(false, -1, false));
    assertOnlyRunningToPeerGone();
  }

  @Test
  void aConnectionStillListedAfterTheVidWentIsPeerGoneNotNegotiating() {
    startRunning();
    // The socket table was read before rte_vhost closed the connection.
    assertEquals(VhostPortState.PEER_GONE, see(false, -1, true));
    assertEquals(VhostPortState.WAITING_FOR_PEER, see(false, -1, false));
    assertOnlyRunningToPeerGone();
  }

  @Test
  void linkReadUpBeforeTheVidWentIsPeerGone() {
    startRunning();
    assertEquals(VhostPortState.PEER_GONE, see(true, -1, false));
    assertEquals(VhostPortState.WAITING_FOR_PEER, see(false, -1, false));
    assertOnlyRunningToPeerGone();
  }

  @Test
  void aPeerBackWithTheSameVidIsDescribedOnceItsLinkIsUp() {
    startRunning();
    assertEquals(VhostPortState.PEER_GONE, see(false, 3, true));
    // Still the dying device, or already a new one with the same number that is not up yet: not
    // asked about either way.
    assertEquals(VhostPortState.PEER_GONE, see(false, 3, true));
    assertEquals(List.of(), asked);
    // Only new_device puts a link up: a new device, asked about once.
    assertEquals(VhostPortState.RUNNING, see(true, 3, true));
    assertEquals(VhostPortState.RUNNING, see(true, 3, true));
    assertEquals(List.of(3), asked);
    assertEquals(1, monitor.transitions("pod", VhostPortState.PEER_GONE, VhostPortState.RUNNING));
  }

  @Test
  void aPeerBackWithAnotherVidBetweenTwoPollsIsGoneThenRunning() {
    startRunning();
    answer = new VhostDevices.DeviceInfo(5, 0x950008000L, 2, 1);
    assertEquals(VhostPortState.PEER_GONE, see(true, 5, true));
    assertEquals(List.of(), asked);
    assertEquals(VhostPortState.RUNNING, see(true, 5, true));
    assertEquals(List.of(5), asked);
    assertEquals(5, monitor.status().getFirst().vid());
  }
}
