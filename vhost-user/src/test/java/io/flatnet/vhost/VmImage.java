package io.flatnet.vhost;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The test VM's kernel and initramfs, built (once, then cached) by {@code
 * vhost-user/vm/build-vm-image.sh}, and what is needed to run them: the Debian packages QEMU,
 * busybox-static and cpio (installed with apt-get when missing, as {@code ./flatnet} installs its
 * test tools), and the accelerator that works on this machine.
 */
record VmImage(Path kernel, Path initramfs) {
  static final List<String> PACKAGES = List.of("qemu-system-x86", "busybox-static", "cpio");

  /** The cache the script keeps its image in: -Dflatnet.vm.cache, $FLATNET_VM_CACHE, ~/.cache. */
  static Path cacheDir() {
    String configured = System.getProperty("flatnet.vm.cache", System.getenv("FLATNET_VM_CACHE"));
    if (configured != null && !configured.isBlank()) {
      return Path.of(configured);
    }
    return Path.of(System.getProperty("user.home"), ".cache", "flatnet", "vm");
  }

  static boolean onPath(String program) {
    String path = System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    for (String dir : path.split(File.pathSeparator)) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, program))) {
        return true;
      }
    }
    return false;
  }

  static boolean toolsPresent() throws IOException, InterruptedException {
    return onPath(QemuVm.QEMU) && onPath("cpio") && busyboxStatic();
  }

  /** busybox-static, not the dynamic busybox (both install /bin/busybox). */
  private static boolean busyboxStatic() throws IOException, InterruptedException {
    if (!Files.isExecutable(Path.of("/bin/busybox"))) {
      return false;
    }
    if (!onPath("dpkg-query")) {
      return true; // not Debian: the build script checks the binary itself
    }
    Process query =
        new ProcessBuilder("dpkg-query", "-W", "-f=${Status}", "busybox-static")
            .redirectErrorStream(true)
            .start();
    String status = new String(query.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return query.waitFor() == 0 && status.contains("ok installed");
  }

  /**
   * Installs the missing packages with apt-get (as root). Returns null when all is there, else what
   * went wrong.
   */
  static String installMissingTools(Path logDir) throws IOException, InterruptedException {
    if (toolsPresent()) {
      return null;
    }
    if (!onPath("apt-get")) {
      return "no apt-get to install " + String.join(" ", PACKAGES) + " with";
    }
    // Wait for a dpkg lock held by another install on this machine instead of failing at once.
    List<String> install =
        new ArrayList<>(
            List.of("apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq"));
    install.add("--no-install-recommends");
    install.addAll(PACKAGES);
    Path log = logDir.resolve("apt-get.log");
    System.out.println("VM pods: installing " + String.join(" ", PACKAGES) + " (apt-get)");
    if (run(install, log, 900) != 0) {
      // The package lists may be missing or stale on a fresh machine.
      run(List.of("apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-qq"), log, 600);
      if (run(install, log, 900) != 0) {
        return "apt-get install "
            + String.join(" ", PACKAGES)
            + " failed:\n"
            + Files.readString(log, StandardCharsets.ISO_8859_1);
      }
    }
    return null;
  }

  private static int run(List<String> command, Path log, int seconds)
      throws IOException, InterruptedException {
    ProcessBuilder builder =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    builder.environment().put("DEBIAN_FRONTEND", "noninteractive");
    Process process = builder.start();
    if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      return -1;
    }
    return process.exitValue();
  }

  /**
   * Runs {@code vm/build-vm-image.sh} (relative to the module directory, Surefire's working
   * directory): a no-op when the cached image is current, else about 15 s to fetch and unpack the
   * kernel package and pack the initramfs.
   */
  static VmImage build(Path logDir) throws IOException, InterruptedException {
    Path script = Path.of("vm", "build-vm-image.sh").toAbsolutePath();
    Path log = logDir.resolve("build-vm-image.log");
    Process process =
        new ProcessBuilder(script.toString(), cacheDir().toString())
            .redirectOutput(log.toFile())
            .redirectError(ProcessBuilder.Redirect.appendTo(logDir.resolve("build.err").toFile()))
            .start();
    boolean done = process.waitFor(600, TimeUnit.SECONDS);
    if (!done) {
      process.destroyForcibly();
    }
    String out = Files.readString(log);
    String err = Files.readString(logDir.resolve("build.err"));
    if (!done || process.exitValue() != 0) {
      throw new AssertionError(
          script + " failed" + (done ? " (exit " + process.exitValue() + ")" : "") + ":\n" + err);
    }
    Path kernel = null;
    Path initramfs = null;
    for (String line : out.split("\n")) {
      if (line.startsWith("kernel=")) {
        kernel = Path.of(line.substring("kernel=".length()));
      } else if (line.startsWith("initramfs=")) {
        initramfs = Path.of(line.substring("initramfs=".length()));
      }
    }
    if (kernel == null || initramfs == null) {
      throw new AssertionError(script + " printed no kernel= and initramfs=:\n" + out + err);
    }
    if (!err.isBlank()) {
      System.out.print(err);
    }
    return new VmImage(kernel, initramfs);
  }

  /**
   * {@code kvm} only if a guest really boots under it here, else {@code tcg}. -Dflatnet.vm.accel
   * forces one. The probe boots this image without devices and waits for its /init, at most 20 s,
   * once per host kernel and image (the verdict is kept in the cache): a {@code /dev/kvm} can exist
   * and still not run a Debian guest (kvm_pvm hangs it; QEMU may also abort on an MSR).
   */
  String accelerator(Path workDir) throws IOException, InterruptedException {
    String forced = System.getProperty("flatnet.vm.accel", "auto");
    if (!forced.equals("auto")) {
      return forced;
    }
    Path kvm = Path.of("/dev/kvm");
    if (!Files.isReadable(kvm) || !Files.isWritable(kvm)) {
      return "tcg";
    }
    String key =
        Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim()
            + " "
            + kernel.getParent().getFileName();
    Path verdict = cacheDir().resolve("kvm-probe");
    if (Files.exists(verdict)) {
      List<String> lines = Files.readAllLines(verdict);
      if (lines.size() >= 2 && lines.get(0).equals(key)) {
        return lines.get(1);
      }
    }
    QemuVm.Config config =
        new QemuVm.Config("kvm-probe", this, "kvm", null, null, false, null, "flatnet.probe=1");
    String accel = "tcg";
    try (QemuVm probe = QemuVm.start(config, workDir)) {
      boolean exited = probe.waitFor(20_000);
      boolean booted = probe.initLines().stream().anyMatch(l -> l.contains("init reached"));
      String why;
      if (booted) {
        accel = "kvm";
        why = "a guest boots under KVM; using it";
      } else if (exited) {
        why = "QEMU with KVM exited (" + probe.exitValue() + ") before the guest's /init; TCG";
      } else {
        why = "no guest /init in 20 s under KVM; TCG";
      }
      System.out.println("VM pods: KVM probe: " + why + " (verdict kept in " + verdict + ")");
    }
    Files.writeString(verdict, key + "\n" + accel + "\n");
    return accel;
  }
}
