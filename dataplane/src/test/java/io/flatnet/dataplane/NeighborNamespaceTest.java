package io.flatnet.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.dataplane.neighbor.NeighborEntry;
import io.flatnet.dataplane.neighbor.NeighborView;
import io.flatnet.dataplane.packet.Ethernet;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Prefix;
import java.io.File;
import java.util.HexFormat;
import java.util.List;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile and broken neighbour discovery from real pods (network namespaces, Linux's own stack,
 * af_packet ports), with frames written by a raw socket inside the pod: the malformed ones are
 * dropped by name and change nothing, a pod cannot claim another's address, and a neighbour entry
 * made wrong on purpose is put right by unreachability detection within its worst-case time. Pod
 * A's port is guarded as the agent guards pod ports; pod B's is not, so a wrong entry can be made.
 */
class NeighborNamespaceTest {
  private static final String SUFFIX = Long.toString(ProcessHandle.current().pid() % 100000);
  private static final String POD_A = "fnNa" + SUFFIX;
  private static final String POD_B = "fnNb" + SUFFIX;
  private static final String VETH_A = "fna" + SUFFIX;
  private static final String VETH_B = "fnb" + SUFFIX;
  private static final NeighborEntry.Timers TIMERS =
      new NeighborEntry.Timers(2_000_000_000L, 250_000_000L, 3, 3);

  @TempDir static File dir;
  private static Router router;
  private static int portA;
  private static int portB;

  @BeforeAll
  static void plugPodsIn() {
    DataplaneTestSupport.eal();
    cleanUp();
    PodNamespaces.create(POD_A, VETH_A, "10.244.1.2", "fd00:244:1::2");
    PodNamespaces.create(POD_B, VETH_B, "10.244.1.3", "fd00:244:1::3");
    router = Router.open(Router.Sizes.defaults(), dir, TIMERS);
    int gateway = Ipv4Prefix.parseAddress("10.244.1.1");
    long[] gateway6 = Ipv6Prefix.parseAddress("fd00:244:1::1");
    portA = router.addPort(podPort("podA", VETH_A, gateway, gateway6, PortTable.GUARD_ALL));
    portB = router.addPort(podPort("podB", VETH_B, gateway, gateway6, 0));
    router.addLocalAddress(Ipv4Prefix.parse("10.244.1.1/32"));
    router.addLocalAddress(Ipv6Prefix.parse("fd00:244:1::1/128"));
    PodNamespaces.routeToNeighbor(router, "10.244.1.2", "fd00:244:1::2", portA);
    PodNamespaces.routeToNeighbor(router, "10.244.1.3", "fd00:244:1::3", portB);
    router.startWorker(-1, new BackoffIdleStrategy(10, 10, 1000, 100_000));
    ping(POD_A, "10.244.1.3"); // both resolved before the tests start
    ping(POD_A, "-6", "fd00:244:1::3");
  }

  private static Router.PortSpec podPort(
      String name, String veth, int gateway, long[] gateway6, int guards) {
    return new Router.PortSpec(
        name,
        DataplaneTestSupport.unique("net_af_packet") + ",iface=" + veth + ",qpairs=1",
        PortTable.ROLE_POD,
        1500,
        gateway,
        gateway6[0],
        gateway6[1],
        guards);
  }

  @AfterAll
  static void unplug() {
    if (router != null) {
      router.close();
    }
    cleanUp();
  }

  private static void cleanUp() {
    for (String namespace : List.of(POD_A, POD_B)) {
      Shell.run("ip", "netns", "del", namespace);
    }
    Shell.run("ip", "link", "del", VETH_A);
    Shell.run("ip", "link", "del", VETH_B);
  }

  private static String ping(String namespace, String... args) {
    String[] command = new String[args.length + 7];
    System.arraycopy(new String[] {"ping", "-c", "2", "-W", "2", "-i", "0.2"}, 0, command, 0, 7);
    System.arraycopy(args, 0, command, 7, args.length);
    return Shell.mustIn(namespace, command);
  }

  private static long podMac(String namespace) {
    String text = Shell.mustIn(namespace, "cat", "/sys/class/net/eth0/address").trim();
    return Long.parseLong(text.replace(":", ""), 16);
  }

