package io.flatnet.dpdk;

import static io.flatnet.dpdk.DpdkLayout.*;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

/** Control-path calls on an ethdev port: set-up, state, MAC, link, stats. */
@SuppressWarnings("restricted") // the bindings are where native access belongs
public final class EthDev {
  private EthDev() {}

  private static final MethodHandle GET_PORT_BY_NAME =
      Dpdk.downcall(
          "rte_eth_dev_get_port_by_name", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle IS_VALID_PORT =
      Dpdk.downcall("rte_eth_dev_is_valid_port", FunctionDescriptor.of(JAVA_INT, JAVA_SHORT));
  private static final MethodHandle COUNT_AVAIL =
      Dpdk.downcall("rte_eth_dev_count_avail", FunctionDescriptor.of(JAVA_SHORT));
  private static final MethodHandle INFO_GET =
      Dpdk.downcall("rte_eth_dev_info_get", FunctionDescriptor.of(JAVA_INT, JAVA_SHORT, ADDRESS));
  private static final MethodHandle CONFIGURE =
      Dpdk.downcall(
          "rte_eth_dev_configure",
          FunctionDescriptor.of(JAVA_INT, JAVA_SHORT, JAVA_SHORT, JAVA_SHORT, ADDRESS));
  private static final MethodHandle RX_QUEUE_SETUP =
      Dpdk.downcall(
          "rte_eth_rx_queue_setup",
          FunctionDescriptor.of(
              JAVA_INT, JAVA_SHORT, JAVA_SHORT, JAVA_SHORT, JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle TX_QUEUE_SETUP =
      Dpdk.downcall(
          "rte_eth_tx_queue_setup",
          FunctionDescriptor.of(JAVA_INT, JAVA_SHORT, JAVA_SHORT, JAVA_SHORT, JAVA_INT, ADDRESS));
  private static final MethodHandle START =
      Dpdk.downcall("rte_eth_dev_start", FunctionDescriptor.of(JAVA_INT, JAVA_SHORT));
  private static final MethodHandle STOP =
      Dpdk.downcall("rte_eth_dev_stop", FunctionDescriptor.of(JAVA_INT, JAVA_SHORT));
  private static final MethodHandle CLOSE =
      Dpdk.downcall("rte_eth_dev_close", FunctionDescriptor.of(JAVA_INT, JAVA_SHORT));
  private static final MethodHandle MACADDR_GET =
      Dpdk.downcall("rte_eth_macaddr_get", FunctionDescriptor.of(JAVA_INT, JAVA_SHORT, ADDRESS));
  private static final MethodHandle LINK_GET_NOWAIT =
      Dpdk.downcall(
          "rte_eth_link_get_nowait", FunctionDescriptor.of(JAVA_INT, JAVA_SHORT, ADDRESS));
  private static final MethodHandle STATS_GET =
      Dpdk.downcall("rte_eth_stats_get", FunctionDescriptor.of(JAVA_INT, JAVA_SHORT, ADDRESS));
  private static final MethodHandle XSTATS_GET_NAMES =
      Dpdk.downcall(
          "rte_eth_xstats_get_names",
          FunctionDescriptor.of(JAVA_INT, JAVA_SHORT, ADDRESS, JAVA_INT));
  private static final MethodHandle XSTATS_GET =
      Dpdk.downcall(
          "rte_eth_xstats_get", FunctionDescriptor.of(JAVA_INT, JAVA_SHORT, ADDRESS, JAVA_INT));
  private static final MethodHandle PROMISCUOUS_ENABLE =
      Dpdk.downcall("rte_eth_promiscuous_enable", FunctionDescriptor.of(JAVA_INT, JAVA_SHORT));
  private static final MethodHandle PROMISCUOUS_DISABLE =
      Dpdk.downcall("rte_eth_promiscuous_disable", FunctionDescriptor.of(JAVA_INT, JAVA_SHORT));
  private static final MethodHandle ALLMULTICAST_ENABLE =
      Dpdk.downcall("rte_eth_allmulticast_enable", FunctionDescriptor.of(JAVA_INT, JAVA_SHORT));
  private static final MethodHandle SET_MTU =
      Dpdk.downcall("rte_eth_dev_set_mtu", FunctionDescriptor.of(JAVA_INT, JAVA_SHORT, JAVA_SHORT));
  private static final MethodHandle SOCKET_ID =
      Dpdk.downcall("rte_eth_dev_socket_id", FunctionDescriptor.of(JAVA_INT, JAVA_SHORT));

  /** What {@code rte_eth_dev_info_get} says of a port (the fields flatnet uses). */
  public record DeviceInfo(
      String driverName,
      int ifIndex,
      int minMtu,
      int maxMtu,
      int maxRxPacketLength,
      int maxRxQueues,
      int maxTxQueues,
      long rxOffloadCapabilities,
      long txOffloadCapabilities,
      long rssHashFunctions,
      long deviceAddress) {}

  /** Link state from {@code rte_eth_link_get_nowait}. */
  public record LinkStatus(int speedMbps, boolean up, boolean fullDuplex, boolean autoNegotiated) {}

  /** Basic counters from {@code rte_eth_stats_get}. */
  public record Stats(
      long rxPackets,
      long txPackets,
      long rxBytes,
      long txBytes,
      long rxMissed,
      long rxErrors,
      long txErrors,
      long rxNoMbuf) {}

  /** One extended statistic. */
  public record Xstat(String name, long value) {}

  /** Per-port settings for {@link #configure}. */
  public record PortConfig(int rxQueues, int txQueues, int mtu, boolean rss, long rxOffloads) {
    public static PortConfig of(int rxQueues, int txQueues) {
      return new PortConfig(rxQueues, txQueues, 0, false, 0);
    }
  }

  /** The port id of a device by its name (for vdevs, the name before the first comma). */
  public static int portIdOf(String deviceName) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment portId = arena.allocate(JAVA_SHORT);
      int result = (int) GET_PORT_BY_NAME.invokeExact(arena.allocateFrom(deviceName), portId);
      Dpdk.check(result, "no ethdev port named " + deviceName);
      return portId.get(JAVA_SHORT, 0) & 0xFFFF;
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_eth_dev_get_port_by_name", t);
    }
  }

  public static boolean isValidPort(int port) {
    try {
      return (int) IS_VALID_PORT.invokeExact((short) port) != 0;
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_eth_dev_is_valid_port", t);
    }
  }

  public static int availablePorts() {
    try {
      return (short) COUNT_AVAIL.invokeExact() & 0xFFFF;
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_eth_dev_count_avail", t);
    }
  }

  public static DeviceInfo info(int port) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment info = arena.allocate(ETH_DEV_INFO_SIZE, 8);
      Dpdk.check(
          (int) INFO_GET.invokeExact((short) port, info), "rte_eth_dev_info_get port " + port);
      MemorySegment driver = info.get(ADDRESS, ETH_DEV_INFO_DRIVER_NAME);
      return new DeviceInfo(
          driver.address() == 0 ? "?" : driver.reinterpret(64).getString(0),
          info.get(JAVA_INT, ETH_DEV_INFO_IF_INDEX),
          info.get(JAVA_SHORT, ETH_DEV_INFO_MIN_MTU) & 0xFFFF,
          info.get(JAVA_SHORT, ETH_DEV_INFO_MAX_MTU) & 0xFFFF,
          info.get(JAVA_INT, ETH_DEV_INFO_MAX_RX_PKTLEN),
          info.get(JAVA_SHORT, ETH_DEV_INFO_MAX_RX_QUEUES) & 0xFFFF,
          info.get(JAVA_SHORT, ETH_DEV_INFO_MAX_TX_QUEUES) & 0xFFFF,
          info.get(JAVA_LONG, ETH_DEV_INFO_RX_OFFLOAD_CAPA),
          info.get(JAVA_LONG, ETH_DEV_INFO_TX_OFFLOAD_CAPA),
          info.get(JAVA_LONG, ETH_DEV_INFO_FLOW_TYPE_RSS_OFFLOADS),
          info.get(JAVA_LONG, ETH_DEV_INFO_DEVICE));
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_eth_dev_info_get", t);
    }
  }

  /** Configures queue counts, MTU (0: the driver's default), RSS and RX offloads. */
  public static void configure(int port, PortConfig config) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment conf = arena.allocate(ETH_CONF_SIZE, 8);
      conf.set(JAVA_INT, ETH_CONF_RXMODE_MTU, config.mtu());
      conf.set(JAVA_LONG, ETH_CONF_RXMODE_OFFLOADS, config.rxOffloads());
      if (config.rss()) {
        conf.set(JAVA_INT, ETH_CONF_RXMODE_MQ_MODE, ETH_MQ_RX_RSS);
        conf.set(JAVA_LONG, ETH_CONF_RSS_HF, info(port).rssHashFunctions());
      }
      int result =
          (int)
              CONFIGURE.invokeExact(
                  (short) port, (short) config.rxQueues(), (short) config.txQueues(), conf);
      Dpdk.check(result, "rte_eth_dev_configure port " + port + " " + config);
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_eth_dev_configure", t);
    }
  }

  public static void rxQueueSetup(
      int port, int queue, int descriptors, int socket, PktMbufPool pool) {
    try {
      int result =
          (int)
              RX_QUEUE_SETUP.invokeExact(
                  (short) port,
                  (short) queue,
                  (short) descriptors,
                  socket,
                  MemorySegment.NULL,
                  MemorySegment.ofAddress(pool.address()));
      Dpdk.check(result, "rte_eth_rx_queue_setup port " + port + " queue " + queue);
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_eth_rx_queue_setup", t);
    }
  }

  public static void txQueueSetup(int port, int queue, int descriptors, int socket) {
    try {
      int result =
          (int)
              TX_QUEUE_SETUP.invokeExact(
                  (short) port, (short) queue, (short) descriptors, socket, MemorySegment.NULL);
      Dpdk.check(result, "rte_eth_tx_queue_setup port " + port + " queue " + queue);
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_eth_tx_queue_setup", t);
    }
  }

  public static void start(int port) {
    portCall(START, port, "rte_eth_dev_start");
  }

  public static void stop(int port) {
    portCall(STOP, port, "rte_eth_dev_stop");
  }

  public static void close(int port) {
    portCall(CLOSE, port, "rte_eth_dev_close");
  }

  public static void promiscuous(int port, boolean enable) {
    portCall(
        enable ? PROMISCUOUS_ENABLE : PROMISCUOUS_DISABLE,
        port,
        enable ? "rte_eth_promiscuous_enable" : "rte_eth_promiscuous_disable");
  }

  /**
   * Receives every multicast frame (neighbour discovery's solicited-node groups) without going
   * promiscuous; false if the driver cannot (a vdev that gets all frames anyway).
   */
  public static boolean allMulticast(int port) {
    try {
      return (int) ALLMULTICAST_ENABLE.invokeExact((short) port) == 0;
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_eth_allmulticast_enable", t);
    }
  }

  private static void portCall(MethodHandle call, int port, String name) {
    try {
      Dpdk.check((int) call.invokeExact((short) port), name + " port " + port);
    } catch (Throwable t) {
      throw Dpdk.rethrow(name, t);
    }
  }

  public static void setMtu(int port, int mtu) {
    try {
      Dpdk.check(
          (int) SET_MTU.invokeExact((short) port, (short) mtu),
          "rte_eth_dev_set_mtu port " + port + " mtu " + mtu);
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_eth_dev_set_mtu", t);
    }
  }

  public static int socketId(int port) {
    try {
      return (int) SOCKET_ID.invokeExact((short) port);
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_eth_dev_socket_id", t);
    }
  }

  /** The port's MAC address in the low 48 bits, first wire byte most significant. */
  public static long macAddress(int port) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment mac = arena.allocate(ETHER_ADDR_LEN);
      Dpdk.check((int) MACADDR_GET.invokeExact((short) port, mac), "rte_eth_macaddr_get");
      return NativeMemory.getMac(mac.address());
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_eth_macaddr_get", t);
    }
  }

  public static LinkStatus link(int port) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment link = arena.allocate(ETH_LINK_SIZE, 8);
      Dpdk.check((int) LINK_GET_NOWAIT.invokeExact((short) port, link), "rte_eth_link_get_nowait");
      int flags = link.get(JAVA_SHORT, ETH_LINK_SPEED + 4) & 0xFFFF;
      return new LinkStatus(
          link.get(JAVA_INT, ETH_LINK_SPEED),
          (flags >>> ETH_LINK_STATUS_BIT & 1) != 0,
          (flags >>> ETH_LINK_DUPLEX_BIT & 1) != 0,
          (flags >>> ETH_LINK_AUTONEG_BIT & 1) != 0);
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_eth_link_get_nowait", t);
    }
  }

  public static Stats stats(int port) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment s = arena.allocate(ETH_STATS_SIZE, 8);
      Dpdk.check((int) STATS_GET.invokeExact((short) port, s), "rte_eth_stats_get port " + port);
      return new Stats(
          s.get(JAVA_LONG, ETH_STATS_IPACKETS),
          s.get(JAVA_LONG, ETH_STATS_OPACKETS),
          s.get(JAVA_LONG, ETH_STATS_IBYTES),
          s.get(JAVA_LONG, ETH_STATS_OBYTES),
          s.get(JAVA_LONG, ETH_STATS_IMISSED),
          s.get(JAVA_LONG, ETH_STATS_IERRORS),
          s.get(JAVA_LONG, ETH_STATS_OERRORS),
          s.get(JAVA_LONG, ETH_STATS_RX_NOMBUF));
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_eth_stats_get", t);
    }
  }

  /** All extended statistics of a port, by name. */
  public static List<Xstat> xstats(int port) {
    try (Arena arena = Arena.ofConfined()) {
      int count = (int) XSTATS_GET_NAMES.invokeExact((short) port, MemorySegment.NULL, 0);
      Dpdk.check(count, "rte_eth_xstats_get_names port " + port);
      MemorySegment names = arena.allocate((long) ETH_XSTAT_NAME_SIZE * count, 8);
      MemorySegment values = arena.allocate((long) ETH_XSTAT_SIZE * count, 8);
      int named = (int) XSTATS_GET_NAMES.invokeExact((short) port, names, count);
      int valued = (int) XSTATS_GET.invokeExact((short) port, values, count);
      Dpdk.check(named, "rte_eth_xstats_get_names port " + port);
      Dpdk.check(valued, "rte_eth_xstats_get port " + port);
      List<Xstat> result = new ArrayList<>();
      for (int i = 0; i < Math.min(Math.min(named, valued), count); i++) {
        long id = values.get(JAVA_LONG, (long) i * ETH_XSTAT_SIZE + ETH_XSTAT_ID);
        long value = values.get(JAVA_LONG, (long) i * ETH_XSTAT_SIZE + ETH_XSTAT_VALUE);
        String name =
            id >= 0 && id < count ? names.getString(id * ETH_XSTAT_NAME_SIZE) : "xstat-" + id;
        result.add(new Xstat(name, value));
      }
      return result;
    } catch (Throwable t) {
      throw Dpdk.rethrow("rte_eth_xstats_get", t);
    }
  }

  /** Reads a pointer-sized field of {@code rte_eth_fp_ops[port]}. */
  static long fastPathField(int port, int offset) {
    if (port < 0 || port >= MAX_ETHPORTS) {
      throw new IllegalArgumentException("port " + port + " is out of range 0.." + MAX_ETHPORTS);
    }
    return NativeMemory.getLong(FP_OPS + (long) port * ETH_FP_OPS_SIZE + offset);
  }

  private static final long FP_OPS = Dpdk.symbol("rte_eth_fp_ops").address();
}
