package io.flatnet.vhost;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The Unix sockets of this network namespace by path, from {@code /proc/net/unix}: how many are
 * connected and whether one listens. A connection on a vhost-user path shows up there as the
 * accepting side's socket, which carries the listener's path: flatnet's own for a server port, the
 * VM's for a client port when the VM shares flatnet's network namespace.
 */
final class UnixSocketTable {
  /** {@code St} column: SS_CONNECTED. */
  private static final String CONNECTED = "03";

  /** {@code Flags} column bit __SO_ACCEPTCON: a listening socket. */
  private static final int ACCEPTCON = 0x10000;

  private final Map<String, int[]> byPath;

  private UnixSocketTable(Map<String, int[]> byPath) {
    this.byPath = byPath;
  }

  static UnixSocketTable empty() {
    return new UnixSocketTable(Map.of());
  }

  /** Reads the table; an unreadable file gives an empty table (no connection evidence). */
  static UnixSocketTable read(Path file) {
    try {
      return parse(Files.readAllLines(file, StandardCharsets.UTF_8));
    } catch (IOException e) {
      return empty();
    }
  }

  static UnixSocketTable parse(List<String> lines) {
    Map<String, int[]> byPath = new HashMap<>();
    for (int i = 1; i < lines.size(); i++) {
      String[] fields = lines.get(i).trim().split("\\s+", 8);
      if (fields.length < 8 || fields[7].isEmpty()) {
        continue;
      }
      int[] counts = byPath.computeIfAbsent(fields[7], path -> new int[2]);
      if (fields[5].equals(CONNECTED)) {
        counts[0]++;
      }
      try {
        if ((Integer.parseInt(fields[3], 16) & ACCEPTCON) != 0) {
          counts[1]++;
        }
      } catch (NumberFormatException e) {
        // not a line of the table
      }
    }
    return new UnixSocketTable(byPath);
  }

  /** Connected sockets that carry this path. */
  int connections(Path socket) {
    int[] counts = byPath.get(socket.toString());
    return counts == null ? 0 : counts[0];
  }

  /** True if a socket listens on this path in this namespace. */
  boolean listening(Path socket) {
    int[] counts = byPath.get(socket.toString());
    return counts != null && counts[1] > 0;
  }
}
