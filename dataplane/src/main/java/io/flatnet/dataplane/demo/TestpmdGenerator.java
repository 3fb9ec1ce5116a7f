package io.flatnet.dataplane.demo;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code dpdk-testpmd} as a traffic generator in its own process: {@code flowgen} over virtio_user
 * ports attached to flatnet's vhost-user sockets, its forwarding lcore pinned to one CPU. testpmd
 * 22.11's flowgen ignores {@code --tx-ip}: it always sends 10.254.0.0 to 10.253.0.0-10.253.3.255
 * (1,024 flows a port, four /24s), UDP 1000 to 1001, TTL 64.
 */
public final class TestpmdGenerator implements AutoCloseable {
  public static final String BINARY = "dpdk-testpmd";

  private final Process process;
  private final File log;
  private final OutputStream keepStdinOpen;

  private TestpmdGenerator(Process process, File log) {
    this.process = process;
    this.log = log;
    this.keepStdinOpen = process.getOutputStream();
  }

  /**
   * Starts testpmd.
   *
   * @param sockets the vhost-user sockets to attach virtio_user ports to, in port order
   * @param forwardingCpu the CPU of testpmd's forwarding lcore
   * @param mainCpu the CPU of testpmd's (mostly idle) main lcore
   * @param frameSize bytes per generated frame
   */
  public static TestpmdGenerator start(
      List<String> sockets, int forwardingCpu, int mainCpu, int frameSize, File workDir)
      throws IOException {
    List<String> command = new ArrayList<>();
    command.add(BINARY);
    command.add("--lcores=0@" + mainCpu + ",1@" + forwardingCpu);
    command.add("--in-memory");
    command.add("--single-file-segments"); // else vhost-user fails: "Too many memory regions"
    command.add("--no-pci");
    command.add("--no-telemetry");
    command.add("--file-prefix=flatnet-gen-" + ProcessHandle.current().pid());
    for (int i = 0; i < sockets.size(); i++) {
      command.add("--vdev=net_virtio_user" + i + ",path=" + sockets.get(i) + ",queues=1");
    }
    command.add("--");
    command.add("--forward-mode=flowgen");
    command.add("--txpkts=" + frameSize);
    command.add("--burst=32");
    command.add("--nb-cores=1");
    command.add("--rxq=1");
    command.add("--txq=1");
    command.add("--auto-start");
    command.add("--stats-period=1"); // keeps testpmd running until it is signalled
    File log = new File(workDir, "testpmd.log");
    Process process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(log)
            .redirectInput(ProcessBuilder.Redirect.PIPE)
            .start();
    Files.writeString(
        new File(workDir, "testpmd.cmd").toPath(),
        String.join(" ", command) + "\n",
        StandardCharsets.UTF_8);
    return new TestpmdGenerator(process, log);
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  public File log() {
    return log;
  }

  /** The last lines testpmd printed, for error messages. */
  public String logTail(int lines) {
    try {
      List<String> all = Files.readAllLines(log.toPath(), StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(no testpmd log: " + e.getMessage() + ")";
    }
  }

  /** Stops testpmd: SIGTERM (it shuts its ports down cleanly), then SIGKILL after 5 s. */
  @Override
  public void close() {
    try {
      keepStdinOpen.close();
    } catch (IOException ignored) {
      // testpmd may already be gone.
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
