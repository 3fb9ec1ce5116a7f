package io.flatnet.dpdk;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** Makes a Java platform thread a DPDK lcore and pins it, as DPDK's own lcores are. */
public final class Lcore {
  private Lcore() {}

  private static final MethodHandle THREAD_REGISTER =
      Dpdk.downcall("rte_thread_register", FunctionDescriptor.of(JAVA_INT));
  private static final MethodHandle THREAD_UNREGISTER =
      Dpdk.downcall("rte_thread_unregister", FunctionDescriptor.ofVoid());
  private static final MethodHandle SET_AFFINITY =
      Dpdk.downcall("rte_thread_set_affinity", FunctionDescriptor.of(JAVA_INT, ADDRESS));

  /**
   * Registers the calling thread with EAL so it gets an lcore id: mempool caches and per-lcore
   * state then work for it. Idempotent for a thread that is already an lcore.
   */
  public static void registerCurrentThread() {
    int result;
    try {
      result = (int) THREAD_REGISTER.invokeExact();
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_thread_register", t);
    }
    if (result < 0) {
      throw new DpdkException(
          "rte_thread_register for thread " + Thread.currentThread().getName(), Dpdk.rteErrno());
    }
  }

  public static void unregisterCurrentThread() {
    try {
      THREAD_UNREGISTER.invokeExact();
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_thread_unregister", t);
    }
  }

  /** Pins the calling thread to one CPU. */
  public static void pinCurrentThread(int cpu) {
    if (cpu < 0 || cpu >= DpdkLayout.CPUSET_SIZE * 8) {
      throw new IllegalArgumentException("CPU " + cpu + " is out of range");
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment cpuset = arena.allocate(DpdkLayout.CPUSET_SIZE);
      cpuset.set(JAVA_BYTE, cpu / 8, (byte) (1 << (cpu % 8)));
      if ((int) SET_AFFINITY.invokeExact(cpuset) != 0) {
        throw new DpdkException(
            "cannot pin thread to CPU " + cpu + ": the CPU is offline or outside this cpuset");
      }
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_thread_set_affinity", t);
    }
  }
}
