package io.flatnet.agent.ctl;

import io.flatnet.control.CountersFile;
import java.io.File;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.agrona.concurrent.status.CountersReader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./flatnet ctl counters}: maps the dataplane's shared-memory counters read-only, from
 * outside; the workers never notice.
 */
@Command(
    name = "counters",
    mixinStandardHelpOptions = true,
    description = {
      "Prints the router's counters: per port, per drop reason, per event, summed over workers"
          + " (the longest loop: the maximum over workers), then each worker's longest stall.",
      "A worker's loop time runs from one loop's start to the next: its own work, its idle"
          + " strategy's wait, and any time its thread was off the CPU. Loops of 1024 us or more"
          + " are stalls that a 1024-descriptor ring fills in at 1 Mpps."
    })
public final class CountersCommand implements Callable<Integer> {
  @Option(
      names = "--dir",
      description = "The router's run directory (default " + CtlMain.DEFAULT_RUN_DIR + ").")
  File dir = new File(CtlMain.DEFAULT_RUN_DIR);

  @Option(names = "--workers", description = "Show each worker's counters instead of sums.")
  boolean perWorker;

  @Option(names = "--all", description = "Show counters that are zero too.")
  boolean all;

  @Option(names = "--watch", description = "Print again every N seconds, with rates.")
  int watchSeconds;

  @Option(
      names = "--rate",
      description =
          "Print only per-second rates of the counters that moved (ports, drop reasons, events),"
              + " one block per interval (--watch N seconds, default 1), until interrupted or"
              + " --samples blocks are printed.")
  boolean rate;

  @Option(names = "--samples", description = "With --rate: stop after N blocks.")
  int samples;

  @Override
  public Integer call() throws InterruptedException {
    File file = new File(dir, CountersFile.FILE);
    if (!file.isFile()) {
      System.err.println(
          "flatnet ctl: no counters at "
              + file
              + ": is the router running, and with --dir "
              + dir
              + "?");
      return 1;
    }
    CountersReader reader = CountersFile.openReader(file);
    if (rate) {
      printRates(reader);
      return 0;
    }
    Map<String, Long> previous = null;
    do {
      Map<String, Long> now = read(reader);
      print(now, previous);
      printStalls(reader);
      previous = now;
      if (watchSeconds > 0) {
        Thread.sleep(watchSeconds * 1000L);
        System.out.println();
      }
    } while (watchSeconds > 0);
    return 0;
  }

  /**
   * Rates as a time series: each block is stamped with its end time and lists, per counter that
   * moved in the interval, its change per second. Sums and longest loops are read as {@link #read}
   * does; a longest loop is a maximum, not a count, so it has no rate and is left out.
   */
  private void printRates(CountersReader reader) throws InterruptedException {
    long intervalNanos = Math.max(1, watchSeconds) * 1_000_000_000L;
    Map<String, Long> previous = read(reader);
    long previousAt = System.nanoTime();
    for (int block = 0; samples <= 0 || block < samples; block++) {
      Thread.sleep(intervalNanos / 1_000_000);
      Map<String, Long> now = read(reader);
      long nowAt = System.nanoTime();
      double seconds = (nowAt - previousAt) / 1e9;
      System.out.println(
          Instant.now() + " rates over " + String.format(Locale.ROOT, "%.2f s", seconds));
      int width = now.keySet().stream().mapToInt(String::length).max().orElse(10);
      boolean any = false;
      for (Map.Entry<String, Long> entry : now.entrySet()) {
        if (entry.getKey().endsWith(CountersFile.LONGEST_LOOP)) {
          continue;
        }
        long delta = entry.getValue() - previous.getOrDefault(entry.getKey(), 0L);
        if (delta == 0 && !all) {
          continue;
        }
        any = true;
        System.out.printf(
            Locale.ROOT, "  %-" + width + "s %,16.1f/s%n", entry.getKey(), delta / seconds);
      }
      if (!any) {
        System.out.println("  (no counter moved)");
      }
      System.out.flush();
      previous = now;
      previousAt = nowAt;
    }
  }

  private Map<String, Long> read(CountersReader reader) {
    Map<String, Long> values = new TreeMap<>();
    reader.forEach(
        (counterId, typeId, key, label) -> {
          String name = perWorker ? label : label.replaceFirst("^worker \\d+ ", "");
          if (name.endsWith(CountersFile.LONGEST_LOOP_AT)) {
            return; // a time, not a count: the stall lines below show it
          }
          values.merge(
              name,
              reader.getCounterValue(counterId),
              name.endsWith(CountersFile.LONGEST_LOOP) ? Math::max : Long::sum);
        });
    return values;
  }

  /**
   * One line per worker: its longest loop since it started (how long its RX queues went unpolled),
   * when, and how many of its loops took 1024 µs or more.
   */
  private static void printStalls(CountersReader reader) {
    Map<Integer, long[]> workers = new TreeMap<>(); // longest ns, at epoch ms, loops, >=1024us
    List<String> slow = new ArrayList<>();
    for (int b = CountersFile.FIRST_MILLISECOND_BUCKET; b < CountersFile.LOOP_BUCKETS; b++) {
      slow.add(CountersFile.loopBucketLabel(b));
    }
    reader.forEach(
        (counterId, typeId, key, label) -> {
          if (typeId != CountersFile.TYPE_LOOP || !label.startsWith("worker ")) {
            return;
          }
          int space = label.indexOf(' ', 7);
          int worker = Integer.parseInt(label.substring(7, space));
          String rest = label.substring(space + 1);
          long[] w = workers.computeIfAbsent(worker, k -> new long[4]);
          long v = reader.getCounterValue(counterId);
          switch (rest) {
            case CountersFile.LONGEST_LOOP -> w[0] = v;
            case CountersFile.LONGEST_LOOP_AT -> w[1] = v;
            case CountersFile.LOOPS -> w[2] = v;
            default -> {
              if (slow.contains(rest)) {
                w[3] += v;
              }
            }
          }
        });
    for (Map.Entry<Integer, long[]> e : workers.entrySet()) {
      long[] w = e.getValue();
      System.out.printf(
          Locale.ROOT,
          "worker %d longest stall: %,.1f us%s; %,d of %,d loops took >=1024 us%n",
          e.getKey(),
          w[0] / 1e3,
          w[1] == 0 ? "" : " at " + Instant.ofEpochMilli(w[1]),
          w[3],
          w[2]);
    }
  }

  private void print(Map<String, Long> now, Map<String, Long> previous) {
    int width = now.keySet().stream().mapToInt(String::length).max().orElse(10);
    for (Map.Entry<String, Long> entry : now.entrySet()) {
      long value = entry.getValue();
      if (value == 0 && !all) {
        continue;
      }
      String line = String.format(Locale.ROOT, "%-" + width + "s %,18d", entry.getKey(), value);
      if (previous != null && previous.containsKey(entry.getKey())) {
        double rate = (value - previous.get(entry.getKey())) / (double) watchSeconds;
        line += String.format(Locale.ROOT, "  %,14.0f/s", rate);
      }
      System.out.println(line);
    }
  }
}
