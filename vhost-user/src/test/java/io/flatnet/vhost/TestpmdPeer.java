package io.flatnet.vhost;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A pod played by {@code dpdk-testpmd} in its own process: virtio_user ports on vhost-user sockets,
 * both lcores on one CPU, statistics printed every second to a log that {@link #rxPackets} reads.
 */
final class TestpmdPeer implements AutoCloseable {
  private static final Pattern PORT_BLOCK = Pattern.compile("NIC statistics for port (\\d+)");
  private static final Pattern RX_PACKETS = Pattern.compile("RX-packets:\\s+(\\d+)");

  private final Process process;
  private final File log;
  private final OutputStream stdin;
  final long startedNanos;

  private TestpmdPeer(Process process, File log, long startedNanos) {
    this.process = process;
    this.log = log;
    this.stdin = process.getOutputStream();
    this.startedNanos = startedNanos;
  }

  /**
   * @param vdevs virtio_user devargs after {@code net_virtio_userN,} (path, queues, server, ...)
   * @param forwardMode rxonly, flowgen, txonly, io ...
   * @param queues RX and TX queues per port
   */
  static TestpmdPeer start(
      String name, List<String> vdevs, String forwardMode, int queues, int cpu, File dir)
      throws IOException {
    List<String> command = new ArrayList<>();
    // Line-buffered stdout: testpmd's once-a-second counters reach the log when printed, not when
    // a 4 KiB stdio buffer fills.
    command.add("stdbuf");
    command.add("-oL");
    command.add("dpdk-testpmd");
    command.add("--lcores=0@" + cpu + ",1@" + cpu);
    command.add("--in-memory");
    command.add("--single-file-segments"); // else vhost-user: "Too many memory regions"
    command.add("--no-pci");
    command.add("--no-telemetry");
    command.add("--log-level=warning");
    command.add("--file-prefix=" + name + "-" + ProcessHandle.current().pid());
    for (int i = 0; i < vdevs.size(); i++) {
      command.add("--vdev=net_virtio_user" + i + "," + vdevs.get(i));
    }
    command.add("--");
    command.add("--forward-mode=" + forwardMode);
    command.add("--nb-cores=1");
    command.add("--rxq=" + queues);
    command.add("--txq=" + queues);
    command.add("--rxd=1024");
    command.add("--txd=1024");
    command.add("--total-num-mbufs=16384");
    command.add("--auto-start");
    command.add("--stats-period=1");
    File log = new File(dir, name + ".log");
    Files.writeString(new File(dir, name + ".cmd").toPath(), String.join(" ", command) + "\n");
    long started = System.nanoTime();
    Process process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log))
            .start();
    return new TestpmdPeer(process, log, started);
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /** The last RX-packets testpmd printed for each port (-1 before the first report). */
  long[] rxPackets(int ports) {
    long[] rx = new long[ports];
    java.util.Arrays.fill(rx, -1);
    String text;
    try {
      text = Files.readString(log.toPath(), StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      return rx;
    }
    Matcher block = PORT_BLOCK.matcher(text);
    while (block.find()) {
      int port = Integer.parseInt(block.group(1));
      Matcher packets = RX_PACKETS.matcher(text);
      if (port < ports && packets.find(block.end())) {
        rx[port] = Long.parseLong(packets.group(1));
      }
    }
    return rx;
  }

  String logTail(int lines) {
    try {
      List<String> all = Files.readAllLines(log.toPath(), StandardCharsets.ISO_8859_1);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  /** SIGKILL, as a crashing VM or pod: no goodbye on the vhost-user socket. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    try {
      stdin.close();
    } catch (IOException ignored) {
      // gone already
    }
    process.destroy();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
