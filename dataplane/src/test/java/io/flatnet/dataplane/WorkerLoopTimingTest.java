package io.flatnet.dataplane;

import static io.flatnet.dataplane.TestPackets.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import java.io.File;
import java.lang.foreign.Arena;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker's loop timing, read as {@code ctl counters} reads it: from the counters file, mapped by
 * another reader. A real worker thread forwards packets between net_ring ports; its idle strategy
 * stalls it once for {@link #STALL_NANOS}, which the longest loop and the top bucket must show.
 */
class WorkerLoopTimingTest {
  private static final int POOL_SIZE = 1023;
  private static final long STALL_NANOS = 5_000_000;

  @TempDir File dir;

  private Arena arena;
  private PktMbufPool pool;
  private int inPort;
  private int outPort;
  private DataplaneCounters counters;
  private TestRoutes routes;

  @BeforeEach
  void setUp() {
    DataplaneTestSupport.eal();
    arena = Arena.ofShared();
    pool = PktMbufPool.create(DataplaneTestSupport.unique("loops"), POOL_SIZE, 0, 2176, -1);
    inPort = DataplaneTestSupport.startPort(DataplaneTestSupport.unique("net_ring_lin"), pool);
    outPort = DataplaneTestSupport.startPort(DataplaneTestSupport.unique("net_ring_lout"), pool);
    counters = DataplaneCounters.create(new File(dir, "counters.dat"));
    routes = new TestRoutes(inPort, 0x02_00_00_00_ee_01L, outPort, 31);
  }

  @AfterEach
  void tearDown() {
    DataplaneTestSupport.removePort(inPort);
    DataplaneTestSupport.removePort(outPort);
    pool.free();
    counters.close();
    routes.close();
    arena.close();
  }

  /** Spins, but parks once for {@link #STALL_NANOS} after {@code stallAfter} idle calls. */
  private static final class StallOnce implements IdleStrategy {
    private final int stallAfter;
    private int idleCalls;

    StallOnce(int stallAfter) {
      this.stallAfter = stallAfter;
    }

    @Override
    public void idle(int workCount) {
      if (workCount > 0) {
        return;
      }
      idle();
    }

    @Override
    public void idle() {
      if (++idleCalls == stallAfter) {
        long until = System.nanoTime() + STALL_NANOS;
        for (long left = STALL_NANOS; left > 0; left = until - System.nanoTime()) {
          LockSupport.parkNanos(left);
        }
      } else {
        Thread.onSpinWait();
      }
    }

    @Override
    public void reset() {}
  }

  @Test
  void loopCountersShowTheStallAndTheHistogramSumsToTheLoops() throws InterruptedException {
    ForwardingWorker worker =
        new ForwardingWorker(
            0,
            -1,
            List.of(BurstQueue.rx(inPort, 0)),
            List.of(BurstQueue.tx(inPort, 0), BurstQueue.tx(outPort, 0)),
            routes.state(),
            routes.domain.register(),
            new WorkerCounters(
                counters, 0, new int[] {inPort, outPort}, new String[] {"in", "out"}),
            new ControlChannel(),
            64);
    AgentRunner runner =
        new AgentRunner(new StallOnce(20_000), Throwable::printStackTrace, null, worker);
    AgentRunner.startOnThread(runner);
    long sent = 0;
    try {
      byte[] frame = TestPackets.udp(ip(10, 9, 0, 7), ip(10, 1, 0, 2), 64, 18);
      MbufArray mbufs = new MbufArray(arena, 32);
      BurstQueue in = BurstQueue.tx(inPort, 0);
      BurstQueue out = BurstQueue.rx(outPort, 0);
      long deadline = System.nanoTime() + 20_000_000_000L;
      while ((sent < 100_000 || worker.counters().longestLoopNanos() < STALL_NANOS)
          && System.nanoTime() < deadline) {
        if (pool.allocBulk(mbufs, 16)) {
          for (int i = 0; i < 16; i++) {
            NativeMemory.copy(frame, Mbuf.dataAddress(mbufs.get(i)));
            Mbuf.setLength(mbufs.get(i), frame.length);
          }
          int n = in.burst(mbufs, 16);
          PktMbufPool.freeBulk(mbufs.addressOf(n), 16 - n);
          sent += n;
        }
        int n = out.burst(mbufs, 32);
        PktMbufPool.freeBulk(mbufs.address(), n);
      }
    } finally {
      runner.close(); // the worker publishes everything as it closes
    }

    CountersReader reader = DataplaneCounters.openReader(counters.file()); // as ctl maps it
    Map<String, Long> values = new HashMap<>();
    reader.forEach((id, type, key, label) -> values.put(label, reader.getCounterValue(id)));
    long loops = values.get("worker 0 loops");
    long longest = values.get(WorkerCounters.longestLoopLabel(0));
    long histogram = 0;
    int highestBucket = -1;
    for (int b = 0; b < WorkerCounters.LOOP_BUCKETS; b++) {
      long count = values.get("worker 0 " + WorkerCounters.loopBucketLabel(b));
      histogram += count;
      if (count > 0) {
        highestBucket = b;
      }
    }
    assertTrue(sent >= 100_000, "sent only " + sent + " packets");
    assertTrue(loops > 20_000, "the worker timed only " + loops + " loops");
    assertEquals(loops, histogram, "every timed loop is in one histogram bucket");
    assertTrue(longest >= STALL_NANOS, "longest loop " + longest + " ns, under the 5 ms stall");
    assertTrue(
        values.get("worker 0 loops taking 4096-8192us") >= 1,
        "the 5 ms stall is in the 4096-8192us bucket");
    assertEquals(
        WorkerCounters.loopBucket(longest), highestBucket, "the longest loop is the top bucket's");
    assertTrue(
        values.get("worker 0 longest-loop-at-epoch-ms") > System.currentTimeMillis() - 60_000,
        "the stall's time is recorded");
    assertTrue(
        values.get("worker 0 loops taking <1us") + values.get("worker 0 loops taking 1-2us") > 0,
        "idle loops are short");
  }

  @Test
  void bucketsArePowersOfTwoMicroseconds() {
    assertEquals(0, WorkerCounters.loopBucket(0));
    assertEquals(0, WorkerCounters.loopBucket(999));
    assertEquals(1, WorkerCounters.loopBucket(1_000));
    assertEquals(1, WorkerCounters.loopBucket(1_999));
    assertEquals(2, WorkerCounters.loopBucket(2_000));
    assertEquals(10, WorkerCounters.loopBucket(1_023_999));
    assertEquals(11, WorkerCounters.loopBucket(1_024_000));
    assertEquals(13, WorkerCounters.loopBucket(5_000_000));
    assertEquals(15, WorkerCounters.loopBucket(16_384_000));
    assertEquals(15, WorkerCounters.loopBucket(Long.MAX_VALUE));
    assertEquals("loops taking <1us", WorkerCounters.loopBucketLabel(0));
    assertEquals("loops taking 1-2us", WorkerCounters.loopBucketLabel(1));
    assertEquals("loops taking 512-1024us", WorkerCounters.loopBucketLabel(10));
    assertEquals("loops taking 1024-2048us", WorkerCounters.loopBucketLabel(11));
    assertEquals("loops taking >=16384us", WorkerCounters.loopBucketLabel(15));
  }
}
