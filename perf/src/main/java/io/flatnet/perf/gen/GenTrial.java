package io.flatnet.perf.gen;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.flatnet.perf.BenchJson;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Base64;
import java.util.Optional;
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
    ObjectNode j = BenchJson.object().put("gen_trial", name);
    j.put("target_pps", targetPps).put("send_seconds", sendSeconds);
    j.set("offered", BenchJson.array(offered));
    j.set("accepted", BenchJson.array(accepted));
    j.set("returned", BenchJson.array(returned));
    j.put("foreign", foreign)
        .put("misrouted", misrouted)
        .put("probes_sent", probesSent)
        .put("probes_received", probesReceived)
        .put("alloc_failures", allocFailures)
        .put("histogram", latency == null ? "" : encode(latency));
    return BenchJson.line(j);
  }

  /** Parses a line that {@link #toJson} wrote; empty for any other line. */
  public static Optional<GenTrial> parse(String line) {
    String s = line.strip();
    if (!s.startsWith(PREFIX)) {
      return Optional.empty();
    }
    JsonNode j;
    try {
      j = BenchJson.parse(s);
    } catch (JsonProcessingException e) {
      return Optional.empty();
    }
    String encoded = j.path("histogram").asText();
    return Optional.of(
        new GenTrial(
            j.path("gen_trial").asText("?"),
            j.path("target_pps").asLong(),
            j.path("send_seconds").isNumber() ? j.path("send_seconds").asDouble() : Double.NaN,
            longs(j.path("offered")),
            longs(j.path("accepted")),
            longs(j.path("returned")),
            j.path("foreign").asLong(),
            j.path("misrouted").asLong(),
            j.path("probes_sent").asLong(),
            j.path("probes_received").asLong(),
            j.path("alloc_failures").asLong(),
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

  private static long[] longs(JsonNode array) {
    long[] out = new long[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).asLong();
    }
    return out;
  }
}
