package io.flatnet.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.flatnet.control.Limits;
import io.flatnet.dataplane.packet.Ethernet;
import io.flatnet.dpdk.DpdkLayout;
import io.flatnet.dpdk.PktMbufPool;
import org.junit.jupiter.api.Test;

/**
 * The limits the agent validates against ({@link Limits}, which cannot see DPDK) are the ones the
 * installed DPDK has: DpdkLayout's figures are themselves checked by the C layout probe.
 */
class LimitsMatchDpdkTest {

  @Test
  void portsAndFrameRoomAreDpdks() {
    assertEquals(DpdkLayout.MAX_ETHPORTS, Limits.MAX_PORTS);
    assertEquals(DpdkLayout.MBUF_DEFAULT_DATAROOM, Limits.FRAME_ROOM);
    assertEquals(
        PktMbufPool.DEFAULT_DATA_ROOM - DpdkLayout.MBUF_HEADROOM - Ethernet.HEADER - 4,
        Limits.MAX_MTU);
  }

  @Test
  void theAdjacencyHoldsEveryMtuAndStartsWithTheDefault() {
    assertEquals(Limits.DEFAULT_MTU, io.flatnet.route.NextHopTable.DEFAULT_MTU);
    assertEquals(0, Limits.MAX_MTU >>> 16, "the egress word's 16 bits");
    assertEquals(true, Limits.MAX_PORTS - 1 <= io.flatnet.route.NextHopTable.MAX_PORT);
  }
}
