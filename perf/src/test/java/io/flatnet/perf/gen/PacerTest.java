package io.flatnet.perf.gen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PacerTest {

  /** Drives a pacer with a simulated clock and counts what it lets through. */
  private static long simulate(long ratePps, long stepNanos, long durationNanos) {
    Pacer p = new Pacer(ratePps, 128, 0);
    long sent = 0;
    for (long now = 0; now < durationNanos; now += stepNanos) {
      int n = p.allowance(now, 32);
      p.consume(n);
      sent += n;
    }
    return sent;
  }

  @Test
  void sendsTheRateOverASecondWithoutDrift() {
    // 1 Mpps polled every 100 ns: 1,000,000 packets in a second, give or take the first one.
    long sent = simulate(1_000_000, 100, 1_000_000_000L);
    assertTrue(Math.abs(sent - 1_000_000) <= 1, "sent " + sent);
    // An odd rate that does not divide a nanosecond: still exact, integer arithmetic.
    long odd = simulate(3_333_333, 37, 1_000_000_000L);
    assertTrue(Math.abs(odd - 3_333_333) <= 1, "sent " + odd);
  }

  @Test
  void grantsAtMostABurstAndNothingBeforeCreditBuilds() {
    Pacer p = new Pacer(10_000_000, 128, 0);
    assertEquals(1, p.allowance(0, 32)); // starts with one packet of credit
    p.consume(1);
    assertEquals(0, p.allowance(50, 32)); // 50 ns at 10 Mpps = 0.5 packet
    assertEquals(1, p.allowance(100, 32));
    assertEquals(32, p.allowance(10_000, 32)); // 100 packets of credit, capped at the burst
  }

  @Test
  void aStallDoesNotTurnIntoAHugeBurst() {
    Pacer p = new Pacer(10_000_000, 128, 0);
    // One second stalled: at most the bucket depth (128) is owed, sent as 4 bursts of 32.
    long owed = 0;
    for (int i = 0; i < 10; i++) {
      int n = p.allowance(1_000_000_000L, 32);
      p.consume(n);
      owed += n;
    }
    assertEquals(128, owed);
  }

  @Test
  void unpacedGrantsEverything() {
    Pacer p = new Pacer(0, 128, 0);
    assertTrue(p.unpaced());
    assertEquals(32, p.allowance(0, 32));
  }

  @Test
  void probeIntervalGivesTheAskedProbeRate() {
    assertEquals(50, Pacer.probeInterval(1_000_000, 20_000, 5_000_000));
    assertEquals(250, Pacer.probeInterval(0, 20_000, 5_000_000)); // unpaced: a guess
    assertEquals(1, Pacer.probeInterval(1_000, 20_000, 5_000_000));
    assertEquals(0, Pacer.probeInterval(1_000_000, 0, 5_000_000));
  }

  @Test
  void countsWhatAStallLongerThanTheBucketLoses() {
    Pacer p = new Pacer(1_000_000, 128, 0); // 1 packet a microsecond, 128 deep
    assertEquals(0, p.lostPackets());
    p.allowance(100_000, 32); // 100 us away: 101 packets of credit, all kept
    assertEquals(0, p.lostPackets());
    p.consume(32);
    p.allowance(1_100_000, 32); // 1 ms more: 69 + 1000 credit, 128 kept
    assertEquals(69 + 1000 - 128, p.lostPackets());
    Pacer unpaced = new Pacer(0, 128, 0);
    unpaced.allowance(5_000_000_000L, 32);
    assertEquals(0, unpaced.lostPackets());
  }
}
