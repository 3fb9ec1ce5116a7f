package io.flatnet.vhost;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * A small Linux VM under QEMU, the way a VM pod attaches to flatnet: guest memory shared from
 * hugetlbfs, a virtio-net device on a vhost-user socket, the kernel and initramfs of {@code
 * vhost-user/vm/build-vm-image.sh}, the serial console in a file. Its {@code /init} prints {@code
 * FLATNET-VM-RESULT key=value ...} when its ping is done, then powers off (QEMU exits).
 */
final class QemuVm implements AutoCloseable {
  static final String QEMU = "qemu-system-x86_64";
  static final String RESULT = "FLATNET-VM-RESULT ";

  /**
   * What to start.
   *
   * @param accel {@code tcg} or {@code kvm}
   * @param hugepageDir a directory on hugetlbfs for the guest memory (QEMU creates its file there
   *     and unlinks it at once), or null for anonymous memory (no vhost-user then)
   * @param socket the vhost-user socket, or null for no network device
   * @param qemuListens true: QEMU creates the socket and flatnet connects (a client-mode flatnet
   *     port); false: QEMU connects to flatnet's socket (a server-mode port)
   * @param mac the guest's MAC, as {@code 52:54:00:..}
   * @param kernelArgs appended to {@code console=ttyS0 ...}: {@code flatnet.*} for vm/init
   */
  record Config(
      String name,
      VmImage image,
      String accel,
      Path hugepageDir,
      Path socket,
      boolean qemuListens,
      String mac,
      String kernelArgs) {}

  private final Config config;
  private final Process process;
  private final Path serial;
  private final Path log;
  final long startedNanos;

  private QemuVm(Config config, Process process, Path serial, Path log, long startedNanos) {
    this.config = config;
    this.process = process;
    this.serial = serial;
    this.log = log;
    this.startedNanos = startedNanos;
  }

  static List<String> command(Config c, Path serial) {
    List<String> command = new ArrayList<>();
    command.add(QEMU);
    command.add("-name");
    command.add("flatnet-vm-" + c.name());
    String memory = c.hugepageDir() == null ? "" : ",memory-backend=mem";
    command.addAll(List.of("-machine", "pc,accel=" + c.accel() + memory));
    command.addAll(List.of("-cpu", c.accel().equals("kvm") ? "host" : "max"));
    command.addAll(List.of("-smp", "1", "-m", "128M"));
    if (c.hugepageDir() != null) {
      command.add("-object");
      command.add("memory-backend-file,id=mem,size=128M,mem-path=" + c.hugepageDir() + ",share=on");
    }
    if (c.socket() != null) {
      command.add("-chardev");
      command.add(
          "socket,id=chr0,path=" + c.socket() + (c.qemuListens() ? ",server=on,wait=off" : ""));
      command.addAll(List.of("-netdev", "vhost-user,id=net0,chardev=chr0"));
      command.add("-device");
      // vectors=0: QEMU 7.2 under TCG crashes in vhost_net_start with MSI-X vectors.
      // romfile=: no PXE option ROM to load, the kernel is booted directly.
      command.add("virtio-net-pci,netdev=net0,mac=" + c.mac() + ",vectors=0,romfile=");
    }
    command.addAll(List.of("-kernel", c.image().kernel().toString()));
    command.addAll(List.of("-initrd", c.image().initramfs().toString()));
    command.add("-append");
    command.add("console=ttyS0 panic=-1 loglevel=4 " + c.kernelArgs());
    command.addAll(List.of("-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"));
    command.addAll(List.of("-serial", "file:" + serial));
    return command;
  }

  /** Starts QEMU; its serial console goes to {@code dir/vm-NAME.serial}, its own output to .log. */
  static QemuVm start(Config config, Path dir) throws IOException {
    Path serial = dir.resolve("vm-" + config.name() + ".serial");
    Path log = dir.resolve("vm-" + config.name() + ".log");
    List<String> command = command(config, serial);
    Files.writeString(dir.resolve("vm-" + config.name() + ".cmd"), String.join(" ", command));
    long started = System.nanoTime();
    Process process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .start();
    return new QemuVm(config, process, serial, log, started);
  }

  String name() {
    return config.name();
  }

  boolean isAlive() {
    return process.isAlive();
  }

  boolean waitFor(long millis) throws InterruptedException {
    return process.waitFor(millis, TimeUnit.MILLISECONDS);
  }

  int exitValue() {
    return process.exitValue();
  }

  String serialText() {
    try {
      return Files.readString(serial, StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      return "";
    }
  }

  /** The lines vm/init printed (FLATNET-VM...), without the kernel's. */
  List<String> initLines() {
    return serialText().lines().filter(line -> line.startsWith("FLATNET-VM")).toList();
  }

  /** The fields of the guest's FLATNET-VM-RESULT line, once it printed one. */
  Optional<Map<String, String>> result() {
    return serialText()
        .lines()
        .filter(line -> line.startsWith(RESULT))
        .findFirst()
        .map(
            line -> {
              Map<String, String> fields = new TreeMap<>();
              for (String word : line.substring(RESULT.length()).trim().split("\\s+")) {
                int eq = word.indexOf('=');
                if (eq > 0) {
                  fields.put(word.substring(0, eq), word.substring(eq + 1));
                }
              }
              return fields;
            });
  }

  /** What went wrong, for an assertion message: QEMU's output and the console's tail. */
  String diagnostics() {
    String qemu;
    try {
      qemu = Files.readString(log, StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      qemu = "(no log)";
    }
    List<String> console = serialText().lines().toList();
    return "--- QEMU "
        + config.name()
        + (process.isAlive() ? " (running)" : " (exited " + process.exitValue() + ")")
        + " output:\n"
        + qemu
        + "\n--- serial console (last 40 lines):\n"
        + String.join("\n", console.subList(Math.max(0, console.size() - 40), console.size()));
  }

  /** Ends QEMU if the guest has not powered off: SIGTERM, then SIGKILL. */
  @Override
  public void close() {
    if (!process.isAlive()) {
      return;
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
