package io.flatnet.perf.e2e;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Medians, spreads and per-round ratios; NaN marks a failed trial and is left out. */
public final class Stats {
  private Stats() {}

  /** Median, min and max of the finite values, and how many there were. */
  public record Summary(double median, double min, double max, int count) {
    public static final Summary EMPTY = new Summary(Double.NaN, Double.NaN, Double.NaN, 0);
  }

  /** The summary of the finite values in {@code values} (EMPTY if none). */
  public static Summary summarize(double[] values) {
    double[] v = Arrays.stream(values).filter(Double::isFinite).sorted().toArray();
    if (v.length == 0) {
      return Summary.EMPTY;
    }
    int n = v.length;
    double median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return new Summary(median, v[0], v[n - 1], n);
  }

  /** Per-round ratios {@code a[i] / b[i]}; NaN where either is missing or b is not positive. */
  public static double[] ratios(double[] a, double[] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException("rounds differ: " + a.length + " vs " + b.length);
    }
    double[] r = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      r[i] = Double.isFinite(a[i]) && Double.isFinite(b[i]) && b[i] > 0 ? a[i] / b[i] : Double.NaN;
    }
    return r;
  }

  /**
   * Parses a comma-separated list of frame sizes, each 64..1518 bytes or {@code imix} ({@link
   * FrameSize#IMIX}).
   */
  public static List<Integer> parseSizes(String text) {
    List<Integer> sizes = new ArrayList<>();
    for (String part : text.split(",")) {
      if (part.isBlank()) {
        continue;
      }
      int size = FrameSize.parse(part);
      if (!sizes.contains(size)) {
        sizes.add(size);
      }
    }
    if (sizes.isEmpty()) {
      throw new IllegalArgumentException("no frame sizes in '" + text + "'");
    }
    return List.copyOf(sizes);
  }
}
