package io.flatnet.dataplane;

import static io.flatnet.dataplane.TestPackets.ip;

import io.flatnet.dataplane.packet.Ethernet;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A corpus of malformed, hostile and odd frames, each kind built once from a valid frame by one
 * defect: runts, unknown and VLAN ethertypes, every IPv4 header field out of range, options and
 * fragments, IPv6 length and extension-header chains, martians, spoofed sources, bad ICMP and
 * ICMPv6, neighbour discovery and ARP broken in every field the checks read. A router must count
 * every one under a reason (or forward or answer it) and never crash or leak.
 *
 * <p>Frames come from the pod at {@code podMac} (10.9.0.7, fd00:9::77) to the router's port at
 * {@code routerMac}; the good ones go to 10.1.0.0/16 and fd00:1::/64 (see {@link TestRoutes}).
 */
final class MalformedFrames {
  private MalformedFrames() {}

  /** One kind of frame, named for the report. */
  record Kind(String name, byte[] frame) {}

  static final int POD_IP = ip(10, 9, 0, 7);
  static final long[] POD_IP6 = {0xFD00_0009_0000_0000L, 0x77};
  private static final int DESTINATION = ip(10, 1, 2, 3);
  private static final long[] GATEWAY_LL = {0xFE80_0000_0000_0000L, 1};
  private static final long[] SOLICITED_NODE = {0xFF02_0000_0000_0000L, 0x0000_0001_FF00_0001L};

  /** The IPv4 identification that marks the good packets mixed into a fuzz run. */
  static final int GOOD_ID = 0x600D;

  /**
   * A good UDP packet from the pod (identification {@link #GOOD_ID}), routed out of the other port.
   */
  static byte[] good(long routerMac, long podMac, int flow) {
    byte[] frame =
        TestPackets.addressed(
            TestPackets.udp(POD_IP, DESTINATION + (flow & 0xFF), 64, 64), routerMac, podMac);
    return ipv4Fixed(withU16(frame, 18, GOOD_ID));
  }

  static boolean isGood(byte[] frame) {
    return frame.length > 20 && u16(frame, 12) == Ethernet.IPV4 && u16(frame, 18) == GOOD_ID;
  }

