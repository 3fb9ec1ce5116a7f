package io.flatnet.vhost;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Renders {@code vhost-ports.json} as the table {@code ./flatnet ctl show pods} prints: one line a
 * pod, then the pods that have an error, with the error in full.
 */
public final class ShowPods {
  private ShowPods() {}

  private static final String[] HEADER = {
    "POD", "PORT", "MODE", "STATE", "FOR", "VID", "QUEUES", "REGIONS", "RX", "TX", "TX-ERR", "GONE",
    "SOCKET"
  };

  /** Reads the run directory's status file and renders it; says so if there is none. */
  public static String render(Path runDir) {
    Path file = VhostStatusFile.in(runDir);
    if (!Files.exists(file)) {
      return "no " + file + ": flatnet is not running, or it has no vhost-user pods\n";
    }
    try {
      return render(read(file), Instant.now());
    } catch (IOException e) {
      return "cannot read " + file + ": " + e.getMessage() + "\n";
    }
  }

  /** Reads a status file the monitor wrote. */
  static VhostStatusFile.Snapshot read(Path file) throws java.io.IOException {
    return new com.fasterxml.jackson.databind.ObjectMapper()
        .readValue(file.toFile(), VhostStatusFile.Snapshot.class);
  }

  /** Renders a snapshot; "FOR" counts from the state's start to {@code now}. */
  public static String render(VhostStatusFile.Snapshot snapshot, Instant now) {
    List<String[]> rows = new ArrayList<>();
    rows.add(HEADER);
    for (VhostPortStatus p : snapshot.ports()) {
      rows.add(
          new String[] {
            p.name(),
            Integer.toString(p.port()),
            p.mode(),
            p.state(),
            age(p.since(), now),
            p.vid() < 0 ? "-" : Integer.toString(p.vid()),
            p.vrings() == 0 ? p.queues() + "/-" : p.queues() + "/" + p.vrings() / 2,
            Integer.toString(p.memoryRegions()),
            Long.toString(p.rxPackets()),
            Long.toString(p.txPackets()),
            Long.toString(p.txErrors()),
            Long.toString(p.peerGoneCount()),
            p.socket()
          });
    }
    int[] widths = new int[HEADER.length];
    for (String[] row : rows) {
      for (int i = 0; i < row.length; i++) {
        widths[i] = Math.max(widths[i], row[i].length());
      }
    }
    StringBuilder out = new StringBuilder();
    for (String[] row : rows) {
      for (int i = 0; i < row.length; i++) {
        out.append(i == row.length - 1 ? row[i] : pad(row[i], widths[i] + 2));
      }
      out.append('\n');
    }
    if (snapshot.ports().isEmpty()) {
      out.append("(no vhost-user pods)\n");
    }
    for (VhostPortStatus p : snapshot.ports()) {
      if (!p.state().equals(VhostPortState.RUNNING.label())) {
        out.append(p.name()).append(": ").append(p.detail()).append('\n');
      }
      if (p.lastError() != null) {
        out.append(p.name())
            .append(": last error at ")
            .append(p.lastErrorAt())
            .append(": ")
            .append(p.lastError())
            .append('\n');
      }
    }
    out.append("(status written ").append(snapshot.written()).append(")\n");
    return out.toString();
  }

  private static String pad(String text, int width) {
    return text + " ".repeat(Math.max(0, width - text.length()));
  }

  static String age(String since, Instant now) {
    try {
      long seconds = Math.max(0, Duration.between(Instant.parse(since), now).toSeconds());
      if (seconds < 120) {
        return seconds + "s";
      }
      if (seconds < 7200) {
        return seconds / 60 + "m";
      }
      if (seconds < 172800) {
        return seconds / 3600 + "h";
      }
      return String.format(Locale.ROOT, "%dd", seconds / 86400);
    } catch (DateTimeParseException e) {
      return "?";
    }
  }

  /** {@code ShowPods [runDir]}: prints the table (default run directory /run/flatnet). */
  public static void main(String[] args) {
    System.out.print(render(Path.of(args.length > 0 ? args[0] : "/run/flatnet")));
  }
}