  /** Writes raw frames on the pod's eth0, as a pod with CAP_NET_RAW can. */
  private static void sendRaw(String namespace, byte[]... frames) {
    String[] command = new String[3 + frames.length];
    command[0] = "python3";
    command[1] = "-c";
    command[2] =
        "import socket,sys\n"
            + "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n"
            + "s.bind(('eth0',0))\n"
            + "for h in sys.argv[1:]: s.send(bytes.fromhex(h))\n";
    for (int i = 0; i < frames.length; i++) {
      command[3 + i] = HexFormat.of().formatHex(frames[i]);
    }
    Shell.mustIn(namespace, command);
  }

  private static long drops(DropReason reason) {
    return router.counters().sum(WorkerCounters.dropLabel(0, reason));
  }

  private static String allDrops() {
    StringBuilder out = new StringBuilder("drops:");
    for (DropReason reason : DropReason.values()) {
      if (drops(reason) != 0) {
        out.append(' ').append(reason.label()).append('=').append(drops(reason));
      }
    }
    return out.toString();
  }

  private static NeighborView neighbor(int port, int family, String address) {
    long hi = 0;
    long lo;
    if (family == 6) {
      long[] a = Ipv6Prefix.parseAddress(address);
      hi = a[0];
      lo = a[1];
    } else {
      lo = Ipv4Prefix.parseAddress(address) & 0xFFFF_FFFFL;
    }
    for (NeighborView n : router.neighbors()) {
      if (n.port() == port && n.family() == family && n.hi() == hi && n.lo() == lo) {
        return n;
      }
    }
    throw new AssertionError("no neighbour " + address + " in " + router.neighbors());
  }

  private static long[] ip6(String address) {
    return Ipv6Prefix.parseAddress(address);
  }

  @Test
  void theIssueNineteenSolicitationsAreDroppedAndThePodKeepsItsIpv6AndIpv4() throws Exception {
    long mac = podMac(POD_A);
    long group = 0x33_33_FF_00_00_01L;
    long[] solicitedNode = {0xFF02_0000_0000_0000L, 0x0000_0001_FF00_0001L};
    long[] gatewayLinkLocal = {0xFE80_0000_0000_0000L, 1};
    byte[] zeroOption =
        TestPackets.neighborMessage(
            135,
            0,
            0,
            ip6("fd00:244:1::2"),
            solicitedNode,
            255,
            gatewayLinkLocal,
            TestPackets.linkLayerOption(1, 0));
    byte[] overrun =
        TestPackets.neighborMessage(
            135,
            0,
            0,
            ip6("fd00:244:1::2"),
            solicitedNode,
            255,
            gatewayLinkLocal,
            new byte[] {1, (byte) 0xFF, 0, 0, 0, 0, 0, 0});
    byte[] zeroArp =
        TestPackets.arpReply(
            Ipv4Prefix.parseAddress("10.244.1.2"), 0, Ipv4Prefix.parseAddress("10.244.1.2"));
    long badLinkLayer = drops(DropReason.BAD_LINK_LAYER_ADDRESS);
    long badNeighbor = drops(DropReason.BAD_NEIGHBOR_PACKET);
    sendRaw(
        POD_A,
        TestPackets.addressed(zeroOption, group, mac),
        TestPackets.addressed(overrun, group, mac),
        TestPackets.addressed(zeroArp, Ethernet.BROADCAST, mac));
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (System.nanoTime() < deadline
        && (drops(DropReason.BAD_LINK_LAYER_ADDRESS) < badLinkLayer + 2
            || drops(DropReason.BAD_NEIGHBOR_PACKET) < badNeighbor + 1)) {
      Thread.sleep(50);
    }
    assertEquals(badLinkLayer + 2, drops(DropReason.BAD_LINK_LAYER_ADDRESS), allDrops());
    assertEquals(badNeighbor + 1, drops(DropReason.BAD_NEIGHBOR_PACKET), "option overrun");
    assertEquals(mac, neighbor(portA, 6, "fd00:244:1::2").mac(), "the entry kept its MAC");
    assertEquals(mac, neighbor(portA, 4, "10.244.1.2").mac());
    ping(POD_A, "-6", "fd00:244:1::3");
    ping(POD_A, "10.244.1.3");
    ping(POD_B, "-6", "fd00:244:1::2");
  }

