package io.flatnet.dpdk.vhost;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.flatnet.dpdk.Dpdk;
import io.flatnet.dpdk.DpdkException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * Read-only control-path queries on vhost-user devices behind net_vhost ports (DPDK 22.11): the vid
 * the PMD attached to a port, and what rte_vhost negotiated for it. No callbacks: the caller polls.
 *
 * <p>{@code rte_eth_vhost_get_vid_from_port_id} lives in the PMD, {@code librte_net_vhost.so.23},
 * which EAL loads as a plugin; looking it up by its soname finds that same loaded copy (a second
 * copy would have its own, empty, port list). The PMD reports a vid only between its {@code
 * new_device} callback (the peer finished negotiating: memory table mapped, vrings ready) and
 * {@code destroy_device}; otherwise -1.
 */
@SuppressWarnings("restricted") // the bindings are where native access belongs
public final class VhostDevices {
  private VhostDevices() {}

  private static final Linker LINKER = Linker.nativeLinker();
  private static final SymbolLookup VHOST = load("librte_vhost.so." + Dpdk.ABI);
  private static final SymbolLookup NET_VHOST = load("librte_net_vhost.so." + Dpdk.ABI);

  private static final MethodHandle GET_VID_FROM_PORT =
      handle(
          NET_VHOST,
          "rte_eth_vhost_get_vid_from_port_id",
          FunctionDescriptor.of(JAVA_INT, JAVA_SHORT));
  private static final MethodHandle GET_NEGOTIATED_FEATURES =
      handle(
          VHOST,
          "rte_vhost_get_negotiated_features",
          FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
  private static final MethodHandle GET_VRING_NUM =
      handle(VHOST, "rte_vhost_get_vring_num", FunctionDescriptor.of(JAVA_SHORT, JAVA_INT));
  private static final MethodHandle GET_MEM_TABLE =
      handle(VHOST, "rte_vhost_get_mem_table", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
  private static final MethodHandle FREE =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("free").orElseThrow(), FunctionDescriptor.ofVoid(ADDRESS));

  /**
   * {@code struct rte_vhost_memory { uint32_t nregions; struct rte_vhost_mem_region regions[]; }}
   */
  private static final long MEMORY_NREGIONS = 0;

  private static SymbolLookup load(String library) {
    try {
      return SymbolLookup.libraryLookup(library, Arena.global());
    } catch (IllegalArgumentException e) {
      throw new DpdkException(
          "cannot load " + library + ": DPDK 22.11's vhost libraries are not installed", e);
    }
  }

  private static MethodHandle handle(
      SymbolLookup lookup, String name, FunctionDescriptor descriptor) {
    MemorySegment symbol =
        lookup
            .find(name)
            .orElseThrow(
                () -> new DpdkException("symbol " + name + " not found in DPDK " + Dpdk.ABI));
    return LINKER.downcallHandle(symbol, descriptor);
  }

  /**
   * The vhost device id of a net_vhost port, or -1 while no peer has finished negotiating (also for
   * a port that is not a net_vhost port).
   */
  public static int vidOfPort(int port) {
    try {
      return (int) GET_VID_FROM_PORT.invokeExact((short) port);
    } catch (Throwable t) {
      throw rethrow("rte_eth_vhost_get_vid_from_port_id", t);
    }
  }

  /** The virtio feature bits negotiated with the peer; -1 if the device is gone. */
  public static long negotiatedFeatures(int vid) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment features = arena.allocate(JAVA_LONG);
      int result = (int) GET_NEGOTIATED_FEATURES.invokeExact(vid, features);
      return result == 0 ? features.get(JAVA_LONG, 0) : -1;
    } catch (Throwable t) {
      throw rethrow("rte_vhost_get_negotiated_features", t);
    }
  }

  /** How many vrings the peer set up (two per queue pair); 0 if the device is gone. */
  public static int vringCount(int vid) {
    try {
      return (short) GET_VRING_NUM.invokeExact(vid) & 0xFFFF;
    } catch (Throwable t) {
      throw rethrow("rte_vhost_get_vring_num", t);
    }
  }

  /**
   * How many guest memory regions are mapped, from {@code rte_vhost_get_mem_table} (whose copy is
   * released with libc {@code free}); -1 if the device is gone.
   *
   * <p>Call it only for a vid that {@link #vidOfPort} just returned: rte_vhost 22.11 reads the
   * device's memory table without checking that one was received, and the PMD hands out a vid only
   * once it was. A peer that disconnects in the microseconds between the two calls is a race this
   * API cannot close; callers keep it rare by asking once per connection, not on every poll.
   */
  public static int memoryRegions(int vid) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ADDRESS);
      int result = (int) GET_MEM_TABLE.invokeExact(vid, out);
      if (result != 0) {
        return -1;
      }
      MemorySegment memory = out.get(ADDRESS, 0);
      if (memory.equals(MemorySegment.NULL)) {
        return -1;
      }
      try {
        return memory.reinterpret(4).get(JAVA_INT, MEMORY_NREGIONS);
      } finally {
        FREE.invokeExact(memory);
      }
    } catch (Throwable t) {
      throw rethrow("rte_vhost_get_mem_table", t);
    }
  }

  /** What rte_vhost says of one device. */
  public record DeviceInfo(int vid, long features, int vrings, int memoryRegions) {}

  /** Features, vrings and memory regions of a vid the PMD reported. */
  public static DeviceInfo describe(int vid) {
    return new DeviceInfo(vid, negotiatedFeatures(vid), vringCount(vid), memoryRegions(vid));
  }

  private static DpdkException rethrow(String what, Throwable t) {
    if (t instanceof RuntimeException e) {
      throw e;
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new DpdkException(what + " failed", t);
  }
}
