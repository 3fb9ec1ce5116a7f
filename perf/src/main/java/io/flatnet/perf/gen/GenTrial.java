package io.flatnet.perf.gen;

import io.flatnet.perf.e2e.Json;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Base64;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.DataFormatException;
import org.HdrHistogram.Histogram;

/**
 * One trial of the generator as it reports it on one line of JSON ({@code {"gen_trial":...}}), and
 * as the bench reads it back.
 *
 * @param name the name the bench gave the trial
 * @param targetPps the rate asked for, both ports together (0 = unpaced)
 * @param sendSeconds how long it sent
 * @param offered packets per port the generator tried to send (what the pacer allowed)
 * @param accepted packets per port the TX queue took (the rest: the DUT's ring was full)
 * @param returned packets per port that came back (the generator's flows only)
 * @param foreign packets received that were not the generator's
 * @param misrouted returned packets that came back on a port the routes do not send them to
 * @param probesSent latency probes sent, {@code probesReceived} received
 * @param allocFailures bursts not sent because the mbuf pool was empty (a generator fault)
 * @param latency receive minus send time of the probes, in nanoseconds (null if none)
 */
public record GenTrial(
    String name,
    long targetPps,
    double sendSeconds,
    long[] offered,
    long[] accepted,
    long[] returned,
    long foreign,
    long misrouted,
    long probesSent,
    long probesReceived,
    long allocFailures,
    Histogram latency) {

  public static final String PREFIX = "{\"gen_trial\":";

  public long offeredTotal() {
    return Arrays.stream(offered).sum();
  }

  public long acceptedTotal() {
    return Arrays.stream(accepted).sum();
  }

  public long returnedTotal() {
    return Arrays.stream(returned).sum();
  }

  /** Offered packets that did not come back, over those offered (RFC 2544 frame loss). */
  public double lossFraction() {
    long o = offeredTotal();
    return o <= 0 ? 0 : Math.max(0, o - returnedTotal()) / (double) o;
  }

  /** The rate the generator actually offered, both ports, in Mpps. */
  public double offeredMpps() {
    return sendSeconds <= 0 ? Double.NaN : offeredTotal() / sendSeconds / 1e6;
  }

  /** The rate of packets that came back, in Mpps (over the sending time). */
  public double returnedMpps() {
    return sendSeconds <= 0 ? Double.NaN : returnedTotal() / sendSeconds / 1e6;
  }

  /**
   * Whether the generator fell short of the rate asked for (by more than 2%): such a trial says
   * nothing about the DUT at that rate.
   */
  public boolean generatorLimited() {
    return allocFailures > 0 || (targetPps > 0 && offeredMpps() * 1e6 < targetPps * 0.98);
  }

  /** The share of returned packets that came back on port 0. */
  public double port0Share() {
    long r = returnedTotal();
    return r <= 0 ? Double.NaN : returned[0] / (double) r;
  }

  /** The one-line JSON form. */
  public String toJson() {
    Json j = new Json().beginObject().key("gen_trial").value(name);
    j.field("target_pps", targetPps)
        .field("send_seconds", sendSeconds)
        .array("offered", offered)
        .array("accepted", accepted)
        .array("returned", returned)
        .field("foreign", foreign)
        .field("misrouted", misrouted)
        .field("probes_sent", probesSent)
        .field("probes_received", probesReceived)
        .field("alloc_failures", allocFailures)
        .field("histogram", latency == null ? "" : encode(latency));
    return j.endObject().toString();
  }

  /** Parses a line that {@link #toJson} wrote; empty for any other line. */
  public static Optional<GenTrial> parse(String line) {
    String s = line.strip();
    if (!s.startsWith(PREFIX)) {
      return Optional.empty();
    }
    Matcher name = Pattern.compile("\"gen_trial\":\"([^\"]*)\"").matcher(s);
    Matcher hist = Pattern.compile("\"histogram\":\"([^\"]*)\"").matcher(s);
    String encoded = hist.find() ? hist.group(1) : "";
    return Optional.of(
        new GenTrial(
            name.find() ? name.group(1) : "?",
            (long) number(s, "target_pps"),
            number(s, "send_seconds"),
            array(s, "offered"),
            array(s, "accepted"),
            array(s, "returned"),
            (long) number(s, "foreign"),
            (long) number(s, "misrouted"),
            (long) number(s, "probes_sent"),
            (long) number(s, "probes_received"),
            (long) number(s, "alloc_failures"),
            encoded.isEmpty() ? null : decode(encoded)));
  }

  /** A histogram as base64 of HdrHistogram's compressed encoding. */
  public static String encode(Histogram h) {
    ByteBuffer buf = ByteBuffer.allocate(h.getNeededByteBufferCapacity());
    int len = h.encodeIntoCompressedByteBuffer(buf, 6);
    return Base64.getEncoder().encodeToString(Arrays.copyOf(buf.array(), len));
  }

  public static Histogram decode(String base64) {
    try {
      return Histogram.decodeFromCompressedByteBuffer(
          ByteBuffer.wrap(Base64.getDecoder().decode(base64)), 0);
    } catch (DataFormatException e) {
      throw new IllegalArgumentException("bad histogram: " + e.getMessage(), e);
    }
  }

  private static double number(String s, String key) {
    Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\":(-?[0-9.eE+-]+|null)").matcher(s);
    if (!m.find() || m.group(1).equals("null")) {
      return Double.NaN;
    }
    return Double.parseDouble(m.group(1));
  }

  private static long[] array(String s, String key) {
    Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\":\\[([^\\]]*)\\]").matcher(s);
    if (!m.find() || m.group(1).isBlank()) {
      return new long[0];
    }
    return Arrays.stream(m.group(1).split(",")).mapToLong(v -> Long.parseLong(v.strip())).toArray();
  }
}
