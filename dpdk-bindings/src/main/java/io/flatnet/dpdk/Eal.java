package io.flatnet.dpdk;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * DPDK's Environment Abstraction Layer. It is initialised once per process and cannot be
 * re-initialised after {@link #cleanup()}; tests share one EAL per JVM through {@link
 * #initOnce(List)}.
 */
public final class Eal {
  private Eal() {}

  private static final MethodHandle EAL_INIT =
      Dpdk.downcall("rte_eal_init", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
  private static final MethodHandle EAL_CLEANUP =
      Dpdk.downcall("rte_eal_cleanup", FunctionDescriptor.of(JAVA_INT));
  private static final MethodHandle SOCKET_ID =
      Dpdk.downcall("rte_socket_id", FunctionDescriptor.of(JAVA_INT));

  private enum State {
    NEW,
    RUNNING,
    CLEANED_UP
  }

  private static State state = State.NEW;
  private static List<String> initArguments = List.of();

  /**
   * Runs {@code rte_eal_init} with {@code arguments} (program name first). The calling thread
   * becomes the main lcore. The argv strings are kept for the life of the process: EAL keeps
   * pointers into them.
   */
  public static synchronized void init(List<String> arguments) {
    if (state != State.NEW) {
      throw new DpdkException("EAL already initialised with " + initArguments);
    }
    Arena forever = Arena.global();
    MemorySegment argv = forever.allocate(ADDRESS, arguments.size() + 1L);
    for (int i = 0; i < arguments.size(); i++) {
      argv.setAtIndex(ADDRESS, i, forever.allocateFrom(arguments.get(i)));
    }
    argv.setAtIndex(ADDRESS, arguments.size(), MemorySegment.NULL);
    int result;
    try {
      result = (int) EAL_INIT.invokeExact(arguments.size(), argv);
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_eal_init", t);
    }
    if (result < 0) {
      throw new DpdkException("rte_eal_init" + arguments, Dpdk.rteErrno());
    }
    state = State.RUNNING;
    initArguments = List.copyOf(arguments);
  }

  /** Initialises EAL unless this process already did; returns the arguments in force. */
  public static synchronized List<String> initOnce(List<String> arguments) {
    if (state == State.NEW) {
      init(arguments);
    }
    return initArguments;
  }

  public static synchronized boolean isRunning() {
    return state == State.RUNNING;
  }

  /** Releases EAL's resources (hugepages, vdevs). EAL cannot be initialised again afterwards. */
  public static synchronized void cleanup() {
    if (state != State.RUNNING) {
      return;
    }
    try {
      Dpdk.check((int) EAL_CLEANUP.invokeExact(), "rte_eal_cleanup");
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_eal_cleanup", t);
    } finally {
      state = State.CLEANED_UP;
    }
  }

  /** The NUMA socket of the calling thread's lcore (or SOCKET_ID_ANY, -1). */
  public static int socketId() {
    try {
      return (int) SOCKET_ID.invokeExact();
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_socket_id", t);
    }
  }
}
