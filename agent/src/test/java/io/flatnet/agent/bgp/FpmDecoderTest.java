package io.flatnet.agent.bgp;

import static io.flatnet.agent.bgp.FpmBytes.attribute;
import static io.flatnet.agent.bgp.FpmBytes.concat;
import static io.flatnet.agent.bgp.FpmBytes.frame;
import static io.flatnet.agent.bgp.FpmBytes.ipv4;
import static io.flatnet.agent.bgp.FpmBytes.netlink;
import static io.flatnet.agent.bgp.FpmBytes.recording;
import static io.flatnet.agent.bgp.FpmBytes.rtmsg;
import static io.flatnet.agent.bgp.FpmBytes.rtnexthop;
import static io.flatnet.agent.bgp.FpmBytes.u32;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.bgp.FpmMessage.GroupMember;
import io.flatnet.agent.bgp.FpmMessage.NextHop;
import io.flatnet.agent.bgp.FpmMessage.Nexthop;
import io.flatnet.agent.bgp.FpmMessage.Route;
import io.flatnet.agent.config.IpAddress;
import java.io.ByteArrayInputStream;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The decoder against what a real zebra (FRR 8.4.4, dplane_fpm_nl) sent, recorded by
 * src/test/resources/fpm/record.sh (see the README there), and against malformed input.
 */
class FpmDecoderTest {

  static final FpmDecoder DECODER = new FpmDecoder(ByteOrder.LITTLE_ENDIAN);

  // ifindexes in the recording's namespace: up0 = 3, up1 = 5
  static final int UP0 = 3;
  static final int UP1 = 5;
  static final int STATIC = FpmMessage.PROTOCOL_STATIC;
  static final int KERNEL = FpmMessage.PROTOCOL_KERNEL;

  static IpAddress ip(String s) {
    return IpAddress.parse(s);
  }

  static Route add(String prefix, int protocol, int type, NextHop... hops) {
    return new Route(false, prefix, 254, protocol, type, 20, List.of(hops), 0);
  }

  static Route addNh(String prefix, int protocol, long nexthopId) {
    return new Route(false, prefix, 254, protocol, 1, 20, List.of(), nexthopId);
  }

  static Route del(String prefix) {
    return new Route(true, prefix, 254, STATIC, 0, 20, List.of(), 0);
  }

  static NextHop via(String gateway, int ifindex) {
    return new NextHop(ip(gateway), ifindex, 1);
  }

  static NextHop dev(int ifindex) {
    return new NextHop(null, ifindex, 1);
  }

  @Test
  void decodesZebrasTableAndChangesWithoutNextHopGroups() throws Exception {
    List<FpmMessage> messages = DECODER.decodeAll(recording("nhg-off-connection1.fpm"));
    List<FpmMessage> expected =
        List.of(
            // the table zebra sends on connect
            add("10.9.0.0/16", STATIC, 1, via("192.168.1.1", UP0)),
            add("10.10.0.0/16", STATIC, 1, via("192.168.1.1", UP0), via("192.168.2.1", UP1)),
            add("10.11.0.0/16", STATIC, 6), // blackhole
            add("10.12.0.0/16", STATIC, 1, dev(UP0)),
            add("192.168.1.0/24", KERNEL, 1, dev(UP0)), // connected
            add("192.168.2.0/24", KERNEL, 1, dev(UP1)),
            add("fd00:1::/64", KERNEL, 1, dev(UP0)),
            add("fd00:2::/64", KERNEL, 1, dev(UP1)),
            add("fd00:98::/64", STATIC, 1, via("fe80::1", UP0)),
            add("fd00:99::/64", STATIC, 1, via("fd00:1::1", UP0)),
            add("fe80::/64", KERNEL, 1, dev(UP0)),
            // vtysh: ip route 10.13.0.0/16 192.168.2.1
            add("10.13.0.0/16", STATIC, 1, via("192.168.2.1", UP1)),
            // vtysh: no ip route 10.9.0.0/16 ..., no ipv6 route fd00:99::/64 ...
            del("10.9.0.0/16"),
            del("fd00:99::/64"),
            // vtysh: no ip route 10.10.0.0/16 192.168.2.1: one frame, delete then add
            del("10.10.0.0/16"),
            add("10.10.0.0/16", STATIC, 1, via("192.168.1.1", UP0)),
            // ip route add 10.50.0.0/16 via 192.168.1.1 (a kernel route)
            add("10.50.0.0/16", KERNEL, 1, via("192.168.1.1", UP0)));
    assertEquals(expected, messages);
  }

