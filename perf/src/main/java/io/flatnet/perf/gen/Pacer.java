package io.flatnet.perf.gen;

/**
 * A token bucket on a nanosecond clock, in integer arithmetic so that it neither drifts nor
 * allocates: credit is kept in packet-nanoseconds ({@code packets * 1e9}), so a rate of {@code r}
 * packets a second adds exactly {@code r} units a nanosecond. The bucket holds at most {@code
 * depth} packets: a loop that stalls longer than {@code depth / rate} loses the excess instead of
 * sending a long catch-up burst. A rate of 0 (or less) means unpaced: every ask is granted.
 */
public final class Pacer {
  static final long NANOS = 1_000_000_000L;

  private final long ratePps;
  private final long capacity;
  private long credit;
  private long last;
  private long lostCredit;

  /**
   * @param ratePps packets a second, 0 for unpaced
   * @param depth bucket depth in packets (at least one burst)
   * @param startNanos the clock at the start; the bucket starts with one packet of credit
   */
  public Pacer(long ratePps, int depth, long startNanos) {
    if (depth < 1) {
      throw new IllegalArgumentException("depth " + depth);
    }
    if (ratePps > 9_000_000_000L) {
      throw new IllegalArgumentException("rate " + ratePps + " pps is beyond any port");
    }
    this.ratePps = Math.max(0, ratePps);
    this.capacity = depth * NANOS;
    this.credit = Math.min(capacity, NANOS);
    this.last = startNanos;
  }

  public boolean unpaced() {
    return ratePps == 0;
  }

  /** How many packets (0..{@code max}) may go now; call {@link #consume} with what was offered. */
  public int allowance(long nowNanos, int max) {
    if (ratePps == 0) {
      return max;
    }
    long elapsed = nowNanos - last;
    if (elapsed > 0) {
      // elapsed * rate overflows only after ~1 s at 9 Gpps; cap the elapsed time first.
      long cappedElapsed = Math.min(elapsed, capacity / ratePps + 1);
      long filled = credit + cappedElapsed * ratePps;
      if (filled > capacity) {
        lostCredit += filled - capacity + (elapsed - cappedElapsed) * ratePps;
      }
      credit = Math.min(capacity, filled);
      last = nowNanos;
    }
    long whole = credit / NANOS;
    return (int) Math.min(max, whole);
  }

  /**
   * Packets the bucket could not hold: time the loop spent away (a stall longer than {@code depth /
   * rate}) that is lost to the rate, not caught up.
   */
  public long lostPackets() {
    return lostCredit / NANOS;
  }

  /** Takes {@code packets} out of the bucket. */
  public void consume(int packets) {
    if (ratePps != 0) {
      credit -= packets * NANOS;
    }
  }

  /**
   * How many packets to send between two latency probes so that about {@code probesPerSecond}
   * probes go out at {@code ratePps}; 0 means no probes.
   */
  public static long probeInterval(long ratePps, long probesPerSecond, long unpacedGuessPps) {
    if (probesPerSecond <= 0) {
      return 0;
    }
    long rate = ratePps > 0 ? ratePps : unpacedGuessPps;
    return Math.max(1, rate / probesPerSecond);
  }
}
