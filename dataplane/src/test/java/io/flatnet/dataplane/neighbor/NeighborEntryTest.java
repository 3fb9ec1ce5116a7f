package io.flatnet.dataplane.neighbor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The unreachability-detection state machine, on a fake clock (milliseconds as nanoseconds). */
class NeighborEntryTest {
  private static final NeighborEntry.Timers TIMERS = new NeighborEntry.Timers(30_000, 1_000, 3, 3);
  private static final long GOOD = 0x02_00_00_00_00_0AL;
  private static final long WRONG = 0x02_00_00_00_00_0BL;

  /**
   * What the entry asked for, in order: "install m", "withdraw", "probe unicast m" / "probe
   * multicast".
   */
  private final List<String> actions = new ArrayList<>();

  private final NeighborEntry.Actions recorder =
      new NeighborEntry.Actions() {
        @Override
        public void install(long mac) {
          actions.add("install " + Long.toHexString(mac));
        }

        @Override
        public void withdraw() {
          actions.add("withdraw");
        }

        @Override
        public void probe(long mac) {
          actions.add(mac < 0 ? "probe multicast" : "probe unicast " + Long.toHexString(mac));
        }
      };

  private final NeighborEntry entry = new NeighborEntry(TIMERS);

  private static String hex(long mac) {
    return Long.toHexString(mac);
  }

  private void tickEvery(long from, long to, long step) {
    for (long t = from; t <= to; t += step) {
      entry.tick(t, recorder);
    }
  }

  @Test
  void aConfirmedAnswerMakesItReachableUntilTheReachableTimeRunsOut() {
    entry.heard(GOOD, true, 0, recorder);
    assertEquals(NeighborEntry.State.REACHABLE, entry.state());
    assertEquals(List.of("install " + hex(GOOD)), actions);
    tickEvery(0, 29_999, 250);
    assertEquals(NeighborEntry.State.REACHABLE, entry.state(), "no probe while reachable");
    entry.tick(30_000, recorder);
    assertEquals(NeighborEntry.State.PROBE, entry.state());
    assertEquals("probe unicast " + hex(GOOD), actions.getLast(), "first probe goes to the MAC");
  }

  @Test
  void anAnswerToTheProbeMakesItReachableAgainWithoutWithdrawingTheMac() {
    entry.heard(GOOD, true, 0, recorder);
    tickEvery(30_000, 31_500, 250);
    entry.heard(GOOD, true, 31_600, recorder);
    assertEquals(NeighborEntry.State.REACHABLE, entry.state());
    assertEquals(GOOD, entry.mac());
    assertTrue(actions.stream().noneMatch("withdraw"::equals), actions.toString());
  }

  @Test
  void anUnsolicitedClaimSetsTheMacButNeverConfirmsIt() {
    entry.heard(WRONG, false, 0, recorder);
    assertEquals(NeighborEntry.State.STALE, entry.state());
    assertEquals(WRONG, entry.mac());
    entry.heard(WRONG, false, 10, recorder); // repeating a claim proves nothing
    assertEquals(NeighborEntry.State.STALE, entry.state());
    entry.tick(20, recorder);
    assertEquals(NeighborEntry.State.PROBE, entry.state(), "a stale entry is probed at once");
  }

  @Test
  void aWrongMacThatNobodyAnswersIsProbedUnicastThenMulticastThenWithdrawnAndCounted() {
    entry.heard(WRONG, false, 0, recorder);
    tickEvery(0, 10_000, 100);
    assertEquals(
        List.of(
            "install " + hex(WRONG),
            "probe unicast " + hex(WRONG),
            "probe unicast " + hex(WRONG),
            "probe unicast " + hex(WRONG),
            "probe multicast",
            "probe multicast",
            "probe multicast",
            "withdraw"),
        actions);
    assertEquals(NeighborEntry.State.INCOMPLETE, entry.state());
    assertEquals(-1, entry.mac());
    assertEquals(1, entry.failures());
  }

  @Test
  void theRightNeighbourAnsweringAMulticastProbeReplacesAWrongMac() {
    entry.heard(WRONG, false, 0, recorder);
    tickEvery(0, 3_500, 100); // three unicast probes to the wrong MAC, then the first multicast
    assertEquals("probe multicast", actions.getLast());
    entry.heard(GOOD, true, 3_600, recorder);
    assertEquals(NeighborEntry.State.REACHABLE, entry.state());
    assertEquals(GOOD, entry.mac());
    assertEquals("install " + hex(GOOD), actions.getLast());
  }

  @Test
  void aWrongEntryNeverStaysReachablePastTheWorstCaseRecoveryTime() {
    entry.heard(WRONG, true, 0, recorder); // even a (forged) confirmation
    tickEvery(0, TIMERS.worstCaseRecoveryNanos(), 100);
    assertEquals(NeighborEntry.State.INCOMPLETE, entry.state());
    assertEquals("withdraw", actions.getLast());
  }
}