  @Test
  void anUpdateIsOneFrameWithTheDeleteAndTheNewRoute() throws Exception {
    byte[] bytes = recording("nhg-off-connection1.fpm");
    FpmDecoder.Reader reader = new FpmDecoder.Reader(new ByteArrayInputStream(bytes), DECODER);
    List<List<FpmMessage>> frames = new java.util.ArrayList<>();
    for (List<FpmMessage> f = reader.next(); f != null; f = reader.next()) {
      frames.add(f);
    }
    assertEquals(16, frames.size());
    assertEquals(
        List.of(del("10.10.0.0/16"), add("10.10.0.0/16", STATIC, 1, via("192.168.1.1", UP0))),
        frames.get(14));
    assertEquals(bytes.length, reader.offset());
  }

  @Test
  void reconnectResendsTheWholeTable() throws Exception {
    List<FpmMessage> messages = DECODER.decodeAll(recording("nhg-off-connection2.fpm"));
    assertEquals(
        List.of(
            "10.10.0.0/16",
            "10.11.0.0/16",
            "10.12.0.0/16",
            "10.13.0.0/16",
            "10.50.0.0/16",
            "192.168.1.0/24",
            "192.168.2.0/24",
            "fd00:1::/64",
            "fd00:2::/64",
            "fd00:98::/64",
            "fe80::/64"),
        messages.stream().map(m -> ((Route) m).prefix()).sorted().toList());
    assertTrue(messages.stream().noneMatch(m -> ((Route) m).delete()));
  }

  @Test
  void decodesNextHopObjectsAndGroups() throws Exception {
    List<FpmMessage> messages = DECODER.decodeAll(recording("nhg-on-connection1.fpm"));
    // zebra sends its next-hop objects first, then the routes that name them
    assertEquals(new Nexthop(false, 25, ip("192.168.1.1"), UP0, false, List.of()), messages.get(7));
    assertEquals(
        new Nexthop(
            false, 26, null, 0, false, List.of(new GroupMember(25, 1), new GroupMember(27, 1))),
        messages.get(8));
    assertEquals(new Nexthop(false, 22, null, 0, true, List.of()), messages.get(1));
    assertEquals(new Nexthop(false, 24, ip("fe80::1"), UP0, false, List.of()), messages.get(5));
    assertEquals(addNh("10.9.0.0/16", STATIC, 25), messages.get(13));
    assertEquals(addNh("10.10.0.0/16", STATIC, 26), messages.get(14));
    // deleting a route of a group deletes the group object
    assertTrue(messages.contains(new Nexthop(true, 26, null, 0, false, List.of())));
  }

  @Test
  void decodesAWeightedBgpRouteFromZebra() throws Exception {
    // bgpd with two paths of 100 and 300 Mbps link bandwidth (record-bgp-weights.sh)
    List<FpmMessage> messages = DECODER.decodeAll(recording("bgp-weights.fpm"));
    Route single =
        new Route(
            false,
            "10.77.0.0/16",
            254,
            186,
            1,
            20,
            List.of(new NextHop(ip("192.168.1.1"), 318, 1)),
            0);
    Route weighted =
        new Route(
            false,
            "10.77.0.0/16",
            254,
            186,
            1,
            20,
            List.of(
                new NextHop(ip("192.168.1.1"), 318, 25), new NextHop(ip("192.168.2.1"), 320, 75)),
            0);
    assertEquals(
        List.of(single, new Route(true, "10.77.0.0/16", 254, 186, 0, 20, List.of(), 0), weighted),
        messages.subList(3, 6));
  }

