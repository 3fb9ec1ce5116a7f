/* Prints every offset and size that flatnet's Java bindings use, as "NAME VALUE" lines,
 * computed by the compiler from the installed DPDK headers. LayoutConformanceTest compares them
 * with io.flatnet.dpdk.DpdkLayout. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <rte_config.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_lcore.h>

#define P(name, value) printf("%s %lld\n", name, (long long)(value))
#define OFF(name, type, member) P(name, offsetof(type, member))

int main(void) {
  OFF("MBUF_BUF_ADDR", struct rte_mbuf, buf_addr);
  OFF("MBUF_DATA_OFF", struct rte_mbuf, data_off);
  OFF("MBUF_REFCNT", struct rte_mbuf, refcnt);
  OFF("MBUF_NB_SEGS", struct rte_mbuf, nb_segs);
  OFF("MBUF_PORT", struct rte_mbuf, port);
  OFF("MBUF_OL_FLAGS", struct rte_mbuf, ol_flags);
  OFF("MBUF_PACKET_TYPE", struct rte_mbuf, packet_type);
  OFF("MBUF_PKT_LEN", struct rte_mbuf, pkt_len);
  OFF("MBUF_DATA_LEN", struct rte_mbuf, data_len);
  OFF("MBUF_VLAN_TCI", struct rte_mbuf, vlan_tci);
  OFF("MBUF_VLAN_TCI_OUTER", struct rte_mbuf, vlan_tci_outer);
  OFF("MBUF_BUF_LEN", struct rte_mbuf, buf_len);
  OFF("MBUF_POOL", struct rte_mbuf, pool);
  OFF("MBUF_NEXT", struct rte_mbuf, next);
  OFF("MBUF_TX_OFFLOAD", struct rte_mbuf, tx_offload);
  P("MBUF_SIZE", sizeof(struct rte_mbuf));
  P("MBUF_HEADROOM", RTE_PKTMBUF_HEADROOM);
  P("MBUF_DEFAULT_DATAROOM", RTE_MBUF_DEFAULT_DATAROOM);
  P("MBUF_PORT_INVALID", RTE_MBUF_PORT_INVALID);
  P("MBUF_F_EXTERNAL", RTE_MBUF_F_EXTERNAL);
  P("MBUF_F_RX_IP_CKSUM_MASK", RTE_MBUF_F_RX_IP_CKSUM_MASK);
  P("MBUF_F_RX_IP_CKSUM_GOOD", RTE_MBUF_F_RX_IP_CKSUM_GOOD);
  P("MBUF_F_RX_IP_CKSUM_BAD", RTE_MBUF_F_RX_IP_CKSUM_BAD);

  OFF("MEMPOOL_OPS_INDEX", struct rte_mempool, ops_index);
  OFF("MEMPOOL_OPS_TABLE_OPS", struct rte_mempool_ops_table, ops);
  P("MEMPOOL_OPS_SIZE", sizeof(struct rte_mempool_ops));
  OFF("MEMPOOL_OPS_DEQUEUE", struct rte_mempool_ops, dequeue);
  P("MEMPOOL_MAX_OPS_IDX", RTE_MEMPOOL_MAX_OPS_IDX);

  P("ETH_FP_OPS_SIZE", sizeof(struct rte_eth_fp_ops));
  OFF("ETH_FP_OPS_RX_PKT_BURST", struct rte_eth_fp_ops, rx_pkt_burst);
  OFF("ETH_FP_OPS_RXQ_DATA", struct rte_eth_fp_ops, rxq.data);
  OFF("ETH_FP_OPS_TX_PKT_BURST", struct rte_eth_fp_ops, tx_pkt_burst);
  OFF("ETH_FP_OPS_TXQ_DATA", struct rte_eth_fp_ops, txq.data);
  P("MAX_ETHPORTS", RTE_MAX_ETHPORTS);
  P("MAX_QUEUES_PER_PORT", RTE_MAX_QUEUES_PER_PORT);

  P("ETH_CONF_SIZE", sizeof(struct rte_eth_conf));
  OFF("ETH_CONF_RXMODE_MQ_MODE", struct rte_eth_conf, rxmode.mq_mode);
  OFF("ETH_CONF_RXMODE_MTU", struct rte_eth_conf, rxmode.mtu);
  OFF("ETH_CONF_RXMODE_OFFLOADS", struct rte_eth_conf, rxmode.offloads);
  OFF("ETH_CONF_TXMODE_OFFLOADS", struct rte_eth_conf, txmode.offloads);
  OFF("ETH_CONF_RSS_HF", struct rte_eth_conf, rx_adv_conf.rss_conf.rss_hf);
  P("ETH_MQ_RX_RSS", RTE_ETH_MQ_RX_RSS);

  P("ETH_DEV_INFO_SIZE", sizeof(struct rte_eth_dev_info));
  OFF("ETH_DEV_INFO_DEVICE", struct rte_eth_dev_info, device);
  OFF("ETH_DEV_INFO_DRIVER_NAME", struct rte_eth_dev_info, driver_name);
  OFF("ETH_DEV_INFO_IF_INDEX", struct rte_eth_dev_info, if_index);
  OFF("ETH_DEV_INFO_MIN_MTU", struct rte_eth_dev_info, min_mtu);
  OFF("ETH_DEV_INFO_MAX_MTU", struct rte_eth_dev_info, max_mtu);
  OFF("ETH_DEV_INFO_MAX_RX_PKTLEN", struct rte_eth_dev_info, max_rx_pktlen);
  OFF("ETH_DEV_INFO_MAX_RX_QUEUES", struct rte_eth_dev_info, max_rx_queues);
  OFF("ETH_DEV_INFO_MAX_TX_QUEUES", struct rte_eth_dev_info, max_tx_queues);
  OFF("ETH_DEV_INFO_RX_OFFLOAD_CAPA", struct rte_eth_dev_info, rx_offload_capa);
  OFF("ETH_DEV_INFO_TX_OFFLOAD_CAPA", struct rte_eth_dev_info, tx_offload_capa);
  OFF("ETH_DEV_INFO_FLOW_TYPE_RSS_OFFLOADS", struct rte_eth_dev_info, flow_type_rss_offloads);

  P("ETH_LINK_SIZE", sizeof(struct rte_eth_link));
  OFF("ETH_LINK_SPEED", struct rte_eth_link, link_speed);
  {
    /* Bit-fields have no offsetof: find each flag's bit in the 16-bit word after link_speed. */
    struct rte_eth_link l;
    uint16_t word;
    memset(&l, 0, sizeof(l)); l.link_duplex = 1;
    memcpy(&word, (char *)&l + 4, 2); P("ETH_LINK_DUPLEX_BIT", __builtin_ctz(word));
    memset(&l, 0, sizeof(l)); l.link_autoneg = 1;
    memcpy(&word, (char *)&l + 4, 2); P("ETH_LINK_AUTONEG_BIT", __builtin_ctz(word));
    memset(&l, 0, sizeof(l)); l.link_status = 1;
    memcpy(&word, (char *)&l + 4, 2); P("ETH_LINK_STATUS_BIT", __builtin_ctz(word));
  }

  P("ETH_STATS_SIZE", sizeof(struct rte_eth_stats));
  OFF("ETH_STATS_IPACKETS", struct rte_eth_stats, ipackets);
  OFF("ETH_STATS_OPACKETS", struct rte_eth_stats, opackets);
  OFF("ETH_STATS_IBYTES", struct rte_eth_stats, ibytes);
  OFF("ETH_STATS_OBYTES", struct rte_eth_stats, obytes);
  OFF("ETH_STATS_IMISSED", struct rte_eth_stats, imissed);
  OFF("ETH_STATS_IERRORS", struct rte_eth_stats, ierrors);
  OFF("ETH_STATS_OERRORS", struct rte_eth_stats, oerrors);
  OFF("ETH_STATS_RX_NOMBUF", struct rte_eth_stats, rx_nombuf);

  P("ETH_XSTAT_SIZE", sizeof(struct rte_eth_xstat));
  OFF("ETH_XSTAT_ID", struct rte_eth_xstat, id);
  OFF("ETH_XSTAT_VALUE", struct rte_eth_xstat, value);
  P("ETH_XSTAT_NAME_SIZE", sizeof(struct rte_eth_xstat_name));
  P("ETHER_ADDR_LEN", RTE_ETHER_ADDR_LEN);
  P("CPUSET_SIZE", sizeof(rte_cpuset_t));
  return 0;
}
