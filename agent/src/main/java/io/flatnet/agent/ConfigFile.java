package io.flatnet.agent;

import io.flatnet.agent.config.ConfigError;
import io.flatnet.agent.config.ConfigException;
import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.NodeConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The node config file: parses it, and remembers the bytes last loaded so that a watch event that
 * leaves them the same (a ConfigMap symlink swap, a touch of another file) is no change. Not
 * thread-safe: the {@link Agent} serialises.
 */
final class ConfigFile {

  private static final System.Logger LOG = System.getLogger(Agent.class.getName());

  private final Path path;
  private byte[] lastSeenBytes;

  ConfigFile(Path path) {
    this.path = path;
  }

  Path path() {
    return path;
  }

  /**
   * Reads and parses the file (not validated).
   *
   * @throws ConfigException if it cannot be read or parsed
   */
  NodeConfig load() throws ConfigException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(path);
    } catch (IOException e) {
      throw new ConfigException(
          path.toString(),
          List.of(new ConfigError("(file)", path.toString(), "cannot read: " + e)));
    }
    lastSeenBytes = bytes;
    return ConfigLoader.parse(new String(bytes, StandardCharsets.UTF_8), path.toString());
  }

  /** Whether the file now differs from the bytes last loaded (an unreadable file does not). */
  boolean changed() {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(path);
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "cannot read " + path + ": " + e);
      return false;
    }
    return lastSeenBytes == null || !Arrays.equals(bytes, lastSeenBytes);
  }

  /** The next {@link #changed()} is true: the last load may have failed for a transient reason. */
  void forgetLastSeen() {
    lastSeenBytes = null;
  }
}
