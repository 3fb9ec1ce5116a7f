package io.flatnet.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The longest loop over a window (bench e2e's measured seconds), beside the one since the start.
 */
class WorkerCountersWindowTest {
  @TempDir File dir;

  @Test
  void theWindowRestartsAtTheNextPublicationAndTheLongestEverStays() {
    try (DataplaneCounters counters = DataplaneCounters.create(new File(dir, "counters.dat"))) {
      WorkerCounters w = new WorkerCounters(counters, 0, new int[0], new String[0]);
      long t = 1_000_000;
      w.loopStarted(t);
      w.loopStarted(t += 5_000); // a 5 us loop
      assertEquals(5_000, w.windowLongestLoopNanos());
      assertEquals(5_000, w.longestLoopNanos());
      w.restartLoopWindow();
      // Taken at the worker's next publication of its loop counters, within 1,024 loops.
      for (int i = 0; i < WorkerCounters.LOOPS_PER_PUBLISH; i++) {
        w.loopStarted(t += 100);
      }
      assertTrue(w.windowLongestLoopNanos() <= 100, "restarted: the loops since are 100 ns");
      w.loopStarted(t += 100);
      w.loopStarted(t += 2_000);
      w.loopStarted(t += 300);
      assertEquals(2_000, w.windowLongestLoopNanos());
      assertEquals(5_000, w.longestLoopNanos(), "since the start");
      w.loopStarted(t += 7_000);
      assertEquals(7_000, w.windowLongestLoopNanos());
      assertEquals(7_000, w.longestLoopNanos());
    }
  }
}