  @Test
  void weightsComeFromRtnhHops() throws Exception {
    byte[] multipath =
        concat(
            rtnexthop(0, 3, attribute(5, ipv4(192, 0, 2, 1))),
            rtnexthop(4, 4, attribute(5, ipv4(192, 0, 2, 2))),
            rtnexthop(255, 4, attribute(5, ipv4(192, 0, 2, 3))));
    byte[] bytes =
        frame(
            netlink(
                24,
                rtmsg(
                    2,
                    16,
                    186,
                    1,
                    attribute(1, ipv4(10, 7, 0, 0)),
                    attribute(0x8000 | 9, multipath))));
    Route r = (Route) DECODER.decodeAll(bytes).get(0);
    assertEquals(
        List.of(
            new NextHop(ip("192.0.2.1"), 3, 1),
            new NextHop(ip("192.0.2.2"), 4, 5),
            new NextHop(ip("192.0.2.3"), 4, 256)),
        r.nextHops());
    assertEquals(186, r.protocol());
    assertEquals(-1, r.priority());
  }

  @Test
  void rtaTableOverridesTheRtmsgTable() throws Exception {
    byte[] bytes =
        frame(
            netlink(
                24,
                rtmsg(2, 8, 186, 1, attribute(1, ipv4(10, 0, 0, 0)), attribute(15, u32(1000)))));
    assertEquals(1000, ((Route) DECODER.decodeAll(bytes).get(0)).table());
  }

  @Test
  void unknownTypesAreSkipped() throws Exception {
    byte[] neighbour = netlink(28, new byte[12]);
    byte[] mpls = netlink(24, rtmsg(28, 20, 186, 1));
    byte[] protobuf = {1, 2, 0, 8, 9, 9, 9, 9};
    List<FpmMessage> messages = DECODER.decodeAll(concat(frame(neighbour, mpls), protobuf));
    assertEquals(3, messages.size());
    assertEquals(28, ((FpmMessage.Skipped) messages.get(0)).netlinkType());
    assertTrue(((FpmMessage.Skipped) messages.get(1)).why().contains("address family 28"));
    assertTrue(((FpmMessage.Skipped) messages.get(2)).why().contains("FPM frame type 2"));
  }

  @Test
  void aPrefixWithHostBitsIsSkippedNotFatal() throws Exception {
    byte[] bytes = frame(netlink(24, rtmsg(2, 8, 186, 1, attribute(1, ipv4(10, 1, 0, 0)))));
    FpmMessage m = DECODER.decodeAll(bytes).get(0);
    assertInstanceOf(FpmMessage.Skipped.class, m);
    assertTrue(((FpmMessage.Skipped) m).why().contains("10.1.0.0/8 has host bits set"));
  }

  // ---------------------------------------------------------------- malformed input

  static FpmFormatException bad(byte[] bytes) {
    return assertThrows(FpmFormatException.class, () -> DECODER.decodeAll(bytes));
  }

  static byte[] goodRoute() {
    return frame(
        netlink(
            24,
            rtmsg(
                2, 16, 186, 1, attribute(1, ipv4(10, 9, 0, 0)), attribute(5, ipv4(192, 0, 2, 1)))));
  }

  @Test
  void truncatedHeader() {
    byte[] bytes = concat(goodRoute(), new byte[] {1, 1});
    FpmFormatException e = bad(bytes);
    assertEquals(goodRoute().length, e.offset());
    assertTrue(e.getMessage().contains("truncated FPM header"), e.getMessage());
  }

  @Test
  void truncatedFrame() {
    byte[] good = goodRoute();
    FpmFormatException e = bad(concat(good, Arrays.copyOf(good, good.length - 3)));
    assertEquals(good.length, e.offset());
    assertTrue(e.getMessage().contains("header says " + good.length + " bytes"), e.getMessage());
  }

  @Test
  void wrongVersion() {
    byte[] bytes = goodRoute();
    bytes[0] = 2;
    assertTrue(bad(bytes).getMessage().contains("bad FPM data at byte 0: FPM version 2"));
  }

