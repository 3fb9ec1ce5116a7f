package io.flatnet.perf.e2e;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;

/**
 * Latency CDFs (one line per system and load) drawn with java.awt in headless mode and written as
 * PNG, as {@link BarChart} does: x is the latency in microseconds on a log scale, y the fraction of
 * probes at or below it on a "nines" scale (0, 90, 99, 99.9, 99.99 %) so the tail shows.
 */
public final class LatencyCdfChart {
  private LatencyCdfChart() {}

  /**
   * One line: {@code system} picks the colour (as in the bar chart), {@code shade} (0, 1, 2 ...)
   * the dash pattern, one per load.
   */
  public record Series(String label, String system, int shade, Histogram histogram) {}

  private static final float[][] DASHES = {null, {8f, 5f}, {2f, 4f}, {12f, 4f, 2f, 4f}};
  private static final double MAX_NINES = 4; // 99.99 %

  /** y for a cumulative fraction: -log10(1 - f), capped. */
  static double nines(double fraction) {
    return Math.min(MAX_NINES, -Math.log10(Math.max(1e-12, 1 - fraction)));
  }

  /** Writes the chart; false (and no file) if there is nothing to draw. */
  public static boolean write(Path file, String title, String subtitle, List<Series> series)
      throws IOException {
    if (series.isEmpty()) {
      return false;
    }
    System.setProperty("java.awt.headless", "true");
    int width = 1000;
    int height = 560;
    int left = 80;
    int right = 30;
    int top = 70;
    int bottom = 110;
    double lo = Double.MAX_VALUE;
    double hi = 0;
    for (Series s : series) {
      lo = Math.min(lo, Math.max(0.1, s.histogram().getMinValue() / 1e3));
      hi = Math.max(hi, s.histogram().getMaxValue() / 1e3);
    }
    double xMin = Math.pow(10, Math.floor(Math.log10(lo)));
    double xMax = Math.pow(10, Math.ceil(Math.log10(Math.max(hi, xMin * 10))));
    BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(
          RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, width, height);
      int plotW = width - left - right;
      int plotH = height - top - bottom;
      g.setColor(Color.BLACK);
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
      g.drawString(title, left, 24);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
      g.drawString(subtitle, left, 44);
      FontMetrics fm = g.getFontMetrics();
      double lxMin = Math.log10(xMin);
      double lxMax = Math.log10(xMax);
      // Vertical grid: decades and 2x, 5x.
      for (double decade = xMin; decade < xMax * 1.001; decade *= 10) {
        for (double m : new double[] {1, 2, 5}) {
          double v = decade * m;
          if (v > xMax * 1.001) {
            break;
          }
          int px = left + (int) Math.round((Math.log10(v) - lxMin) / (lxMax - lxMin) * plotW);
          g.setColor(m == 1 ? new Color(0xc8c8c8) : new Color(0xececec));
          g.drawLine(px, top, px, top + plotH);
          g.setColor(Color.DARK_GRAY);
          String label =
              v >= 1
                  ? String.format(Locale.ROOT, "%.0f", v)
                  : String.format(Locale.ROOT, "%.1f", v);
          g.drawString(label, px - fm.stringWidth(label) / 2, top + plotH + 16);
        }
      }
      // Horizontal grid: nines.
      String[] yLabels = {"0%", "90%", "99%", "99.9%", "99.99%"};
      for (int k = 0; k <= MAX_NINES; k++) {
        int py = top + plotH - (int) Math.round(k / MAX_NINES * plotH);
        g.setColor(new Color(0xd8d8d8));
        g.drawLine(left, py, left + plotW, py);
        g.setColor(Color.DARK_GRAY);
        g.drawString(yLabels[k], left - 8 - fm.stringWidth(yLabels[k]), py + 4);
      }
      g.setColor(Color.BLACK);
      g.drawLine(left, top, left, top + plotH);
      g.drawLine(left, top + plotH, left + plotW, top + plotH);
      g.drawString(
          "latency, microseconds (log scale): probe sent -> received, through the DUT",
          left + plotW / 2 - 220,
          top + plotH + 34);
      Graphics2D rotated = (Graphics2D) g.create();
      rotated.rotate(-Math.PI / 2);
      rotated.drawString("probes at or below (CDF)", -(top + plotH / 2 + 70), 18);
      rotated.dispose();
      // The lines.
      for (Series s : series) {
        Histogram h = s.histogram();
        Path2D.Double path = new Path2D.Double();
        long total = h.getTotalCount();
        long cumulative = 0;
        boolean first = true;
        for (HistogramIterationValue v : h.recordedValues()) {
          cumulative += v.getCountAtValueIteratedTo();
          double us = Math.max(xMin, h.highestEquivalentValue(v.getValueIteratedTo()) / 1e3);
          double x = left + (Math.log10(us) - lxMin) / (lxMax - lxMin) * plotW;
          double y = top + plotH - nines(cumulative / (double) total) / MAX_NINES * plotH;
          if (first) {
            path.moveTo(x, top + plotH);
            first = false;
          }
          path.lineTo(x, y);
        }
        float[] dash = DASHES[s.shade() % DASHES.length];
        g.setStroke(
            dash == null
                ? new BasicStroke(2f)
                : new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, dash, 0f));
        g.setColor(BarChart.colorOf(s.system(), 0));
        g.draw(path);
      }
      // Legend.
      g.setStroke(new BasicStroke(1f));
      int lx = left;
      int ly = height - 40;
      for (Series s : series) {
        float[] dash = DASHES[s.shade() % DASHES.length];
        g.setStroke(
            dash == null
                ? new BasicStroke(2f)
                : new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, dash, 0f));
        g.setColor(BarChart.colorOf(s.system(), 0));
        g.drawLine(lx, ly - 4, lx + 28, ly - 4);
        g.setColor(Color.BLACK);
        String text =
            String.format(
                Locale.ROOT,
                "%s (p99 %.1f us)",
                s.label(),
                s.histogram().getValueAtPercentile(99) / 1e3);
        g.drawString(text, lx + 34, ly);
        lx += 50 + g.getFontMetrics().stringWidth(text);
        if (lx > width - 220) {
          lx = left;
          ly += 18;
        }
      }
    } finally {
      g.dispose();
    }
    if (!ImageIO.write(img, "png", file.toFile())) {
      throw new IOException("no PNG writer");
    }
    return true;
  }
}
