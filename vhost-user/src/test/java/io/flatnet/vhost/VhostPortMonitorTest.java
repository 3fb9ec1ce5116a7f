package io.flatnet.vhost;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.dpdk.vhost.VhostDevices;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The state machine, driven by scripted observations and a manual clock. */
class VhostPortMonitorTest {
  private Instant now = Instant.parse("2026-11-22T03:00:00Z");
  private VhostPortMonitor.Observation seen = observation(false, -1, false);
  private int describes;
  private final List<String> log = new ArrayList<>();

  private final VhostPortMonitor.Observer observer =
      new VhostPortMonitor.Observer() {
        @Override
        public VhostPortMonitor.Observation observe(int port, VhostPortSpec spec) {
          return seen;
        }

        @Override
        public VhostDevices.DeviceInfo describe(int vid) {
          describes++;
          return new VhostDevices.DeviceInfo(vid, 0x950008000L, 2, 1);
        }
      };

  private final VhostPortMonitor monitor =
      new VhostPortMonitor(observer, this::currentTime, log::add, Duration.ofSeconds(10));

  private Instant currentTime() {
    return now;
  }

  private static VhostPortMonitor.Observation observation(boolean up, int vid, boolean connected) {
    return new VhostPortMonitor.Observation(up, vid, connected, true, 0, 0, 0);
  }

  private VhostPortState step(boolean up, int vid, boolean connected) {
    now = now.plusMillis(100);
    seen = observation(up, vid, connected);
    monitor.poll();
    return monitor.state("pod");
  }

  @Test
  void fullCycleIsCountedAndLoggedOnceEach() {
    monitor.track(3, new VhostPortSpec("pod", Path.of("/run/x.sock"), VhostMode.SERVER, 1));
    assertEquals(VhostPortState.WAITING_FOR_PEER, step(false, -1, false));
    assertEquals(VhostPortState.WAITING_FOR_PEER, step(false, -1, false));
    assertEquals(VhostPortState.NEGOTIATING, step(false, -1, true));
    assertEquals(VhostPortState.MEMORY_MAPPED, step(false, 0, true));
    assertEquals(VhostPortState.RUNNING, step(true, 0, true));
    for (int i = 0; i < 50; i++) {
      assertEquals(VhostPortState.RUNNING, step(true, 0, true));
    }
    assertEquals(1, describes, "rte_vhost is asked once per connection, not every poll");
    assertEquals(VhostPortState.PEER_GONE, step(false, -1, false));
    assertEquals(VhostPortState.WAITING_FOR_PEER, step(false, -1, false));
    assertEquals(VhostPortState.RUNNING, step(true, 0, true));
    assertEquals(2, describes, "a new connection is described again, even with the same vid");

    assertEquals(1, monitor.transitions("pod", VhostPortState.RUNNING, VhostPortState.PEER_GONE));
    assertEquals(
        1, monitor.transitions("pod", VhostPortState.WAITING_FOR_PEER, VhostPortState.RUNNING));
    VhostPortStatus status = monitor.status().getFirst();
    assertEquals(6, status.transitions());
    assertEquals(1, status.peerGoneCount());
    assertEquals("0x950008000", status.features());
    assertEquals(1, status.memoryRegions());
    assertEquals("running", status.state());
    // One line for creation, one per transition; the 50 steady polls added nothing.
    assertEquals(7, log.size(), String.join("\n", log));
    assertTrue(log.get(4).contains("running -> peer-gone"), log.get(4));
  }

  @Test
  void stuckNegotiationAndDeletedSocketAreReportedOnce() {
    monitor.track(1, new VhostPortSpec("pod", Path.of("/run/y.sock"), VhostMode.SERVER, 1));
    step(false, -1, true);
    for (int i = 0; i < 200; i++) {
      step(false, -1, true);
    }
    VhostPortStatus status = monitor.status().getFirst();
    assertEquals("negotiating", status.state());
    assertNotNull(status.lastError());
    assertTrue(status.lastError().contains("did not become ready"), status.lastError());
    long errorLines = log.stream().filter(l -> l.contains("error:")).count();
    assertEquals(1, errorLines, String.join("\n", log));

    now = now.plusMillis(100);
    seen = new VhostPortMonitor.Observation(false, -1, false, false, 0, 0, 0);
    monitor.poll();
    monitor.poll();
    assertTrue(monitor.status().getFirst().lastError().contains("was deleted"));
    assertEquals(2, log.stream().filter(l -> l.contains("error:")).count());
  }

  private static VhostPortMonitor.View view(VhostPortState state) {
    return new VhostPortMonitor.View(state, -1, null, -1);
  }

  private static final VhostDevices.DeviceInfo ALIVE =
      new VhostDevices.DeviceInfo(4, 0x950008000L, 2, 1);
  private static final VhostDevices.DeviceInfo GONE = new VhostDevices.DeviceInfo(4, -1, 0, -1);

  @Test
  void derivationTable() {
    var waiting = view(VhostPortState.WAITING_FOR_PEER);
    assertEquals(
        VhostPortState.WAITING_FOR_PEER,
        VhostPortMonitor.next(waiting, observation(false, -1, false), null).state());
    assertEquals(
        VhostPortState.NEGOTIATING,
        VhostPortMonitor.next(waiting, observation(false, -1, true), null).state());
    assertEquals(4, VhostPortMonitor.toDescribe(waiting, observation(false, 4, false)));
    assertEquals(
        VhostPortState.MEMORY_MAPPED,
        VhostPortMonitor.next(waiting, observation(false, 4, true), ALIVE).state());
    assertEquals(
        VhostPortState.RUNNING,
        VhostPortMonitor.next(waiting, observation(true, 4, true), ALIVE).state());
    // A vid rte_vhost no longer knows is going away, and is not asked about again.
    VhostPortMonitor.View dying =
        VhostPortMonitor.next(view(VhostPortState.NEGOTIATING), observation(false, 4, true), GONE);
    assertEquals(VhostPortState.PEER_GONE, dying.state());
    assertEquals(-1, VhostPortMonitor.toDescribe(dying, observation(false, 4, true)));
    assertEquals(
        VhostPortState.PEER_GONE,
        VhostPortMonitor.next(view(VhostPortState.NEGOTIATING), observation(false, -1, false), null)
            .state());
    assertEquals(
        VhostPortState.WAITING_FOR_PEER,
        VhostPortMonitor.next(view(VhostPortState.PEER_GONE), observation(false, -1, false), null)
            .state());
  }
}