  static List<Kind> corpus(long routerMac, long podMac) {
    List<Kind> kinds = new ArrayList<>();
    byte[] udp =
        TestPackets.addressed(
            TestPackets.udp(POD_IP, DESTINATION, 64, 64), routerMac, podMac); // not marked
    // Ethernet.
    for (int length : new int[] {0, 1, 6, 12, 13}) {
      kinds.add(new Kind("runt-" + length, Arrays.copyOf(udp, length)));
    }
    kinds.add(new Kind("ethertype-unknown", withU16(udp, 12, 0x88B5)));
    kinds.add(new Kind("ethertype-vlan", vlanTagged(udp, 0x8100)));
    kinds.add(new Kind("ethertype-qinq", vlanTagged(udp, 0x88A8)));
    kinds.add(new Kind("ethernet-only", Arrays.copyOf(udp, 14)));
    kinds.add(new Kind("dst-mac-other-pod", withMac(udp, 0, 0x02_00_00_00_aa_99L)));
    kinds.add(new Kind("src-mac-zero", withMac(udp, 6, 0)));
    // IPv4 header.
    kinds.add(new Kind("ipv4-truncated-10", Arrays.copyOf(udp, 24)));
    kinds.add(new Kind("ipv4-truncated-19", Arrays.copyOf(udp, 33)));
    for (int ihl = 0; ihl < 5; ihl++) {
      kinds.add(new Kind("ipv4-ihl-" + ihl, ipv4Fixed(withU8(udp, 14, 0x40 | ihl))));
    }
    kinds.add(new Kind("ipv4-ihl-15-past-frame", ipv4Fixed(withU8(udp, 14, 0x4F))));
    kinds.add(new Kind("ipv4-version-6", ipv4Fixed(withU8(udp, 14, 0x65))));
    kinds.add(new Kind("ipv4-version-0", ipv4Fixed(withU8(udp, 14, 0x05))));
    kinds.add(new Kind("ipv4-total-length-past-frame", ipv4Fixed(withU16(udp, 16, 1400))));
    kinds.add(new Kind("ipv4-total-length-below-header", ipv4Fixed(withU16(udp, 16, 12))));
    kinds.add(new Kind("ipv4-total-length-zero", ipv4Fixed(withU16(udp, 16, 0))));
    kinds.add(new Kind("ipv4-bad-checksum", withU16(udp, 24, u16(udp, 24) ^ 0x1234)));
    kinds.add(new Kind("ipv4-options-nop", ipv4WithOptions(udp, new byte[] {1, 1, 1, 0})));
    kinds.add(
        new Kind(
            "ipv4-options-record-route-bad-length",
            ipv4WithOptions(udp, new byte[] {7, (byte) 0xFF, 4, 0})));
    kinds.add(new Kind("ipv4-fragment-first", ipv4Fixed(withU16(udp, 20, 0x2000))));
    kinds.add(new Kind("ipv4-fragment-middle", ipv4Fixed(withU16(udp, 20, 0x2010))));
    kinds.add(new Kind("ipv4-fragment-offset-max", ipv4Fixed(withU16(udp, 20, 0x1FFF))));
    kinds.add(new Kind("ipv4-ttl-0", ipv4Fixed(withU8(udp, 22, 0))));
    kinds.add(new Kind("ipv4-ttl-1", ipv4Fixed(withU8(udp, 22, 1))));
    kinds.add(new Kind("ipv4-udp-length-lies", withU16(udp, 38, 9000)));
    kinds.add(new Kind("ipv4-protocol-255", ipv4Fixed(withU8(udp, 23, 255))));
    // IPv4 addresses.
    for (int[] source :
        new int[][] {
          {0, 0, 0, 0}, {127, 0, 0, 1}, {224, 0, 0, 1}, {255, 255, 255, 255}, {240, 1, 1, 1}
        }) {
      int address = ip(source[0], source[1], source[2], source[3]);
      kinds.add(
          new Kind(
              "ipv4-martian-source-" + (address >>> 24),
              TestPackets.addressed(
                  TestPackets.udp(address, DESTINATION, 64, 16), routerMac, podMac)));
    }
    for (int[] destination :
        new int[][] {{255, 255, 255, 255}, {127, 0, 0, 1}, {0, 1, 2, 3}, {239, 1, 1, 1}}) {
      int address = ip(destination[0], destination[1], destination[2], destination[3]);
      kinds.add(
          new Kind(
              "ipv4-martian-destination-" + (address >>> 24),
              TestPackets.addressed(TestPackets.udp(POD_IP, address, 64, 16), routerMac, podMac)));
    }
    kinds.add(
        new Kind(
            "ipv4-spoofed-source",
            TestPackets.addressed(
                TestPackets.udp(ip(10, 9, 0, 8), DESTINATION, 64, 16), routerMac, podMac)));
    kinds.add(
        new Kind(
            "ipv4-no-route",
            TestPackets.addressed(
                TestPackets.udp(POD_IP, ip(192, 0, 2, 1), 64, 16), routerMac, podMac)));
    kinds.add(
        new Kind(
            "ipv4-oversize-1600",
            TestPackets.addressed(
                TestPackets.udp(POD_IP, DESTINATION, 64, 1600), routerMac, podMac)));
    // ICMP to the router.
    byte[] ping =
        TestPackets.addressed(
            TestPackets.ping(POD_IP, TestRoutes.ROUTER_IP, 64, 8), routerMac, podMac);
    kinds.add(new Kind("icmp-echo-truncated-header", ipv4Truncated(ping, 20 + 4)));
    kinds.add(new Kind("icmp-echo-no-payload", ipv4Truncated(ping, 20 + 8)));
    kinds.add(new Kind("icmp-echo-bad-checksum", withU16(ping, 36, u16(ping, 36) ^ 0xFF)));
    kinds.add(
        new Kind(
            "icmp-to-broadcast",
            TestPackets.addressed(
                TestPackets.ping(POD_IP, ip(255, 255, 255, 255), 64, 8), routerMac, podMac)));
    kinds.add(
        new Kind(
            "udp-to-router",
            TestPackets.addressed(
                TestPackets.udp(POD_IP, TestRoutes.ROUTER_IP, 64, 8), routerMac, podMac)));
    // IPv6.
    byte[] udp6 =
        TestPackets.addressed(
            TestPackets.udp6(POD_IP6, TestRoutes.FORWARDED_IP6, 64, 64), routerMac, podMac);
    kinds.add(new Kind("ipv6-truncated-header", Arrays.copyOf(udp6, 14 + 30)));
    kinds.add(new Kind("ipv6-payload-length-past-frame", withU16(udp6, 18, 1400)));
    kinds.add(new Kind("ipv6-version-4", withU8(udp6, 14, 0x40)));
    kinds.add(new Kind("ipv6-hop-limit-0", withU8(udp6, 21, 0)));
    kinds.add(new Kind("ipv6-hop-limit-1", withU8(udp6, 21, 1)));
    for (int header : new int[] {0, 43, 44, 60, 59, 50}) {
      kinds.add(new Kind("ipv6-extension-" + header, withU8(udp6, 20, header)));
    }
    kinds.add(new Kind("ipv6-extension-chain", ipv6ExtensionChain(udp6)));
    for (long[] source :
        new long[][] {{0, 0}, {0, 1}, {0xFF02_0000_0000_0000L, 1}, {0xFE80_0000_0000_0000L, 7}}) {
      kinds.add(
          new Kind(
              "ipv6-martian-source-" + Long.toHexString(source[0] >>> 48) + "-" + source[1],
              TestPackets.addressed(
                  TestPackets.udp6(source, TestRoutes.FORWARDED_IP6, 64, 16), routerMac, podMac)));
    }
    kinds.add(
        new Kind(
            "ipv6-martian-destination-loopback",
            TestPackets.addressed(
                TestPackets.udp6(POD_IP6, new long[] {0, 1}, 64, 16), routerMac, podMac)));
    kinds.add(
        new Kind(
            "ipv6-spoofed-source",
            TestPackets.addressed(
                TestPackets.udp6(new long[] {POD_IP6[0], 0x78}, TestRoutes.FORWARDED_IP6, 64, 16),
                routerMac,
                podMac)));
    kinds.add(
        new Kind(
            "ipv6-no-route",
            TestPackets.addressed(
                TestPackets.udp6(POD_IP6, new long[] {0x2001_0DB8_0000_0000L, 1}, 64, 16),
                routerMac,
                podMac)));
    // ICMPv6 and neighbour discovery.
    byte[] ping6 =
        TestPackets.addressed(
            TestPackets.ping6(POD_IP6, TestRoutes.ROUTER_IP6, 64), routerMac, podMac);
    kinds.add(new Kind("icmp6-echo-truncated", ipv6Truncated(ping6, 4)));
    kinds.add(new Kind("icmp6-echo-bad-checksum", withU16(ping6, 56, u16(ping6, 56) ^ 0xFF)));
    byte[] option = TestPackets.linkLayerOption(1, podMac);
    kinds.add(new Kind("nd-ns-hop-limit-64", ns(routerMac, podMac, 64, 0, GATEWAY_LL, option)));
    kinds.add(new Kind("nd-ns-code-1", ns(routerMac, podMac, 255, 1, GATEWAY_LL, option)));
    kinds.add(
        new Kind(
            "nd-ns-option-length-0",
            ns(routerMac, podMac, 255, 0, GATEWAY_LL, new byte[] {1, 0, 0, 0, 0, 0, 0, 0})));
    kinds.add(
        new Kind(
            "nd-ns-option-overrun",
            ns(
                routerMac,
                podMac,
                255,
                0,
                GATEWAY_LL,
                new byte[] {1, (byte) 0xFF, 0, 0, 0, 0, 0, 0})));
    kinds.add(
        new Kind(
            "nd-ns-option-one-byte", ns(routerMac, podMac, 255, 0, GATEWAY_LL, new byte[] {1})));
    kinds.add(
        new Kind(
            "nd-ns-zero-mac",
            ns(routerMac, podMac, 255, 0, GATEWAY_LL, TestPackets.linkLayerOption(1, 0))));
    kinds.add(
        new Kind(
            "nd-ns-broadcast-mac",
            ns(
                routerMac,
                podMac,
                255,
                0,
                GATEWAY_LL,
                TestPackets.linkLayerOption(1, 0xFFFF_FFFF_FFFFL))));
    kinds.add(
        new Kind(
            "nd-ns-multicast-mac",
            ns(
                routerMac,
                podMac,
                255,
                0,
                GATEWAY_LL,
                TestPackets.linkLayerOption(1, 0x33_33_00_00_00_01L))));
    kinds.add(
        new Kind(
            "nd-ns-other-mac",
            ns(
                routerMac,
                podMac,
                255,
                0,
                GATEWAY_LL,
                TestPackets.linkLayerOption(1, 0x02_00_00_00_aa_99L))));
    kinds.add(
        new Kind("nd-ns-multicast-target", ns(routerMac, podMac, 255, 0, SOLICITED_NODE, option)));
    kinds.add(
        new Kind(
            "nd-ns-truncated",
            ipv6Truncated(ns(routerMac, podMac, 255, 0, GATEWAY_LL, option), 20)));
    byte[] badSum = ns(routerMac, podMac, 255, 0, GATEWAY_LL, option);
    kinds.add(new Kind("nd-ns-bad-checksum", withU16(badSum, 56, u16(badSum, 56) ^ 0x5A5A)));
    kinds.add(
        new Kind(
            "nd-na-solicited-to-multicast",
            TestPackets.addressed(
                TestPackets.neighborMessage(
                    136,
                    0,
                    0x6000_0000,
                    POD_IP6,
                    new long[] {0xFF02_0000_0000_0000L, 1},
                    255,
                    POD_IP6,
                    TestPackets.linkLayerOption(2, podMac)),
                0x33_33_00_00_00_01L,
                podMac)));
    kinds.add(
        new Kind(
            "nd-na-zero-mac",
            TestPackets.addressed(
                TestPackets.neighborMessage(
                    136,
                    0,
                    0x2000_0000,
                    POD_IP6,
                    GATEWAY_LL,
                    255,
                    POD_IP6,
                    TestPackets.linkLayerOption(2, 0)),
                routerMac,
                podMac)));
    kinds.add(
        new Kind(
            "nd-na-claims-other-pod",
            TestPackets.addressed(
                TestPackets.neighborMessage(
                    136,
                    0,
                    0x2000_0000,
                    POD_IP6,
                    GATEWAY_LL,
                    255,
                    new long[] {POD_IP6[0], 0x78},
                    TestPackets.linkLayerOption(2, podMac)),
                routerMac,
                podMac)));
    kinds.add(
        new Kind(
            "nd-router-solicitation",
            TestPackets.addressed(
                TestPackets.ipv6(
                    POD_IP6,
                    new long[] {0xFF02_0000_0000_0000L, 2},
                    255,
                    58,
                    new byte[] {(byte) 133, 0, 0, 0, 0, 0, 0, 0}),
                0x33_33_00_00_00_02L,
                podMac)));
    // ARP.
    byte[] arp =
        TestPackets.addressed(
            TestPackets.arpRequest(POD_IP, TestRoutes.ROUTER_IP), Ethernet.BROADCAST, podMac);
    TestPackets.setMac(arp, 22, podMac);
    kinds.add(new Kind("arp-truncated", Arrays.copyOf(arp, 14 + 20)));
    kinds.add(new Kind("arp-hardware-type-6", withU16(arp, 14, 6)));
    kinds.add(new Kind("arp-protocol-ipv6", withU16(arp, 16, 0x86DD)));
    kinds.add(new Kind("arp-lengths-wrong", withU16(arp, 18, 0x0804)));
    kinds.add(new Kind("arp-operation-3", withU16(arp, 20, 3)));
    kinds.add(new Kind("arp-zero-sender-mac", withMac(arp, 22, 0)));
    kinds.add(new Kind("arp-broadcast-sender-mac", withMac(arp, 22, Ethernet.BROADCAST)));
    kinds.add(new Kind("arp-sender-mac-not-frame-source", withMac(arp, 22, 0x02_00_00_00_aa_99L)));
    kinds.add(new Kind("arp-spoofed-sender-ip", withU32(arp, 28, ip(10, 9, 0, 8))));
    kinds.add(new Kind("arp-probe-zero-sender-ip", withU32(arp, 28, 0)));
    return kinds;
  }

