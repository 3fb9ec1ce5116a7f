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
}
