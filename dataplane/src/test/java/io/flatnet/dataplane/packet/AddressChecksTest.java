package io.flatnet.dataplane.packet;

import static io.flatnet.dataplane.TestPackets.ip;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.route.Ipv6Prefix;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.QsbrDomain;
import org.junit.jupiter.api.Test;

class AddressChecksTest {
  @Test
  void unicastMacsAreNeitherZeroNorGroupAddresses() {
    assertTrue(AddressChecks.isUnicastMac(0x02_00_00_00_00_01L));
    assertFalse(AddressChecks.isUnicastMac(0), "all zeros");
    assertFalse(AddressChecks.isUnicastMac(0xFF_FF_FF_FF_FF_FFL), "broadcast");
    assertFalse(AddressChecks.isUnicastMac(0x33_33_FF_00_00_01L), "IPv6 multicast");
    assertFalse(AddressChecks.isUnicastMac(0x01_00_5E_00_00_01L), "IPv4 multicast");
  }

  @Test
  void ipv4Martians() {
    assertTrue(AddressChecks.martianSource4(ip(0, 0, 0, 0)));
    assertTrue(AddressChecks.martianSource4(ip(127, 0, 0, 1)));
    assertTrue(AddressChecks.martianSource4(ip(224, 0, 0, 5)));
    assertTrue(AddressChecks.martianSource4(ip(255, 255, 255, 255)));
    assertTrue(AddressChecks.martianDestination4(ip(255, 255, 255, 255)));
    assertTrue(AddressChecks.martianDestination4(ip(239, 1, 1, 1)));
    assertFalse(AddressChecks.martianSource4(ip(10, 244, 1, 2)));
    assertFalse(AddressChecks.martianDestination4(ip(223, 255, 255, 254)));
  }

  @Test
  void ipv6MartiansAndLinkLocalIsTheWholeSlashTen() {
    long[] global = Ipv6Prefix.parseAddress("fd00:244:1::2");
    long[] linkLocal = Ipv6Prefix.parseAddress("febf::1"); // still fe80::/10
    assertTrue(AddressChecks.isLinkLocal6(linkLocal[0]));
    assertFalse(AddressChecks.isLinkLocal6(Ipv6Prefix.parseAddress("fec0::1")[0]));
    assertTrue(AddressChecks.martianSource6(0, 0));
    assertTrue(AddressChecks.martianSource6(0, 1));
    assertTrue(AddressChecks.martianSource6(linkLocal[0], linkLocal[1]));
    assertTrue(AddressChecks.martianSource6(0xFF02_0000_0000_0000L, 1));
    assertFalse(AddressChecks.martianSource6(global[0], global[1]));
    assertTrue(AddressChecks.martianDestination6(0, 1));
    assertFalse(AddressChecks.martianDestination6(global[0], global[1]));
  }

  @Test
  void aSourceBelongsOnlyToThePortAndMacItIsRoutedTo() {
    NextHopTable hops = new NextHopTable(16, new QsbrDomain());
    long podMac = 0x02_00_00_00_00_0AL;
    int resolved = hops.addForward(3, podMac, 0x02_00_00_00_00_01L);
    int unresolved = hops.addNeighbourIpv4(3, ip(10, 0, 0, 9), 0x02_00_00_00_00_01L);
    assertTrue(AddressChecks.sourceBelongs(hops.entry(resolved), 3, podMac));
    assertFalse(AddressChecks.sourceBelongs(hops.entry(resolved), 4, podMac), "other port");
    assertFalse(
        AddressChecks.sourceBelongs(hops.entry(resolved), 3, 0x02_00_00_00_00_0BL),
        "same bridge port, another pod's MAC");
    assertTrue(AddressChecks.sourceBelongs(hops.entry(unresolved), 3, podMac), "MAC not known yet");
    assertFalse(AddressChecks.sourceBelongs(hops.entry(hops.addLocal(3)), 3, podMac), "ours");
    assertFalse(AddressChecks.sourceBelongs(hops.entry(0), 3, podMac), "no route");
  }
}