  @Test
  void aPodCannotClaimAnotherPodsAddress() throws Exception {
    long mac = podMac(POD_A);
    long spoofed = drops(DropReason.SPOOFED_SOURCE);
    byte[] claimB =
        TestPackets.arpRequest(
            Ipv4Prefix.parseAddress("10.244.1.3"), Ipv4Prefix.parseAddress("10.244.1.1"));
    TestPackets.setMac(claimB, 22, mac); // A's own MAC: only the address is false
    byte[] udpAsB =
        TestPackets.udp(
            Ipv4Prefix.parseAddress("10.244.1.3"), Ipv4Prefix.parseAddress("10.244.1.1"), 64, 8);
    sendRaw(
        POD_A,
        TestPackets.addressed(claimB, Ethernet.BROADCAST, mac),
        TestPackets.addressed(udpAsB, router.portTable().mac(portA), mac));
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (System.nanoTime() < deadline && drops(DropReason.SPOOFED_SOURCE) < spoofed + 2) {
      Thread.sleep(50);
    }
    assertEquals(spoofed + 2, drops(DropReason.SPOOFED_SOURCE), allDrops());
    assertEquals(podMac(POD_B), neighbor(portB, 4, "10.244.1.3").mac(), "B's entry untouched");
    ping(POD_A, "10.244.1.3");
  }

  @Test
  void aGuardedPortIsNotPromiscuousAnUnguardedOneIs() {
    assertTrue(
        !Shell.must("ip", "link", "show", VETH_A).contains("PROMISC"),
        Shell.must("ip", "link", "show", VETH_A));
    assertTrue(Shell.must("ip", "link", "show", VETH_B).contains("PROMISC"));
  }

  @Test
  void anMtuNoMbufHoldsIsRefusedBeforeAnyDeviceIsMade() {
    int devices = io.flatnet.dpdk.EthDev.availablePorts();
    IllegalArgumentException refused =
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalArgumentException.class,
            () ->
                router.addPort(
                    Router.PortSpec.pod("jumbo", DataplaneTestSupport.unique("net_null"))
                        .withMtu(9000)));
    assertTrue(
        refused.getMessage().contains("out of range 68.." + io.flatnet.control.Limits.MAX_MTU),
        refused.getMessage());
    assertEquals(devices, io.flatnet.dpdk.EthDev.availablePorts(), "no device left behind");
  }

  @Test
  void aWrongNeighbourEntryIsCorrectedByUnreachabilityDetection() throws Exception {
    long realMac = podMac(POD_B);
    long wrongMac = 0x02_00_00_00_0B_0BL;
    int b = Ipv4Prefix.parseAddress("10.244.1.3");
    byte[] gratuitous = TestPackets.arpRequest(b, b);
    TestPackets.setMac(gratuitous, 22, wrongMac); // the sender hardware address
    sendRaw(POD_B, TestPackets.addressed(gratuitous, Ethernet.BROADCAST, wrongMac));
    long start = System.nanoTime();
    long deadline = start + 3_000_000_000L;
    while (System.nanoTime() < deadline && neighbor(portB, 4, "10.244.1.3").mac() != wrongMac) {
      Thread.sleep(20);
    }
    assertEquals(wrongMac, neighbor(portB, 4, "10.244.1.3").mac(), "the wrong MAC was installed");
    // Recovery: probes to the wrong MAC go unanswered, the multicast probe reaches pod B.
    long limit = start + TIMERS.worstCaseRecoveryNanos() + 2_000_000_000L;
    NeighborView now = neighbor(portB, 4, "10.244.1.3");
    while (System.nanoTime() < limit && now.mac() != realMac) {
      Thread.sleep(50);
      now = neighbor(portB, 4, "10.244.1.3");
    }
    assertEquals(realMac, now.mac(), "NUD put the right MAC back: " + now);
    assertTrue(
        System.nanoTime() - start <= TIMERS.worstCaseRecoveryNanos() + 2_000_000_000L,
        "within the documented time");
    ping(POD_A, "10.244.1.3");
  }
}
