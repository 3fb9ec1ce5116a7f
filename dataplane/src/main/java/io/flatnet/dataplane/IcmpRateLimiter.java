package io.flatnet.dataplane;

/**
 * A token bucket for generated ICMP errors (RFC 1812 4.3.2.8) and learned neighbour claims, one per
 * worker so it needs no synchronisation. Reads the clock only when an error is about to be sent.
 */
public final class IcmpRateLimiter {
  private final long nanosPerToken;
  private final long burstNanos;
  private long allowanceTime;

  /** Allows {@code perSecond} errors a second on average, with bursts of {@code burst}. */
  public IcmpRateLimiter(int perSecond, int burst) {
    this.nanosPerToken = 1_000_000_000L / Math.max(1, perSecond);
    this.burstNanos = nanosPerToken * Math.max(1, burst);
    this.allowanceTime = System.nanoTime() - burstNanos;
  }

  public boolean tryAcquire() {
    long now = System.nanoTime();
    if (now - allowanceTime > burstNanos) {
      allowanceTime = now - burstNanos;
    }
    if (now - allowanceTime < nanosPerToken) {
      return false;
    }
    allowanceTime += nanosPerToken;
    return true;
  }
}
