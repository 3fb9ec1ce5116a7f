package io.flatnet.perf.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** What the bench needs from the machine, each missing piece with the way to get it. */
public final class Prerequisites {
  private Prerequisites() {}

  /** HugePages_Free from /proc/meminfo, or -1 if it cannot be read. */
  static long freeHugepages(String meminfo) {
    for (String line : meminfo.split("\n")) {
      if (line.startsWith("HugePages_Free:")) {
        try {
          return Long.parseLong(line.substring("HugePages_Free:".length()).strip());
        } catch (NumberFormatException e) {
          return -1;
        }
      }
    }
    return -1;
  }

  /**
   * Waits up to {@code seconds} for {@code min} free hugepages (another DPDK program may be about
   * to exit), saying once that it waits. Returns the last count seen.
   */
  public static long waitForHugepages(long min, int seconds, java.io.PrintStream log)
      throws InterruptedException {
    long deadline = System.nanoTime() + seconds * 1_000_000_000L;
    boolean told = false;
    while (true) {
      long free;
      try {
        free = freeHugepages(Files.readString(Path.of("/proc/meminfo"), StandardCharsets.UTF_8));
      } catch (IOException e) {
        return -1;
      }
      if (free >= min || free < 0 || System.nanoTime() > deadline) {
        return free;
      }
      if (!told) {
        log.println(
            "flatnet bench e2e: "
                + free
                + " hugepages free, "
                + min
                + " needed; waiting up to "
                + seconds
                + " s for other DPDK programs to exit ...");
        told = true;
      }
      Thread.sleep(1000);
    }
  }

  /** The first directory on PATH holding an executable {@code name}, or null. */
  static Path onPath(String name) {
    String path = System.getenv("PATH");
    if (path == null) {
      return null;
    }
    for (String dir : path.split(":")) {
      if (dir.isEmpty()) {
        continue;
      }
      Path p = Path.of(dir, name);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  /** Runs a short command and returns its trimmed output, or null if it failed. */
  static String output(String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      if (!p.waitFor(20, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        return null;
      }
      return out;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /**
   * Problems that stop the bench, as lines to print; empty if everything is there.
   *
   * @param needL3fwdBuild whether l3fwd must be compiled (it is selected and not cached)
   * @param dutCpu the DUT's CPU, {@code genCpu} the generator's
   */
  public static List<String> check(
      long minFreeHugepages,
      boolean needL3fwdBuild,
      boolean needFlatnet,
      Path dataplaneClasspath,
      int dutCpu,
      int genCpu) {
    List<String> problems = new ArrayList<>();
    int cpus = Runtime.getRuntime().availableProcessors();
    if (cpus < 2) {
      problems.add(
          "needs 2 or more CPUs (generator and device under test each poll one); this JVM sees "
              + cpus);
    }
    if (dutCpu == genCpu) {
      problems.add(
          "--dut-cpu and --gen-cpu are both "
              + dutCpu
              + ": two busy pollers on one CPU run at about 30 kpps");
    }
    if (dutCpu < 0 || dutCpu >= cpus || genCpu < 0 || genCpu >= cpus) {
      problems.add("--dut-cpu/--gen-cpu must be 0.." + (cpus - 1));
    }
    try {
      long free = freeHugepages(Files.readString(Path.of("/proc/meminfo"), StandardCharsets.UTF_8));
      if (free < minFreeHugepages) {
        problems.add(
            "needs "
                + minFreeHugepages
                + " free hugepages (HugePages_Free in /proc/meminfo is "
                + free
                + "); as root: ./hugepages-setup.sh --pages 1024 (or echo 1024 >"
                + " /proc/sys/vm/nr_hugepages), and stop other DPDK programs");
      }
    } catch (IOException e) {
      problems.add("cannot read /proc/meminfo: " + e.getMessage());
    }
    if (onPath("dpdk-testpmd") == null) {
      problems.add(
          "dpdk-testpmd is not on PATH (generator and testpmd-io DUT); apt-get install dpdk");
    }
    if (needL3fwdBuild) {
      for (String tool : List.of("gcc", "make", "pkg-config")) {
        if (onPath(tool) == null) {
          problems.add(tool + " is not on PATH (to build l3fwd); apt-get install " + tool);
        }
      }
      if (onPath("pkg-config") != null && output("pkg-config", "--exists", "libdpdk") == null) {
        problems.add("pkg-config does not know libdpdk (to build l3fwd); apt-get install dpdk-dev");
      }
      if (!Files.exists(L3fwdBuild.EXAMPLES.resolve("l3fwd/main.c"))) {
        problems.add(
            L3fwdBuild.EXAMPLES.resolve("l3fwd")
                + " is missing (l3fwd's sources); apt-get install dpdk-doc");
      }
    }
    if (needFlatnet && !Files.exists(dataplaneClasspath)) {
      problems.add(
          dataplaneClasspath + " is missing (flatnet's classpath); run ./flatnet build first");
    }
    return problems;
  }
}
