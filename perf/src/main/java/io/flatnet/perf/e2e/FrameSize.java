package io.flatnet.perf.e2e;

import io.flatnet.perf.gen.PacketTemplates;
import java.util.Locale;

/**
 * Frame sizes of bench e2e: Ethernet frames with FCS, 64..1518 bytes, or {@link #IMIX} (the simple
 * IMIX: 64, 570 and 1518 B frames, 7:4:1, {@link PacketTemplates#IMIX_PATTERN}), which is carried
 * as the size 0 wherever a frame size is an int.
 */
public final class FrameSize {
  private FrameSize() {}

  /** The frame "size" that stands for the IMIX. */
  public static final int IMIX = 0;

  /** Preamble (7), start-of-frame delimiter (1) and the minimum inter-frame gap (12): L1 bytes. */
  public static final int L1_OVERHEAD = 20;

  public static boolean imix(int frameBytes) {
    return frameBytes == IMIX;
  }

  /** "64" or "imix": the size's name in tables, JSON and file names. */
  public static String label(int frameBytes) {
    return imix(frameBytes) ? "imix" : Integer.toString(frameBytes);
  }

  /** "64 B" or "imix", for tables and charts. */
  public static String display(int frameBytes) {
    return imix(frameBytes) ? "imix" : frameBytes + " B";
  }

  /** The mean frame size with FCS: the size, or the IMIX's 4,246 / 12 = 353.83 B. */
  public static double meanFrameBytes(int frameBytes) {
    if (!imix(frameBytes)) {
      return frameBytes;
    }
    double sum = 0;
    for (int f : PacketTemplates.IMIX_PATTERN) {
      sum += f;
    }
    return sum / PacketTemplates.IMIX_PATTERN.length;
  }

  /**
   * Gbit/s on the wire (L1: each frame plus 20 B of preamble and inter-frame gap) of {@code mpps}
   * frames of this size; 64 B at 14.88 Mpps is 10 Gbit/s.
   */
  public static double l1Gbps(double mpps, int frameBytes) {
    return mpps * (meanFrameBytes(frameBytes) + L1_OVERHEAD) * 8 / 1000;
  }

  /** Parses "64" .. "1518" or "imix" (any case). */
  public static int parse(String text) {
    String s = text.strip().toLowerCase(Locale.ROOT);
    if (s.equals("imix")) {
      return IMIX;
    }
    int size;
    try {
      size = Integer.parseInt(s);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "frame size '" + text.strip() + "' is not a number or imix");
    }
    if (size < 64 || size > 1518) {
      throw new IllegalArgumentException(
          "frame size " + size + " is outside 64..1518 (Ethernet frame with FCS)");
    }
    return size;
  }
}
