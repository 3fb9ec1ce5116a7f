package io.flatnet.agent.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.config.RouteConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RuntimeRouteStoreTest {
  @TempDir Path dir;

  private static RouteConfig route(String prefix, String via) {
    return new RouteConfig(prefix, via, "uplink0");
  }

  /** Records {@code changes} as the agent does: the routes after them, then the store. */
  private static void record(
      RuntimeRouteStore store, List<RouteConfig> routes, RuntimeRouteStore.Change... changes)
      throws IOException {
    for (RuntimeRouteStore.Change c : changes) {
      RuntimeRouteStore.apply(routes, c);
    }
    store.record(List.of(changes), routes);
  }

  private static String journalLine(RuntimeRouteStore.Change c) throws IOException {
    return RuntimeRouteStore.encode(c) + "\n";
  }

  @Test
  void changesAreAppendedAndReadBackInOrder() throws IOException {
    assertEquals(List.of(), RuntimeRouteStore.load(dir), "nothing kept yet");
    RuntimeRouteStore store = RuntimeRouteStore.open(dir);
    List<RouteConfig> routes = new ArrayList<>();
    record(store, routes, RuntimeRouteStore.Change.add(route("10.1.0.0/16", "192.0.2.1")));
    record(
        store,
        routes,
        RuntimeRouteStore.Change.add(route("10.2.0.0/16", "192.0.2.1")),
        RuntimeRouteStore.Change.add(route("10.1.0.0/16", "192.0.2.9")), // replaces
        RuntimeRouteStore.Change.remove("10.2.0.0/16"));
    assertEquals(List.of(route("10.1.0.0/16", "192.0.2.9")), RuntimeRouteStore.load(dir));
    assertFalse(Files.exists(dir.resolve("routes.json")), "no snapshot before compaction");
    assertEquals(4, Files.readAllLines(dir.resolve("routes.journal")).size(), "one line a change");
    assertEquals(4, RuntimeRouteStore.open(dir).journalLines(), "a reopened store counts them");
  }

  @Test
  void prefixesMatchAsNetworksNotAsText() throws IOException {
    RuntimeRouteStore store = RuntimeRouteStore.open(dir);
    List<RouteConfig> routes = new ArrayList<>();
    record(store, routes, RuntimeRouteStore.Change.add(route("2001:db8::/32", null)));
    record(store, routes, RuntimeRouteStore.Change.remove("2001:0db8:0::/32"));
    assertEquals(List.of(), RuntimeRouteStore.load(dir));
  }

  @Test
  void aLastLineCutShortIsIgnoredAndADamagedEarlierOneIsAnError() throws IOException {
    RuntimeRouteStore store = RuntimeRouteStore.open(dir);
    List<RouteConfig> routes = new ArrayList<>();
    record(store, routes, RuntimeRouteStore.Change.add(route("10.1.0.0/16", "192.0.2.1")));
    Path journal = dir.resolve("routes.journal");
    // The agent killed mid-write: the change was never answered.
    Files.writeString(journal, "{\"add\":{\"prefix\":\"10.9", StandardOpenOption.APPEND);
    assertEquals(List.of(route("10.1.0.0/16", "192.0.2.1")), RuntimeRouteStore.load(dir));

    Files.writeString(journal, "{\"add\":{\"prefix\":\"10.9\n{\"del\":\"10.1.0.0/16\"}\n");
    IOException e = assertThrows(IOException.class, () -> RuntimeRouteStore.load(dir));
    assertTrue(e.getMessage().contains("routes.journal line 1"), e.getMessage());
    Files.writeString(journal, "{\"route\":\"10.1.0.0/16\"}\n");
    e = assertThrows(IOException.class, () -> RuntimeRouteStore.load(dir));
    assertTrue(e.getMessage().contains("neither add nor del"), e.getMessage());
  }

  @Test
  void aFullJournalBecomesASnapshotAndReplayingItAgainChangesNothing() throws IOException {
    RuntimeRouteStore store = RuntimeRouteStore.open(dir);
    List<RouteConfig> routes = new ArrayList<>();
    Random random = new Random(7);
    String lastJournal = null;
    for (int i = 0; i <= RuntimeRouteStore.COMPACT_AFTER; i++) {
      String prefix = "10.77." + random.nextInt(40) + ".0/24";
      RuntimeRouteStore.Change c =
          random.nextInt(3) == 0
              ? RuntimeRouteStore.Change.remove(prefix)
              : RuntimeRouteStore.Change.add(route(prefix, "192.0.2." + (1 + random.nextInt(9))));
      if (i == RuntimeRouteStore.COMPACT_AFTER) {
        // The journal as this change leaves it just before it writes the snapshot.
        lastJournal = Files.readString(dir.resolve("routes.journal")) + journalLine(c);
      }
      record(store, routes, c);
      if (i % 512 == 0 || i >= RuntimeRouteStore.COMPACT_AFTER - 1) {
        assertEquals(routes, RuntimeRouteStore.load(dir), "after change " + i);
      }
    }
    assertTrue(Files.exists(dir.resolve("routes.json")), "the full journal became a snapshot");
    assertFalse(Files.exists(dir.resolve("routes.journal")));
    assertEquals(0, store.journalLines());

    // Killed between the snapshot's rename and the journal's removal: the journal (the last
    // change appended before the snapshot was written) over the new snapshot reads the same.
    Files.writeString(dir.resolve("routes.journal"), lastJournal, StandardCharsets.UTF_8);
    assertEquals(routes, RuntimeRouteStore.load(dir));
  }
}
