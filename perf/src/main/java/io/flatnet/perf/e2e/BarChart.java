package io.flatnet.perf.e2e;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * A grouped bar chart (Mpps by frame size, one bar per system, a whisker from the slowest to the
 * fastest round) drawn with java.awt in headless mode and written as PNG: no chart library.
 */
public final class BarChart {
  private static final Color[] COLORS = {
    new Color(0x9e9e9e), new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c)
  };

  /** The same colour for a system in every chart, whatever subset was run. */
  static Color colorOf(String system, int index) {
    return switch (system) {
      case "testpmd-io" -> COLORS[0];
      case "l3fwd" -> COLORS[1];
      case "flatnet" -> COLORS[2];
      default -> COLORS[3 + index % (COLORS.length - 3)];
    };
  }

  private BarChart() {}

  /**
   * Writes the chart.
   *
   * @param sizes the groups' labels ("64 B", "imix")
   * @param notes a line under each group's label (e.g. its flatnet/l3fwd ratio), or empty
   * @param data [0]=median, [1]=min, [2]=max, each [size][system], in Mpps (NaN = no data)
   */
  public static void write(
      Path file,
      String title,
      String subtitle,
      List<String> sizes,
      List<String> notes,
      List<String> systems,
      double[][][] data)
      throws IOException {
    System.setProperty("java.awt.headless", "true");
    int width = Math.max(900, 140 + sizes.size() * (systems.size() * 44 + 40));
    int height = 480;
    int left = 70;
    int right = 20;
    int top = 70;
    int bottom = 90;
    BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(
          RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, width, height);
      double max = 0;
      for (double[] row : data[2]) {
        for (double v : row) {
          if (Double.isFinite(v)) {
            max = Math.max(max, v);
          }
        }
      }
      double step = niceStep(max <= 0 ? 1 : max / 5);
      double yMax = Math.max(step, Math.ceil(max / step) * step);
      int plotH = height - top - bottom;
      int plotW = width - left - right;

      g.setColor(Color.BLACK);
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
      g.drawString(title, left, 24);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
      g.drawString(subtitle, left, 44);

      // Grid and y axis.
      FontMetrics fm = g.getFontMetrics();
      for (double y = 0; y <= yMax + 1e-9; y += step) {
        int py = top + plotH - (int) Math.round(y / yMax * plotH);
        g.setColor(new Color(0xe0e0e0));
        g.drawLine(left, py, left + plotW, py);
        g.setColor(Color.DARK_GRAY);
        String label = String.format(Locale.ROOT, step < 1 ? "%.1f" : "%.0f", y);
        g.drawString(label, left - 8 - fm.stringWidth(label), py + 4);
      }
      g.setColor(Color.BLACK);
      g.drawLine(left, top, left, top + plotH);
      g.drawLine(left, top + plotH, left + plotW, top + plotH);
      Graphics2D rotated = (Graphics2D) g.create();
      rotated.rotate(-Math.PI / 2);
      rotated.drawString("Mpps (median of rounds)", -(top + plotH / 2 + 70), 18);
      rotated.dispose();

      // Bars.
      int groupW = plotW / Math.max(1, sizes.size());
      int barW = Math.max(8, Math.min(44, (groupW - 30) / Math.max(1, systems.size())));
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
      fm = g.getFontMetrics();
      for (int i = 0; i < sizes.size(); i++) {
        int gx = left + i * groupW + (groupW - barW * systems.size()) / 2;
        for (int k = 0; k < systems.size(); k++) {
          double v = data[0][i][k];
          int x = gx + k * barW;
          if (Double.isFinite(v)) {
            int h = (int) Math.round(v / yMax * plotH);
            g.setColor(colorOf(systems.get(k), k));
            g.fillRect(x + 2, top + plotH - h, barW - 4, h);
            double lo = data[1][i][k];
            double hi = data[2][i][k];
            if (Double.isFinite(lo) && Double.isFinite(hi)) {
              int ylo = top + plotH - (int) Math.round(lo / yMax * plotH);
              int yhi = top + plotH - (int) Math.round(hi / yMax * plotH);
              int cx = x + barW / 2;
              g.setColor(Color.BLACK);
              g.setStroke(new BasicStroke(1.2f));
              g.drawLine(cx, ylo, cx, yhi);
              g.drawLine(cx - 4, ylo, cx + 4, ylo);
              g.drawLine(cx - 4, yhi, cx + 4, yhi);
            }
            g.setColor(Color.BLACK);
            String label = String.format(Locale.ROOT, "%.2f", v);
            int ty = top + plotH - h - 4;
            if (Double.isFinite(hi)) {
              ty = Math.min(ty, top + plotH - (int) Math.round(hi / yMax * plotH) - 4);
            }
            g.drawString(label, x + (barW - fm.stringWidth(label)) / 2, ty);
          }
        }
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        String sizeLabel = sizes.get(i);
        g.drawString(
            sizeLabel,
            left + i * groupW + (groupW - g.getFontMetrics().stringWidth(sizeLabel)) / 2,
            top + plotH + 18);
        String note = i < notes.size() ? notes.get(i) : "";
        if (!note.isEmpty()) {
          g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
          g.drawString(
              note,
              left + i * groupW + (groupW - g.getFontMetrics().stringWidth(note)) / 2,
              top + plotH + 32);
        }
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
      }

      // Legend.
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
      int lx = left;
      int ly = height - 30;
      for (int k = 0; k < systems.size(); k++) {
        g.setColor(colorOf(systems.get(k), k));
        g.fillRect(lx, ly - 10, 14, 12);
        g.setColor(Color.BLACK);
        g.drawString(systems.get(k), lx + 20, ly);
        lx += 40 + g.getFontMetrics().stringWidth(systems.get(k));
      }
      g.drawString("frame size (whiskers: slowest..fastest round)", lx + 20, ly);
    } finally {
      g.dispose();
    }
    if (!ImageIO.write(img, "png", file.toFile())) {
      throw new IOException("no PNG writer");
    }
  }

  /** 1, 2 or 5 times a power of ten, at least {@code raw}. */
  static double niceStep(double raw) {
    double p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (double m : new double[] {1, 2, 5, 10}) {
      if (m * p >= raw) {
        return m * p;
      }
    }
    return 10 * p;
  }
}
