package io.flatnet.dataplane;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Keeps a worker's CPU for the worker: every other thread of this process (the JVM's GC and JIT
 * threads, EAL's interrupt thread, the control agent, vhost's event thread, the agent's servers) is
 * confined to the CPUs no worker owns. Threads made later inherit that from their creators. Without
 * it, the scheduler may run any of them on a worker's CPU, and a poller preempted for a few hundred
 * microseconds overflows its rings even at low rates.
 */
@SuppressWarnings("restricted") // two libc calls: gettid and sched_setaffinity
public final class CpuIsolation {
  private CpuIsolation() {}

  private static final int CPU_SET_BYTES = 128; // glibc's cpu_set_t: 1024 CPUs
  private static final Linker LINKER = Linker.nativeLinker();
  private static final MethodHandle GETTID =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("gettid").orElseThrow(), FunctionDescriptor.of(JAVA_INT));
  private static final MethodHandle SET_AFFINITY =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("sched_setaffinity").orElseThrow(),
          FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));

  /** The calling thread's kernel id. */
  public static int currentThreadId() {
    try {
      return (int) GETTID.invokeExact();
    } catch (Throwable t) {
      throw new IllegalStateException("gettid", t);
    }
  }

  /**
   * The CPUs no worker owns: the online ones ({@code /sys/devices/system/cpu/online}) less those.
   */
  public static BitSet housekeeping(Set<Integer> workerCpus) throws IOException {
    BitSet cpus = parseCpuList(Files.readString(Path.of("/sys/devices/system/cpu/online")).trim());
    workerCpus.forEach(cpus::clear);
    return cpus;
  }

  /**
   * Confines every thread of this process but {@code keep} to {@code cpus}.
   *
   * @return how many threads were moved (threads that ended meanwhile are skipped)
   */
  public static int confineAllBut(Set<Integer> keep, BitSet cpus) throws IOException {
    List<Integer> threads = new ArrayList<>();
    try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
      tasks.forEach(p -> threads.add(Integer.parseInt(p.getFileName().toString())));
    }
    int moved = 0;
    for (int tid : threads) {
      if (!keep.contains(tid) && confine(tid, cpus)) {
        moved++;
      }
    }
    return moved;
  }

  /** Confines thread {@code tid} of this process to {@code cpus}; false if it is gone. */
  static boolean confine(int tid, BitSet cpus) {
    if (cpus.isEmpty()) {
      throw new IllegalArgumentException("no CPU to confine thread " + tid + " to");
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment mask = arena.allocate(CPU_SET_BYTES);
      for (int cpu = cpus.nextSetBit(0); cpu >= 0; cpu = cpus.nextSetBit(cpu + 1)) {
        if (cpu < CPU_SET_BYTES * 8) {
          long index = cpu / 8;
          mask.set(JAVA_BYTE, index, (byte) (mask.get(JAVA_BYTE, index) | (1 << (cpu % 8))));
        }
      }
      return (int) SET_AFFINITY.invokeExact(tid, (long) CPU_SET_BYTES, mask) == 0;
    } catch (Throwable t) {
      throw new IllegalStateException("sched_setaffinity(" + tid + ")", t);
    }
  }

  /** The CPUs of a thread ({@code Cpus_allowed_list} in its status), for checks and tests. */
  public static BitSet allowedCpus(int tid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/task/" + tid + "/status"))) {
      if (line.startsWith("Cpus_allowed_list:")) {
        return parseCpuList(line.substring(line.indexOf(':') + 1).trim());
      }
    }
    throw new IOException("no Cpus_allowed_list for thread " + tid);
  }

  /** A kernel CPU list such as {@code 0-3,6}. */
  static BitSet parseCpuList(String list) {
    BitSet cpus = new BitSet();
    for (String part : list.split(",")) {
      if (part.isBlank()) {
        continue;
      }
      int dash = part.indexOf('-');
      int first = Integer.parseInt((dash < 0 ? part : part.substring(0, dash)).trim());
      int last = dash < 0 ? first : Integer.parseInt(part.substring(dash + 1).trim());
      cpus.set(first, last + 1);
    }
    return cpus;
  }
}
