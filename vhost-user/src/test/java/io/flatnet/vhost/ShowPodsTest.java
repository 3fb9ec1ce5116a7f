package io.flatnet.vhost;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The status file round-trips, is replaced atomically, and renders as a table. */
class ShowPodsTest {
  @TempDir Path dir;

  private static VhostPortStatus status(String name, String state, String error) {
    return new VhostPortStatus(
        name,
        2,
        "client",
        "/run/vm/" + name + ".sock",
        2,
        state,
        "2026-11-22T03:00:00Z",
        65.0,
        "the peer went away; reconnecting every second",
        false,
        -1,
        "0x0",
        0,
        0,
        3,
        Map.of("running->peer-gone", 1L),
        1,
        "2026-11-22T03:00:00Z",
        error,
        error == null ? null : "2026-11-22T03:00:00Z",
        10,
        20,
        0);
  }

  @Test
  void writesAtomicallyAndRendersEveryPod() throws Exception {
    Path file = VhostStatusFile.in(dir);
    Instant now = Instant.parse("2026-11-22T03:01:05Z");
    VhostStatusFile.write(file, List.of(status("pod-a", "running", null)), now);
    VhostStatusFile.write(
        file,
        List.of(status("pod-a", "running", null), status("pod-b", "peer-gone", "it broke")),
        now);
    try (var files = Files.list(dir)) {
      assertEquals(List.of(file), files.toList(), "no temporary file is left");
    }
    VhostStatusFile.Snapshot snapshot = ShowPods.read(file);
    assertEquals(2, snapshot.ports().size());
    assertEquals(status("pod-b", "peer-gone", "it broke"), snapshot.ports().get(1));

    String table = ShowPods.render(snapshot, now);
    assertTrue(table.startsWith("POD    PORT  MODE    STATE"), table);
    assertTrue(table.contains("pod-b  2     client  peer-gone  65s"), table);
    assertTrue(table.contains("pod-b: last error at 2026-11-22T03:00:00Z: it broke"), table);
    assertTrue(ShowPods.render(dir.resolve("nothing")).startsWith("no "), table);
  }
}
