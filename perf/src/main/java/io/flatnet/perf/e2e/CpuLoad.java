package io.flatnet.perf.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * How busy each CPU is, from two reads of /proc/stat: taken just before a trial (when none of the
 * bench's processes runs), it shows other work that would share the pollers' CPUs.
 */
public final class CpuLoad {
  private CpuLoad() {}

  /** Busy and total jiffies per CPU ("cpuN" lines), indexed by N; null if unreadable. */
  static long[][] parse(String procStat, int cpus) {
    long[][] out = new long[cpus][2];
    for (long[] row : out) {
      Arrays.fill(row, -1);
    }
    for (String line : procStat.split("\n")) {
      if (!line.startsWith("cpu") || line.startsWith("cpu ")) {
        continue;
      }
      String[] f = line.trim().split("\\s+");
      int cpu;
      try {
        cpu = Integer.parseInt(f[0].substring(3));
      } catch (NumberFormatException e) {
        continue;
      }
      if (cpu >= cpus || f.length < 5) {
        continue;
      }
      long total = 0;
      for (int i = 1; i < f.length; i++) {
        total += Long.parseLong(f[i]);
      }
      long idle = Long.parseLong(f[4]) + (f.length > 5 ? Long.parseLong(f[5]) : 0); // idle+iowait
      out[cpu][0] = total - idle;
      out[cpu][1] = total;
    }
    return out;
  }

  /** Busy fraction of each CPU over {@code millis}; NaN where unknown. */
  public static double[] sample(int cpus, long millis) throws InterruptedException {
    try {
      Path stat = Path.of("/proc/stat");
      long[][] a = parse(Files.readString(stat, StandardCharsets.UTF_8), cpus);
      Thread.sleep(millis);
      long[][] b = parse(Files.readString(stat, StandardCharsets.UTF_8), cpus);
      double[] busy = new double[cpus];
      for (int i = 0; i < cpus; i++) {
        long dt = b[i][1] - a[i][1];
        busy[i] = a[i][1] < 0 || dt <= 0 ? Double.NaN : (b[i][0] - a[i][0]) / (double) dt;
      }
      return busy;
    } catch (IOException | NumberFormatException e) {
      double[] unknown = new double[cpus];
      Arrays.fill(unknown, Double.NaN);
      return unknown;
    }
  }
}