  @Test
  void frameLengthShorterThanItsHeader() {
    assertTrue(bad(new byte[] {1, 1, 0, 3}).getMessage().contains("FPM frame length 3"));
  }

  @Test
  void netlinkLengthBeyondTheFrame() {
    byte[] bytes = goodRoute();
    bytes[4] = (byte) 200; // nlmsg_len (little-endian) of the message at byte 4
    FpmFormatException e = bad(bytes);
    assertEquals(4, e.offset());
    assertTrue(e.getMessage().contains("netlink message length 200"), e.getMessage());
  }

  @Test
  void netlinkLengthShorterThanItsHeader() {
    byte[] bytes = goodRoute();
    bytes[4] = 8;
    assertTrue(bad(bytes).getMessage().contains("netlink message length 8"));
  }

  @Test
  void attributeLengthBeyondTheMessage() {
    byte[] bytes = goodRoute();
    int firstAttribute = 4 + 16 + 12;
    bytes[firstAttribute] = 60;
    FpmFormatException e = bad(bytes);
    assertEquals(firstAttribute, e.offset());
    assertTrue(e.getMessage().contains("attribute type 1 length 60 does not fit"), e.getMessage());
  }

  @Test
  void addressOfTheWrongSize() {
    byte[] bytes = frame(netlink(24, rtmsg(10, 64, 186, 1, attribute(1, ipv4(10, 9, 0, 0)))));
    assertTrue(
        bad(bytes).getMessage().contains("RTA_DST has 4 bytes, expected 16 for address family 10"));
  }

  @Test
  void prefixLengthTooLong() {
    byte[] bytes = frame(netlink(24, rtmsg(2, 33, 186, 1, attribute(1, ipv4(10, 9, 0, 0)))));
    assertTrue(bad(bytes).getMessage().contains("prefix length 33 is more than 32"));
  }

  @Test
  void rtnexthopLengthBeyondTheAttribute() {
    byte[] hop = rtnexthop(0, 3, attribute(5, ipv4(192, 0, 2, 1)));
    hop[0] = 40;
    byte[] bytes =
        frame(
            netlink(24, rtmsg(2, 16, 186, 1, attribute(1, ipv4(10, 7, 0, 0)), attribute(9, hop))));
    assertTrue(bad(bytes).getMessage().contains("rtnexthop length 40 does not fit"));
  }

  @Test
  void rtmsgMissing() {
    byte[] bytes = frame(netlink(24, new byte[4]));
    assertTrue(bad(bytes).getMessage().contains("too short for its rtmsg"));
  }

  @Test
  void nexthopWithoutId() {
    byte[] bytes = frame(netlink(104, concat(new byte[8], attribute(5, u32(3)))));
    assertTrue(bad(bytes).getMessage().contains("RTM_NEWNEXTHOP without NHA_ID"));
  }

  @Test
  void groupOfPartEntries() {
    byte[] bytes =
        frame(netlink(104, concat(new byte[8], attribute(1, u32(9)), attribute(2, new byte[12]))));
    assertTrue(bad(bytes).getMessage().contains("NHA_GROUP of 12 bytes"));
  }

  @Test
  void readerReportsAConnectionClosedInsideAFrame() throws Exception {
    byte[] good = goodRoute();
    byte[] bytes = concat(good, Arrays.copyOf(good, 10));
    FpmDecoder.Reader reader = new FpmDecoder.Reader(new ByteArrayInputStream(bytes), DECODER);
    assertEquals(1, reader.next().size());
    FpmFormatException e = assertThrows(FpmFormatException.class, reader::next);
    assertEquals(good.length, e.offset());
    assertTrue(e.getMessage().contains("connection closed inside an FPM frame (10 of"));
  }

  @Test
  void readerEndsCleanlyBetweenFrames() throws Exception {
    FpmDecoder.Reader reader =
        new FpmDecoder.Reader(new ByteArrayInputStream(goodRoute()), DECODER);
    assertEquals(1, reader.next().size());
    assertNull(reader.next());
  }
}
