package io.flatnet.agent.state;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.flatnet.agent.config.IpNet;
import io.flatnet.agent.config.RouteConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where the agent keeps the routes added at run time ({@code ctl route add|del}) across restarts,
 * in its state directory: a snapshot, {@code routes.json} (a JSON array of routes), and a journal,
 * {@code routes.journal} (one JSON line per change since the snapshot: {@code {"add":{route}}} or
 * {@code {"del":"prefix"}}).
 *
 * <p>A change is appended to the journal, one write per group of changes. Rewriting the snapshot
 * each time (a temporary file renamed over it) made ext4 write the file out before the rename (its
 * {@code auto_da_alloc}): measured here, that was 0.2 ms of the agent's CPU and a disk write per
 * change. A snapshot replaces the journal once it holds more than {@link #COMPACT_AFTER} lines, and
 * at a clean stop. As before, nothing is fsynced: a killed agent loses nothing it answered for, a
 * crashed machine may lose the last changes. The journal is written before the snapshot, and
 * replaying it over a snapshot that already has its changes gives that snapshot (each line sets or
 * removes one prefix, in place), so an agent killed between writing the snapshot and removing the
 * journal reads the same routes.
 */
public final class RuntimeRouteStore {
  /** Journal lines beyond which a snapshot replaces the journal. */
  public static final int COMPACT_AFTER = 4096;

  private static final ObjectMapper JSON =
      JsonMapper.builder().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

  /** One change: a route added (or replaced), or a prefix removed. */
  public record Change(RouteConfig added, String removed) {
    public static Change add(RouteConfig route) {
      return new Change(route, null);
    }

    public static Change remove(String prefix) {
      return new Change(null, prefix);
    }
  }

  private final Path snapshot;
  private final Path journal;
  private int journalLines;

  private RuntimeRouteStore(Path stateDir, int journalLines) {
    this.snapshot = stateDir.resolve("routes.json");
    this.journal = stateDir.resolve("routes.journal");
    this.journalLines = journalLines;
  }

  /**
   * The store of {@code stateDir}, for writing; {@link #load} reads what it holds.
   *
   * @throws IOException if the journal cannot be read
   */
  public static RuntimeRouteStore open(Path stateDir) throws IOException {
    Path j = stateDir.resolve("routes.journal");
    int lines = 0;
    if (Files.exists(j)) {
      for (String line : Files.readAllLines(j, StandardCharsets.UTF_8)) {
        lines += line.isBlank() ? 0 : 1;
      }
    }
    return new RuntimeRouteStore(stateDir, lines);
  }

  /**
   * The routes kept in {@code stateDir}: the snapshot with the journal replayed (none if neither
   * file exists). A last journal line cut short (the agent was killed while writing it, so the
   * change was never answered) is ignored.
   *
   * @throws IOException if a file cannot be read, or a line other than the last is not a change
   */
  public static List<RouteConfig> load(Path stateDir) throws IOException {
    Path s = stateDir.resolve("routes.json");
    Map<Object, RouteConfig> routes =
        Files.exists(s)
            ? byNetwork(List.of(JSON.readValue(s.toFile(), RouteConfig[].class)))
            : new LinkedHashMap<>();
    Path j = stateDir.resolve("routes.journal");
    if (!Files.exists(j)) {
      return new ArrayList<>(routes.values());
    }
    String text = Files.readString(j, StandardCharsets.UTF_8);
    String[] lines = text.split("\n", -1);
    for (int n = 0; n < lines.length; n++) {
      String line = lines[n];
      if (line.isBlank()) {
        continue;
      }
      Change change;
      try {
        change = decode(line);
      } catch (IOException | IllegalArgumentException e) {
        if (n == lines.length - 1) { // no newline after it: the write was cut short
          break;
        }
        throw new IOException(j + " line " + (n + 1) + ": not a route change: " + e.getMessage());
      }
      apply(routes, change);
    }
    return new ArrayList<>(routes.values());
  }

  /**
   * {@code routes} by network ({@link #networkKey}), in their order: the form {@link #apply} works
   * on, one lookup a change instead of a parse of every route.
   */
  public static LinkedHashMap<Object, RouteConfig> byNetwork(List<RouteConfig> routes) {
    LinkedHashMap<Object, RouteConfig> map = new LinkedHashMap<>();
    for (RouteConfig r : routes) {
      map.put(networkKey(r.prefix()), r);
    }
    return map;
  }

  /**
   * {@code routes} (by network) with {@code change} made, as a journal replay makes it: a replaced
   * route keeps its place.
   */
  public static void apply(Map<Object, RouteConfig> routes, Change change) {
    if (change.added() != null) {
      routes.put(networkKey(change.added().prefix()), change.added());
    } else {
      routes.remove(networkKey(change.removed()));
    }
  }

  /**
   * What two prefixes that are the same network share (10.1.0.0/16 and " 10.1.0.0/16", or
   * 2001:db8::/32 and 2001:0db8:0::/32): the parsed network, or the trimmed text if it does not
   * parse.
   */
  public static Object networkKey(String prefix) {
    try {
      return IpNet.parse(prefix.trim());
    } catch (IllegalArgumentException e) {
      return prefix.trim();
    }
  }

  /** Whether two prefixes are the same network. */
  public static boolean samePrefix(String a, String b) {
    return networkKey(a).equals(networkKey(b));
  }

  /**
   * Keeps {@code changes}, after which the runtime routes are {@code after}: one append to the
   * journal; when the journal then holds more than {@link #COMPACT_AFTER} lines, a snapshot of
   * {@code after} replaces it.
   */
  public void record(List<Change> changes, List<RouteConfig> after) throws IOException {
    append(changes); // first: the journal holds every change the snapshot will have
    if (journalLines > COMPACT_AFTER) {
      compact(after);
    }
  }

  /**
   * A snapshot of {@code routes} (the routes after every change recorded) in place of the journal,
   * if there is one. Also at a clean stop: one file, which an agent that knows no journal reads.
   */
  public void compact(List<RouteConfig> routes) throws IOException {
    if (journalLines == 0 && !Files.exists(journal)) {
      return;
    }
    writeSnapshot(routes);
    // Killed here: the journal replays over the new snapshot to the same routes.
    removeJournal();
  }

  void append(List<Change> changes) throws IOException {
    StringBuilder lines = new StringBuilder();
    for (Change c : changes) {
      lines.append(encode(c)).append('\n');
    }
    Files.writeString(
        journal,
        lines,
        StandardCharsets.UTF_8,
        StandardOpenOption.CREATE,
        StandardOpenOption.APPEND,
        StandardOpenOption.WRITE);
    journalLines += changes.size();
  }

  void writeSnapshot(List<RouteConfig> routes) throws IOException {
    Path tmp = snapshot.resolveSibling("routes.json.tmp");
    JSON.writeValue(tmp.toFile(), routes);
    Files.move(tmp, snapshot, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  void removeJournal() throws IOException {
    Files.deleteIfExists(journal);
    journalLines = 0;
  }

  /** Journal lines now (for tests). */
  int journalLines() {
    return journalLines;
  }

  static String encode(Change c) throws JsonProcessingException {
    ObjectNode line = JSON.createObjectNode();
    if (c.added() != null) {
      line.set("add", JSON.valueToTree(c.added()));
    } else {
      line.put("del", c.removed());
    }
    return JSON.writeValueAsString(line);
  }

  static Change decode(String line) throws IOException {
    JsonNode node = JSON.readTree(line);
    if (node != null && node.hasNonNull("add")) {
      RouteConfig r = JSON.treeToValue(node.get("add"), RouteConfig.class);
      if (r.prefix() == null) {
        throw new IllegalArgumentException("an add without a prefix");
      }
      return Change.add(r);
    }
    if (node != null && node.path("del").isTextual()) {
      return Change.remove(node.get("del").asText());
    }
    throw new IllegalArgumentException("neither add nor del: " + line);
  }
}
