package io.flatnet.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.File;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Port counters freed while a worker may still publish into them (pure Java, no DPDK). */
class WorkerCountersTest {
  @TempDir File dir;

  private static Map<String, Integer> idsByLabel(DataplaneCounters counters) {
    Map<String, Integer> ids = new HashMap<>();
    counters.reader().forEach((id, type, key, label) -> ids.put(label, id));
    return ids;
  }

  @Test
  void aRemovedPortsSlotsAreNotReusedWithinTheGracePeriodSoLateWritesHitNoOtherPort() {
    try (DataplaneCounters counters = DataplaneCounters.create(new File(dir, "counters.dat"))) {
      WorkerCounters worker = new WorkerCounters(counters, 0, new int[] {3}, new String[] {"a"});
      int oldRx = idsByLabel(counters).get("worker 0 port a rx-packets");
      worker.pendingPortRx[3] += 5; // counted, not yet published, when the port goes
      worker.publishAll();
      assertEquals(5, counters.sum("worker 0 port a rx-packets"));

      worker.unregisterPort(3);
      worker.registerPort(counters, 4, "b");
      int newRx = idsByLabel(counters).get("worker 0 port b rx-packets");
      assertFalse(oldRx == newRx, "the freed slot was handed to another port at once");

      worker.pendingPortRx[3] += 7; // a worker one loop behind, after the port was removed
      worker.publishAll();
      assertEquals(0, counters.sum("worker 0 port b rx-packets"), "no count leaked into b");
      assertEquals(0, worker.pendingPortRx[3], "dropped, not kept for a later port 3");
    }
  }
}
