package io.flatnet.vhost;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.List;

/**
 * {@code <runDir>/vhost-ports.json}: every vhost-user port's status, replaced atomically (written
 * to a temporary file beside it, then renamed over it) so that a reader never sees half a file.
 */
public final class VhostStatusFile {
  public static final String NAME = "vhost-ports.json";

  /** The file's content. */
  public record Snapshot(String written, List<VhostPortStatus> ports) {}

  private static final ObjectMapper JSON =
      new ObjectMapper()
          .enable(SerializationFeature.INDENT_OUTPUT)
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private VhostStatusFile() {}

  public static Path in(Path runDir) {
    return runDir.resolve(NAME);
  }

  /** Writes the snapshot to {@code file} atomically. */
  public static void write(Path file, List<VhostPortStatus> ports, Instant now) {
    Path temp = file.resolveSibling("." + file.getFileName() + ".tmp");
    try {
      JSON.writeValue(temp.toFile(), new Snapshot(now.toString(), ports));
      Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  public static Snapshot read(Path file) throws IOException {
    return JSON.readValue(file.toFile(), new TypeReference<Snapshot>() {});
  }
}
