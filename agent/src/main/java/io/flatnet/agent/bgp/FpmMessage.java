package io.flatnet.agent.bgp;

import io.flatnet.agent.config.IpAddress;
import java.util.List;

/** One netlink message of an FPM frame, as {@link FpmDecoder} read it. */
public sealed interface FpmMessage {

  /** Linux's protocol numbers of the kernel's own routes (rtm_protocol 0..4). */
  int PROTOCOL_KERNEL_MAX = 4;

  /** rtm_protocol of routes zebra learned from the kernel, and of connected routes. */
  int PROTOCOL_KERNEL = 2;

  /** rtm_protocol of BGP routes (RTPROT_BGP). */
  int PROTOCOL_BGP = 186;

  /** rtm_protocol of staticd's routes (RTPROT_ZSTATIC). */
  int PROTOCOL_STATIC = 196;

  /** rtm_type of an ordinary route (RTN_UNICAST). */
  int TYPE_UNICAST = 1;

  /** The main routing table (RT_TABLE_MAIN), the default VRF's. */
  int TABLE_MAIN = 254;

  /**
   * RTM_NEWROUTE ({@code delete} false) or RTM_DELROUTE.
   *
   * @param prefix the destination, canonical ("10.9.0.0/16", "fd00:99::/64")
   * @param table RTA_TABLE if present, else rtm_table
   * @param protocol rtm_protocol: who made the route ({@link #PROTOCOL_BGP}, ...)
   * @param type rtm_type ({@link #TYPE_UNICAST}, 6 blackhole, 7 unreachable, ...)
   * @param priority RTA_PRIORITY (the metric), -1 if absent
   * @param nextHops RTA_GATEWAY/RTA_OIF as one next hop, or RTA_MULTIPATH's; empty when the route
   *     names a next-hop object ({@code nexthopId}) or has none (blackhole, a delete)
   * @param nexthopId RTA_NH_ID, 0 if absent
   */
  record Route(
      boolean delete,
      String prefix,
      int table,
      int protocol,
      int type,
      long priority,
      List<NextHop> nextHops,
      long nexthopId)
      implements FpmMessage {
    public Route {
      nextHops = List.copyOf(nextHops);
    }
  }

  /**
   * RTM_NEWNEXTHOP ({@code delete} false) or RTM_DELNEXTHOP: a next-hop object that routes name by
   * id (zebra sends them unless configured {@code no fpm use-next-hop-groups}).
   *
   * @param id NHA_ID
   * @param gateway NHA_GATEWAY, null if absent
   * @param ifindex NHA_OIF, 0 if absent
   * @param blackhole NHA_BLACKHOLE
   * @param group NHA_GROUP: the members of a group object, empty for a single next hop
   */
  record Nexthop(
      boolean delete,
      long id,
      IpAddress gateway,
      int ifindex,
      boolean blackhole,
      List<GroupMember> group)
      implements FpmMessage {
    public Nexthop {
      group = List.copyOf(group);
    }
  }

  /** A message flatnet does not use (its netlink type and why it is skipped). */
  record Skipped(int netlinkType, String why) implements FpmMessage {}

  /**
   * One next hop of a route.
   *
   * @param gateway RTA_GATEWAY (or RTA_VIA), null for a directly connected next hop
   * @param ifindex the kernel interface (RTA_OIF / rtnh_ifindex), 0 if absent
   * @param weight 1..256 (rtnh_hops + 1)
   */
  record NextHop(IpAddress gateway, int ifindex, int weight) {}

  /**
   * One member of a next-hop group object.
   *
   * @param id the member next-hop object's id
   * @param weight 1..256 (the kernel's nexthop_grp.weight + 1)
   */
  record GroupMember(long id, int weight) {}
}