  private static byte[] ns(
      long routerMac, long podMac, int hopLimit, int code, long[] target, byte[] options) {
    byte[] frame =
        TestPackets.neighborMessage(
            135, code, 0, POD_IP6, SOLICITED_NODE, hopLimit, target, options);
    return TestPackets.addressed(frame, 0x33_33_FF_00_00_01L, podMac);
  }

  private static byte[] withMac(byte[] frame, int offset, long mac) {
    byte[] copy = frame.clone();
    TestPackets.setMac(copy, offset, mac);
    return copy;
  }

  private static int u16(byte[] b, int offset) {
    return TestPackets.u16(b, offset);
  }

  private static byte[] withU8(byte[] frame, int offset, int value) {
    byte[] copy = frame.clone();
    copy[offset] = (byte) value;
    return copy;
  }

  private static byte[] withU16(byte[] frame, int offset, int value) {
    byte[] copy = frame.clone();
    copy[offset] = (byte) (value >>> 8);
    copy[offset + 1] = (byte) value;
    return copy;
  }

  private static byte[] withU32(byte[] frame, int offset, int value) {
    return withU16(withU16(frame, offset, value >>> 16), offset + 2, value & 0xFFFF);
  }

  /** The IPv4 header checksum made valid again, so that only the intended defect remains. */
  private static byte[] ipv4Fixed(byte[] frame) {
    int ihl = (frame[14] & 0x0F) * 4;
    int length = Math.max(20, Math.min(ihl, frame.length - 14));
    frame[24] = 0;
    frame[25] = 0;
    int sum = TestPackets.ipChecksum(frame, 14, length);
    frame[24] = (byte) (sum >>> 8);
    frame[25] = (byte) sum;
    return frame;
  }

