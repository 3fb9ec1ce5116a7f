package io.flatnet.dpdk;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** Device hotplug: add a vdev or PCI device at run time, and remove it. */
public final class Devices {
  private Devices() {}

  private static final MethodHandle DEV_PROBE =
      Dpdk.downcall("rte_dev_probe", FunctionDescriptor.of(JAVA_INT, ADDRESS));
  private static final MethodHandle DEV_REMOVE =
      Dpdk.downcall("rte_dev_remove", FunctionDescriptor.of(JAVA_INT, ADDRESS));

  /**
   * Probes a device from devargs, for example {@code net_vhost0,iface=/run/x.sock,queues=1}, and
   * returns its ethdev port id. The device name is the text before the first comma.
   */
  public static int probe(String devargs) {
    String name = devargs.split(",", 2)[0];
    try (Arena arena = Arena.ofConfined()) {
      int result = (int) DEV_PROBE.invokeExact(arena.allocateFrom(devargs));
      Dpdk.check(result, "rte_dev_probe(" + devargs + ")");
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_dev_probe", t);
    }
    return EthDev.portIdOf(name);
  }

  /**
   * Removes the device behind a port; its driver closes and releases the port. Stop the port first,
   * and do not close it: a closed port no longer names its device.
   */
  public static void remove(int port) {
    long device = EthDev.info(port).deviceAddress();
    try {
      int result = (int) DEV_REMOVE.invokeExact(MemorySegment.ofAddress(device));
      Dpdk.check(result, "rte_dev_remove(port " + port + ")");
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_dev_remove", t);
    }
  }
}
