package io.flatnet.agent;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.flatnet.agent.config.PodConfig;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Pods the CNI plugin added, kept on disk so an agent restart knows them: one JSON file per pod
 * under {@code <stateDir>/pods/}, named by the URL-encoded pod name ({@code default%2Fweb-1.json}),
 * written to a temporary file and renamed into place. Not thread-safe (the agent serialises).
 */
final class RuntimePods {

  /** A runtime pod: the container that added it and its config. */
  record Entry(String containerId, PodConfig pod) {}

  private static final System.Logger LOG = System.getLogger(RuntimePods.class.getName());
  private static final ObjectMapper JSON =
      JsonMapper.builder().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

  private final Path dir;
  private final Map<String, Entry> pods = new TreeMap<>();

  RuntimePods(Path stateDir) throws IOException {
    this.dir = stateDir.resolve("pods");
    Files.createDirectories(dir);
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.json")) {
      for (Path f : files) {
        try {
          Entry e = JSON.readValue(f.toFile(), Entry.class);
          if (e == null || e.pod() == null || e.pod().name() == null) {
            throw new IOException("no pod in file");
          }
          pods.put(e.pod().name(), e);
        } catch (IOException e) {
          Path bad = f.resolveSibling(f.getFileName() + ".bad");
          LOG.log(
              System.Logger.Level.ERROR,
              "ignoring unreadable runtime pod file " + f + " (moved to " + bad + "): " + e);
          Files.move(f, bad, StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }

  /**
   * The container IDs of every runtime pod, or empty if that list may be incomplete (a pod record
   * was unreadable, or has no container ID): then nothing may be taken for gone.
   */
  java.util.Optional<java.util.Set<String>> containerIdsIfComplete() throws IOException {
    try (DirectoryStream<Path> bad = Files.newDirectoryStream(dir, "*.bad")) {
      if (bad.iterator().hasNext()) {
        return java.util.Optional.empty();
      }
    }
    java.util.Set<String> ids = new java.util.TreeSet<>();
    for (Entry e : pods.values()) {
      if (e.containerId() == null || e.containerId().isBlank()) {
        return java.util.Optional.empty();
      }
      ids.add(e.containerId());
    }
    return java.util.Optional.of(ids);
  }

  Entry get(String name) {
    return pods.get(name);
  }

  Collection<PodConfig> configs() {
    List<PodConfig> l = new ArrayList<>();
    pods.values().forEach(e -> l.add(e.pod()));
    return l;
  }

  /** The pod configs with {@code name} replaced by {@code pod} (or removed if null). */
  Collection<PodConfig> configsWith(String name, PodConfig pod) {
    Map<String, PodConfig> m = new TreeMap<>();
    pods.forEach((k, v) -> m.put(k, v.pod()));
    if (pod == null) {
      m.remove(name);
    } else {
      m.put(name, pod);
    }
    return m.values();
  }

  void put(Entry e) throws IOException {
    Path f = file(e.pod().name());
    Path tmp = f.resolveSibling(f.getFileName() + ".tmp");
    JSON.writeValue(tmp.toFile(), e);
    Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    pods.put(e.pod().name(), e);
  }

  void remove(String name) throws IOException {
    Files.deleteIfExists(file(name));
    pods.remove(name);
  }

  /** Restores {@code name} to {@code previous} (null: absent), on disk and in memory. */
  void restore(String name, Entry previous) throws IOException {
    if (previous == null) {
      remove(name);
    } else {
      put(previous);
    }
  }

  private Path file(String name) {
    return dir.resolve(URLEncoder.encode(name, StandardCharsets.UTF_8) + ".json");
  }
}