  private static byte[] ipv4WithOptions(byte[] frame, byte[] options) {
    byte[] out = new byte[frame.length + options.length];
    System.arraycopy(frame, 0, out, 0, 34);
    System.arraycopy(options, 0, out, 34, options.length);
    System.arraycopy(frame, 34, out, 34 + options.length, frame.length - 34);
    out[14] = (byte) (0x40 | (5 + options.length / 4));
    int total = u16(frame, 16) + options.length;
    out[16] = (byte) (total >>> 8);
    out[17] = (byte) total;
    return ipv4Fixed(out);
  }

  private static byte[] ipv4Truncated(byte[] frame, int ipLength) {
    byte[] out = Arrays.copyOf(frame, 14 + ipLength);
    out[16] = (byte) (ipLength >>> 8);
    out[17] = (byte) ipLength;
    return ipv4Fixed(out);
  }

  private static byte[] ipv6Truncated(byte[] frame, int payloadLength) {
    byte[] out = Arrays.copyOf(frame, 14 + 40 + payloadLength);
    out[18] = (byte) (payloadLength >>> 8);
    out[19] = (byte) payloadLength;
    return out;
  }

  /** Hop-by-hop, then a destination options header whose length runs past the packet. */
  private static byte[] ipv6ExtensionChain(byte[] frame) {
    byte[] out = Arrays.copyOf(frame, frame.length + 16);
    System.arraycopy(frame, 54, out, 70, frame.length - 54);
    out[20] = 0; // hop-by-hop first
    out[54] = 60; // then destination options
    out[55] = 0;
    out[62] = 17;
    out[63] = (byte) 0xFF; // 2048 bytes claimed
    int payload = u16(frame, 18) + 16;
    out[18] = (byte) (payload >>> 8);
    out[19] = (byte) payload;
    return out;
  }

  private static byte[] vlanTagged(byte[] frame, int tpid) {
    byte[] out = new byte[frame.length + 4];
    System.arraycopy(frame, 0, out, 0, 12);
    out[12] = (byte) (tpid >>> 8);
    out[13] = (byte) tpid;
    out[14] = 0;
    out[15] = 100;
    System.arraycopy(frame, 12, out, 16, frame.length - 12);
    return out;
  }
}
