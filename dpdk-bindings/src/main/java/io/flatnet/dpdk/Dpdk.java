package io.flatnet.dpdk;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * Loads DPDK 22.11's shared libraries and makes downcall handles to their exported symbols. PMDs
 * (net_vhost, virtio_user, net_tap, ...) are not named here: EAL loads them as plugins from its
 * built-in driver directory during {@code rte_eal_init}.
 */
@SuppressWarnings("restricted") // the bindings are where native access belongs
public final class Dpdk {
  private Dpdk() {}

  /** DPDK 22.11 LTS has ABI version 23. */
  public static final String ABI = "23";

  private static final String[] LIBRARIES = {
    "librte_eal.so." + ABI,
    "librte_mempool.so." + ABI,
    "librte_mbuf.so." + ABI,
    "librte_ethdev.so." + ABI,
    "librte_fib.so." + ABI,
  };

  static final Linker LINKER = Linker.nativeLinker();
  private static final SymbolLookup LOOKUP = loadLibraries();

  private static SymbolLookup loadLibraries() {
    SymbolLookup lookup = null;
    for (String library : LIBRARIES) {
      SymbolLookup next;
      try {
        next = SymbolLookup.libraryLookup(library, Arena.global());
      } catch (IllegalArgumentException e) {
        throw new DpdkException(
            "cannot load "
                + library
                + ": DPDK 22.11 is not installed (apt-get install dpdk libdpdk-dev), "
                + "or ./flatnet demo installs it",
            e);
      }
      lookup = lookup == null ? next : lookup.or(next);
    }
    return lookup;
  }

  /** The address of an exported symbol; fails clearly if this DPDK build lacks it. */
  public static MemorySegment symbol(String name) {
    return LOOKUP
        .find(name)
        .orElseThrow(() -> new DpdkException("symbol " + name + " not found in DPDK " + ABI));
  }

  /** A downcall handle for a control-path function (normal thread-state transitions). */
  public static MethodHandle downcall(String name, FunctionDescriptor descriptor) {
    return LINKER.downcallHandle(symbol(name), descriptor);
  }

  /**
   * A downcall handle for a short, non-blocking fast-path function: {@code critical} skips the
   * thread-state transition (about 7 ns to under 1 ns). Never use it for anything that can block.
   */
  public static MethodHandle criticalDowncall(String name, FunctionDescriptor descriptor) {
    return LINKER.downcallHandle(symbol(name), descriptor, Linker.Option.critical(false));
  }

  private static final MethodHandle RTE_STRERROR =
      downcall("rte_strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));

  /**
   * This thread's {@code rte_errno}. It is a thread-local ({@code per_lcore__rte_errno}); glibc's
   * dlsym resolves a TLS symbol to the calling thread's copy, so this must run on the thread that
   * made the failing call.
   */
  public static int rteErrno() {
    return LOOKUP
        .find("per_lcore__rte_errno")
        .map(address -> address.reinterpret(4).get(JAVA_INT, 0))
        .orElse(0);
  }

  /** The text of an error number, DPDK's own or the C library's. */
  public static String strerror(int errno) {
    try {
      MemorySegment text = (MemorySegment) RTE_STRERROR.invokeExact(Math.abs(errno));
      return text.reinterpret(256).getString(0);
    } catch (Throwable t) {
      throw new DpdkException("rte_strerror failed", t);
    }
  }

  /** Throws a {@link DpdkException} when a DPDK call returned a negative errno. */
  static int check(int result, String what) {
    if (result < 0) {
      throw new DpdkException(what, -result);
    }
    return result;
  }

  /** Rethrows what a downcall threw; the handles themselves never throw checked exceptions. */
  static DpdkException rethrow(String what, Throwable t) {
    if (t instanceof DpdkException e) {
      return e;
    }
    if (t instanceof RuntimeException e) {
      throw e;
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new DpdkException(what + " failed", t);
  }
}
