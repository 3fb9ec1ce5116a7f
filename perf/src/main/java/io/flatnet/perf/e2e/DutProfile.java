package io.flatnet.perf.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Where the DUT's CPU goes during a trial's measured seconds ({@code bench e2e --profile}): {@code
 * perf record} samples that CPU (cpu-clock, every thread on it), then {@code perf report} splits
 * the DUT's samples by shared object. A poll-mode DUT owns its CPU, so a shared object's share of
 * the CPU's samples times the wall time per forwarded packet is what it costs a packet: the vhost
 * PMD ({@code librte_vhost}, {@code librte_net_vhost}) against the router's own code ({@code [JIT]}
 * for flatnet, {@code l3fwd-shared} for l3fwd), in one run and with the same packets.
 */
final class DutProfile {
  /** Samples a second: enough for a 1 % share to rest on ~100 samples in 10 s. */
  static final int FREQUENCY = 999;

  /** The key of the CPU's samples that were not the DUT's (other processes, the kernel idle). */
  static final String OTHER = "(not the DUT)";

  private final Process record;
  private final Path data;

  private DutProfile(Process record, Path data) {
    this.record = record;
    this.data = data;
  }

  /** The perf binary, or null if none is installed. */
  static String perfBinary() {
    for (String dir : List.of("/usr/bin", "/usr/local/bin", "/usr/sbin")) {
      if (Files.isExecutable(Path.of(dir, "perf"))) {
        return dir + "/perf";
      }
    }
    return null;
  }

  /** Starts sampling {@code cpu} for {@code seconds}, into {@code dir}. */
  static DutProfile start(Path dir, int cpu, int seconds) throws IOException {
    String perf = perfBinary();
    if (perf == null) {
      throw new IOException("--profile needs perf (apt-get install linux-perf)");
    }
    Path data = dir.resolve("perf.data");
    Process p =
        new ProcessBuilder(
                perf,
                "record",
                "-q",
                "-C",
                Integer.toString(cpu),
                "-F",
                Integer.toString(FREQUENCY),
                "-o",
                data.toString(),
                "--",
                "sleep",
                Integer.toString(seconds))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("perf-record.log").toFile())
            .start();
    return new DutProfile(p, data);
  }

  /**
   * Waits for the recording to end and returns each of the DUT's shared objects' share (0..1) of
   * the CPU's samples, largest first, plus {@link #OTHER}; {@code dutPid}: the DUT process (its
   * descendants are counted as the DUT too). Empty if perf failed; the log says why.
   */
  Map<String, Double> finish(long dutPid) throws IOException, InterruptedException {
    if (!record.waitFor(30, TimeUnit.SECONDS)) {
      record.destroyForcibly();
      return Map.of();
    }
    if (record.exitValue() != 0 || !Files.exists(data)) {
      return Map.of();
    }
    String pids =
        Stream.concat(
                Stream.of(dutPid),
                ProcessHandle.of(dutPid).stream()
                    .flatMap(ProcessHandle::descendants)
                    .map(ProcessHandle::pid))
            .map(String::valueOf)
            .collect(Collectors.joining(","));
    Process report =
        new ProcessBuilder(
                perfBinary(),
                "report",
                "-i",
                data.toString(),
                "--stdio",
                "-q",
                "--sort",
                "dso",
                "--pid",
                pids)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    String out = new String(report.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!report.waitFor(60, TimeUnit.SECONDS) || report.exitValue() != 0) {
      report.destroyForcibly();
      return Map.of();
    }
    return parseReport(out);
  }

  /** Stops the recording (a trial that ended early); its data is not read. */
  void cancel() {
    record.destroy();
  }

  /**
   * Parses {@code perf report --stdio -q --sort dso} (lines {@code " 74.11% librte_vhost.so.23.0"},
   * percentages of all samples even when filtered by pid): share by object, JIT code as one {@code
   * [JIT]} (perf names it per thread), and {@link #OTHER} for the rest of the CPU's samples.
   */
  static Map<String, Double> parseReport(String text) {
    Map<String, Double> shares = new LinkedHashMap<>();
    double sum = 0;
    for (String line : text.split("\n")) {
      String t = line.strip();
      int pct = t.indexOf('%');
      if (t.isEmpty() || t.startsWith("#") || pct <= 0) {
        continue;
      }
      double share;
      try {
        share = Double.parseDouble(t.substring(0, pct)) / 100;
      } catch (NumberFormatException e) {
        continue; // not a data line
      }
      String dso = t.substring(pct + 1).strip();
      if (dso.startsWith("[JIT]")) {
        dso = "[JIT]";
      }
      if (dso.isEmpty()) {
        continue;
      }
      shares.merge(dso, share, Double::sum);
      sum += share;
    }
    if (shares.isEmpty()) {
      return Map.of();
    }
    List<Map.Entry<String, Double>> sorted = new ArrayList<>(shares.entrySet());
    sorted.sort(Map.Entry.<String, Double>comparingByValue().reversed());
    Map<String, Double> result = new LinkedHashMap<>();
    for (Map.Entry<String, Double> e : sorted) {
      result.put(e.getKey(), e.getValue());
    }
    result.put(OTHER, Math.max(0, 1 - sum));
    return result;
  }

  /** True for the vhost PMD's objects: the part every DUT in bench e2e shares. */
  static boolean isVhost(String dso) {
    return dso.startsWith("librte_vhost") || dso.startsWith("librte_net_vhost");
  }

  /**
   * ns a packet in three parts from the shares and the trial's rate: the vhost PMD, the DUT's own
   * code (everything else of the DUT's), and what was not the DUT's.
   */
  static double[] nsPerPacket(Map<String, Double> shares, double mpps) {
    double perPacket = 1000 / mpps;
    double vhost = 0;
    double own = 0;
    double other = 0;
    for (Map.Entry<String, Double> e : shares.entrySet()) {
      if (e.getKey().equals(OTHER)) {
        other += e.getValue();
      } else if (isVhost(e.getKey())) {
        vhost += e.getValue();
      } else {
        own += e.getValue();
      }
    }
    return new double[] {vhost * perPacket, own * perPacket, other * perPacket};
  }

  /** One line for the progress output: the largest objects in ns a packet. */
  static String line(Map<String, Double> shares, double mpps) {
    return shares.entrySet().stream()
        .limit(5)
        .map(e -> String.format(Locale.ROOT, "%s %.1f ns", e.getKey(), e.getValue() * 1000 / mpps))
        .collect(Collectors.joining(", "));
  }
}
