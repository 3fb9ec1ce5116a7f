package io.flatnet.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.BitSet;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Thread confinement through the kernel (no DPDK): what {@code isolateWorkers} relies on. */
class CpuIsolationTest {
  @Test
  void cpuListsParseAsTheKernelWritesThem() {
    assertEquals(BitSet.valueOf(new long[] {0b1011_1101}), CpuIsolation.parseCpuList("0,2-5,7"));
    assertEquals(BitSet.valueOf(new long[] {1}), CpuIsolation.parseCpuList("0"));
  }

  @Test
  void housekeepingIsTheOnlineCpusLessTheWorkers() throws Exception {
    BitSet online = CpuIsolation.housekeeping(Set.of());
    int last = online.length() - 1;
    BitSet others = CpuIsolation.housekeeping(Set.of(last));
    assertEquals(online.cardinality() - 1, others.cardinality());
    assertTrue(!others.get(last));
  }

  @Test
  void aConfinedThreadRunsOnlyWhereItWasPutAndANewThreadItStartsInheritsThat() throws Exception {
    AtomicInteger tid = new AtomicInteger();
    AtomicReference<BitSet> childCpus = new AtomicReference<>();
    CountDownLatch confined = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    Thread thread =
        new Thread(
            () -> {
              tid.set(CpuIsolation.currentThreadId());
              try {
                confined.await();
                Thread child =
                    new Thread(
                        () -> {
                          try {
                            childCpus.set(CpuIsolation.allowedCpus(CpuIsolation.currentThreadId()));
                          } catch (java.io.IOException e) {
                            throw new java.io.UncheckedIOException(e);
                          }
                        });
                child.start();
                child.join();
              } catch (Exception e) {
                throw new AssertionError(e);
              } finally {
                done.countDown();
              }
            });
    thread.start();
    while (tid.get() == 0) {
      Thread.onSpinWait();
    }
    BitSet cpu0 = new BitSet();
    cpu0.set(0);
    assertTrue(CpuIsolation.confine(tid.get(), cpu0));
    assertEquals(cpu0, CpuIsolation.allowedCpus(tid.get()));
    confined.countDown();
    done.await();
    thread.join();
    assertEquals(cpu0, childCpus.get(), "a thread started by a confined one inherits its CPUs");
  }
}
