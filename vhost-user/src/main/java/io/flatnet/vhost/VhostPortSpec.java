package io.flatnet.vhost;

import java.nio.file.Path;

/**
 * A vhost-user pod port to create: the pod's name (also the port's name in counters), its socket,
 * which side owns the socket, and how many queue pairs it offers.
 */
public record VhostPortSpec(String name, Path socket, VhostMode mode, int queues) {
  /** Most queue pairs a vhost-user device has in DPDK 22.11 (VHOST_MAX_QUEUE_PAIRS). */
  public static final int MAX_QUEUES = 128;

  public VhostPortSpec {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("a vhost-user port needs a name");
    }
    if (socket == null) {
      throw new IllegalArgumentException("vhost-user port " + name + " needs a socket path");
    }
    socket = socket.toAbsolutePath().normalize();
    if (mode == null) {
      mode = VhostMode.CLIENT;
    }
  }

  /** A pod port in the default mode, client: the VM side owns the socket. */
  public static VhostPortSpec pod(String name, Path socket) {
    return new VhostPortSpec(name, socket, VhostMode.CLIENT, 1);
  }

  public VhostPortSpec withMode(VhostMode portMode) {
    return new VhostPortSpec(name, socket, portMode, queues);
  }

  public VhostPortSpec withQueues(int count) {
    return new VhostPortSpec(name, socket, mode, count);
  }

  /**
   * The net_vhost devargs for this port under DPDK device name {@code deviceName}. The PMD passes
   * {@code client=1} to rte_vhost as RTE_VHOST_USER_CLIENT and never RTE_VHOST_USER_NO_RECONNECT,
   * so a client port reconnects by itself.
   */
  public String devargs(String deviceName) {
    return deviceName
        + ",iface="
        + socket
        + ",queues="
        + queues
        + ",client="
        + (mode == VhostMode.CLIENT ? 1 : 0);
  }
}
