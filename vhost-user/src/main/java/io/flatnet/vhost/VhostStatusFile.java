package io.flatnet.vhost;

import io.flatnet.control.JsonText;
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

  private VhostStatusFile() {}

  public static Path in(Path runDir) {
    return runDir.resolve(NAME);
  }

  /** Writes the snapshot to {@code file} atomically. */
  public static void write(Path file, List<VhostPortStatus> ports, Instant now) {
    Path temp = file.resolveSibling("." + file.getFileName() + ".tmp");
    try {
      Files.writeString(temp, json(now, ports) + "\n");
      Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  /** The file's JSON: {@code {"written": ..., "ports": [{status fields}]}}. */
  static String json(Instant now, List<VhostPortStatus> ports) {
    JsonText.Obj root = JsonText.object().put("written", now.toString());
    JsonText.Arr list = root.putArray("ports");
    for (VhostPortStatus p : ports) {
      JsonText.Obj o = list.addObject();
      o.put("name", p.name()).put("port", p.port()).put("mode", p.mode());
      o.put("socket", p.socket()).put("queues", p.queues()).put("state", p.state());
      o.put("since", p.since()).put("secondsInState", p.secondsInState());
      o.put("detail", p.detail()).put("linkUp", p.linkUp()).put("vid", p.vid());
      o.put("features", p.features()).put("vrings", p.vrings());
      o.put("memoryRegions", p.memoryRegions()).put("transitions", p.transitions());
      JsonText.Obj counts = o.putObject("transitionCounts");
      p.transitionCounts().forEach(counts::put);
      o.put("peerGoneCount", p.peerGoneCount()).put("lastPeerGone", p.lastPeerGone());
      o.put("lastError", p.lastError()).put("lastErrorAt", p.lastErrorAt());
      o.put("rxPackets", p.rxPackets()).put("txPackets", p.txPackets());
      o.put("txErrors", p.txErrors());
    }
    return root.toString();
  }
}
