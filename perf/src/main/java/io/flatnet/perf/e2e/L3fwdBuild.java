package io.flatnet.perf.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Builds DPDK's l3fwd example from the sources {@code dpdk-doc} installs, with the one change it
 * needs to run over vhost-user: {@code port_conf.rxmode.offloads} set to 0 (it asks for RX checksum
 * offload, which the vhost PMD lacks, and {@code rte_eth_dev_configure} fails with -22). Built with
 * the example's own Makefile (pkg-config libdpdk) and cached: the binary is reused while the DPDK
 * version and this patch stay the same.
 */
public final class L3fwdBuild {

  /** Where Debian's dpdk-doc puts the examples. */
  public static final Path EXAMPLES = Path.of("/usr/share/dpdk/examples");

  static final String OFFLOADS_ORIGINAL = ".offloads = RTE_ETH_RX_OFFLOAD_CHECKSUM,";
  static final String OFFLOADS_PATCHED =
      ".offloads = 0, /* flatnet bench e2e: vhost PMD has no RX checksum offload */";
  private static final String KEY_PREFIX = "l3fwd-e2e-patch-1 dpdk ";

  private L3fwdBuild() {}

  /** Patches l3fwd's main.c; fails unless the expected line occurs exactly once. */
  static String patchMainC(String source) {
    int first = source.indexOf(OFFLOADS_ORIGINAL);
    if (first < 0 || source.indexOf(OFFLOADS_ORIGINAL, first + 1) >= 0) {
      throw new IllegalStateException(
          "l3fwd main.c: expected exactly one '"
              + OFFLOADS_ORIGINAL
              + "' (port_conf.rxmode); this DPDK's l3fwd differs from 22.11");
    }
    return source.replace(OFFLOADS_ORIGINAL, OFFLOADS_PATCHED);
  }

  /**
   * The l3fwd binary in {@code cacheDir} (perf/target/l3fwd-build), built first if it is missing or
   * stale. Progress and the compiler's complaints go to {@code log}.
   */
  public static Path ensure(Path cacheDir, String dpdkVersion, java.io.PrintStream log)
      throws IOException, InterruptedException {
    Path src = cacheDir.resolve("l3fwd");
    Path binary = src.resolve("build/l3fwd-shared");
    Path stamp = cacheDir.resolve("build-key.txt");
    String key = KEY_PREFIX + dpdkVersion;
    if (Files.isExecutable(binary)
        && Files.exists(stamp)
        && Files.readString(stamp, StandardCharsets.UTF_8).strip().equals(key)) {
      return binary;
    }
    log.println("flatnet bench e2e: building DPDK l3fwd into " + cacheDir + " (once) ...");
    Processes.deleteTree(cacheDir);
    Files.createDirectories(cacheDir);
    copyTree(EXAMPLES.resolve("l3fwd"), src);
    copyTree(EXAMPLES.resolve("common"), cacheDir.resolve("common"));
    Path mainC = src.resolve("main.c");
    Files.writeString(
        mainC, patchMainC(Files.readString(mainC, StandardCharsets.UTF_8)), StandardCharsets.UTF_8);
    Path buildLog = cacheDir.resolve("build.log");
    Process make =
        new ProcessBuilder(List.of("make", "-C", src.toString(), "shared"))
            .redirectErrorStream(true)
            .redirectOutput(buildLog.toFile())
            .start();
    if (!make.waitFor(10, TimeUnit.MINUTES)) {
      make.destroyForcibly();
      throw new IOException("l3fwd build timed out; log: " + buildLog);
    }
    if (make.exitValue() != 0 || !Files.isExecutable(binary)) {
      List<String> lines = Files.readAllLines(buildLog, StandardCharsets.UTF_8);
      String tail = String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
      throw new IOException(
          "l3fwd build failed (make exit "
              + make.exitValue()
              + "); log "
              + buildLog
              + ":\n"
              + tail);
    }
    Files.writeString(stamp, key + "\n", StandardCharsets.UTF_8);
    return binary;
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> paths = Files.walk(from)) {
      for (Path p : (Iterable<Path>) paths::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }
}
