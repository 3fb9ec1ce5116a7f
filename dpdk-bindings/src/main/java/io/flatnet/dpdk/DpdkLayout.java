package io.flatnet.dpdk;

/**
 * Every struct offset, size and constant of DPDK 22.11 (x86_64) that the bindings use. These are
 * never trusted: {@code LayoutConformanceTest} compiles a C probe against the installed headers and
 * fails if any field here differs from what the compiler says. Add a constant here and to the probe
 * together.
 */
public final class DpdkLayout {
  private DpdkLayout() {}

  public static final int MBUF_BUF_ADDR = 0;
  public static final int MBUF_DATA_OFF = 16;
  public static final int MBUF_REFCNT = 18;
  public static final int MBUF_NB_SEGS = 20;
  public static final int MBUF_PORT = 22;
  public static final int MBUF_OL_FLAGS = 24;
  public static final int MBUF_PACKET_TYPE = 32;
  public static final int MBUF_PKT_LEN = 36;
  public static final int MBUF_DATA_LEN = 40;
  public static final int MBUF_VLAN_TCI = 42;
  public static final int MBUF_VLAN_TCI_OUTER = 52;
  public static final int MBUF_BUF_LEN = 54;
  public static final int MBUF_POOL = 56;
  public static final int MBUF_NEXT = 64;
  public static final int MBUF_TX_OFFLOAD = 72;
  public static final int MBUF_SIZE = 128;
  public static final int MBUF_HEADROOM = 128;

  /** Data room of a default mbuf after its headroom ({@code RTE_MBUF_DEFAULT_DATAROOM}). */
  public static final int MBUF_DEFAULT_DATAROOM = 2048;

  public static final int MBUF_PORT_INVALID = 65535;
  public static final long MBUF_F_EXTERNAL = 2305843009213693952L;
  public static final int MBUF_F_RX_IP_CKSUM_MASK = 144;
  public static final int MBUF_F_RX_IP_CKSUM_GOOD = 128;
  public static final int MBUF_F_RX_IP_CKSUM_BAD = 16;
  public static final int MEMPOOL_OPS_INDEX = 88;
  public static final int MEMPOOL_OPS_TABLE_OPS = 64;
  public static final int MEMPOOL_OPS_SIZE = 128;
  public static final int MEMPOOL_OPS_DEQUEUE = 56;
  public static final int MEMPOOL_MAX_OPS_IDX = 16;
  public static final int ETH_FP_OPS_SIZE = 128;
  public static final int ETH_FP_OPS_RX_PKT_BURST = 0;
  public static final int ETH_FP_OPS_RXQ_DATA = 24;
  public static final int ETH_FP_OPS_TX_PKT_BURST = 64;
  public static final int ETH_FP_OPS_TXQ_DATA = 88;
  public static final int MAX_ETHPORTS = 32;
  public static final int MAX_QUEUES_PER_PORT = 1024;
  public static final int ETH_CONF_SIZE = 2272;
  public static final int ETH_CONF_RXMODE_MQ_MODE = 8;
  public static final int ETH_CONF_RXMODE_MTU = 12;
  public static final int ETH_CONF_RXMODE_OFFLOADS = 24;
  public static final int ETH_CONF_TXMODE_OFFLOADS = 72;
  public static final int ETH_CONF_RSS_HF = 144;
  public static final int ETH_MQ_RX_RSS = 1;
  public static final int ETH_DEV_INFO_SIZE = 376;
  public static final int ETH_DEV_INFO_DEVICE = 0;
  public static final int ETH_DEV_INFO_DRIVER_NAME = 8;
  public static final int ETH_DEV_INFO_IF_INDEX = 16;
  public static final int ETH_DEV_INFO_MIN_MTU = 20;
  public static final int ETH_DEV_INFO_MAX_MTU = 22;
  public static final int ETH_DEV_INFO_MAX_RX_PKTLEN = 36;
  public static final int ETH_DEV_INFO_MAX_RX_QUEUES = 44;
  public static final int ETH_DEV_INFO_MAX_TX_QUEUES = 46;
  public static final int ETH_DEV_INFO_RX_OFFLOAD_CAPA = 72;
  public static final int ETH_DEV_INFO_TX_OFFLOAD_CAPA = 80;
  public static final int ETH_DEV_INFO_FLOW_TYPE_RSS_OFFLOADS = 112;
  public static final int ETH_LINK_SIZE = 8;
  public static final int ETH_LINK_SPEED = 0;
  public static final int ETH_LINK_DUPLEX_BIT = 0;
  public static final int ETH_LINK_AUTONEG_BIT = 1;
  public static final int ETH_LINK_STATUS_BIT = 2;
  public static final int ETH_STATS_SIZE = 704;
  public static final int ETH_STATS_IPACKETS = 0;
  public static final int ETH_STATS_OPACKETS = 8;
  public static final int ETH_STATS_IBYTES = 16;
  public static final int ETH_STATS_OBYTES = 24;
  public static final int ETH_STATS_IMISSED = 32;
  public static final int ETH_STATS_IERRORS = 40;
  public static final int ETH_STATS_OERRORS = 48;
  public static final int ETH_STATS_RX_NOMBUF = 56;
  public static final int ETH_XSTAT_SIZE = 16;
  public static final int ETH_XSTAT_ID = 0;
  public static final int ETH_XSTAT_VALUE = 8;
  public static final int ETH_XSTAT_NAME_SIZE = 64;
  public static final int ETHER_ADDR_LEN = 6;
  public static final int CPUSET_SIZE = 128;
}
