package io.flatnet.agent.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.json.JsonMapper;
import io.flatnet.agent.config.RouteConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RuntimeRouteStoreTest {
  @TempDir Path dir;

  private static RouteConfig route(String prefix, String via) {
    return new RouteConfig(prefix, via, "uplink0");
  }

  /** {@code routes} with {@code c} made, as the agent makes it. */
  private static void applyTo(List<RouteConfig> routes, RuntimeRouteStore.Change c) {
    Map<Object, RouteConfig> byNetwork = RuntimeRouteStore.byNetwork(routes);
    RuntimeRouteStore.apply(byNetwork, c);
    routes.clear();
    routes.addAll(byNetwork.values());
  }

  /** Records {@code changes} as the agent does: the routes after them, then the store. */
  private static void record(
      RuntimeRouteStore store, List<RouteConfig> routes, RuntimeRouteStore.Change... changes)
      throws IOException {
    for (RuntimeRouteStore.Change c : changes) {
      applyTo(routes, c);
    }
    store.record(List.of(changes), routes);
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
  void aFullJournalBecomesASnapshotAndAKillBeforeTheJournalIsGoneLosesNothing() throws IOException {
    RuntimeRouteStore store = RuntimeRouteStore.open(dir);
    List<RouteConfig> routes = new ArrayList<>();
    Random random = new Random(7);
    for (int i = 0; i < RuntimeRouteStore.COMPACT_AFTER; i++) {
      record(store, routes, randomChange(random));
      if (i % 512 == 0) {
        assertEquals(routes, RuntimeRouteStore.load(dir), "after change " + i);
      }
    }
    assertEquals(RuntimeRouteStore.COMPACT_AFTER, store.journalLines(), "not folded yet");
    assertEquals(routes, RuntimeRouteStore.load(dir));

    // The next change, as record() makes it, killed between the snapshot and the journal's
    // removal: the whole journal replays over the snapshot that already has it.
    RuntimeRouteStore.Change last = randomChange(random);
    applyTo(routes, last);
    store.append(List.of(last));
    store.writeSnapshot(routes);
    assertTrue(Files.exists(dir.resolve("routes.journal")));
    assertEquals(routes, RuntimeRouteStore.load(dir));

    // And done whole: a snapshot, no journal.
    store.removeJournal();
    for (int i = 0; i <= RuntimeRouteStore.COMPACT_AFTER; i++) {
      record(store, routes, randomChange(random));
    }
    assertFalse(Files.exists(dir.resolve("routes.journal")), "folded at the limit");
    assertEquals(0, store.journalLines());
    assertEquals(routes, RuntimeRouteStore.load(dir));
  }

  @Test
  void aCleanStopLeavesOneFileThatAnAgentWithoutTheJournalReads() throws IOException {
    RuntimeRouteStore store = RuntimeRouteStore.open(dir);
    List<RouteConfig> routes = new ArrayList<>();
    record(store, routes, RuntimeRouteStore.Change.add(route("10.1.0.0/16", "192.0.2.1")));
    record(store, routes, RuntimeRouteStore.Change.add(route("10.2.0.0/16", "192.0.2.1")));
    store.compact(routes);
    assertFalse(Files.exists(dir.resolve("routes.journal")));
    assertEquals(
        routes,
        List.of(
            JsonMapper.builder()
                .build()
                .readValue(dir.resolve("routes.json").toFile(), RouteConfig[].class)),
        "routes.json alone holds them");
    store.compact(routes); // nothing to fold: nothing written
    assertEquals(routes, RuntimeRouteStore.load(dir));
  }

  private static RuntimeRouteStore.Change randomChange(Random random) {
    String prefix = "10.77." + random.nextInt(40) + ".0/24";
    return random.nextInt(3) == 0
        ? RuntimeRouteStore.Change.remove(prefix)
        : RuntimeRouteStore.Change.add(route(prefix, "192.0.2." + (1 + random.nextInt(9))));
  }
}
