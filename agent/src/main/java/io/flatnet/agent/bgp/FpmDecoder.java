package io.flatnet.agent.bgp;

import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.config.IpNet;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Decodes what zebra's {@code dplane_fpm_nl} module sends: FPM frames, each a 4-byte header
 * (version 1, type 1 = netlink, total length big-endian, header included) and one or more netlink
 * messages (zebra puts an update's RTM_DELROUTE and RTM_NEWROUTE in one frame). Netlink is in the
 * host's byte order.
 *
 * <p>Decoded: RTM_NEWROUTE/RTM_DELROUTE (rtmsg and RTA_DST, RTA_GATEWAY, RTA_VIA, RTA_OIF,
 * RTA_PRIORITY, RTA_TABLE, RTA_MULTIPATH, RTA_NH_ID) and RTM_NEWNEXTHOP/RTM_DELNEXTHOP (NHA_ID,
 * NHA_GATEWAY, NHA_OIF, NHA_BLACKHOLE, NHA_GROUP). Other attributes are ignored; other message
 * types (RTM_NEWNEIGH of EVPN router MACs, MPLS, frames of another FPM type) come out as {@link
 * FpmMessage.Skipped}. Anything that breaks the framing or a length throws {@link
 * FpmFormatException} with the stream offset: the connection cannot be trusted after it.
 */
public final class FpmDecoder {

  /** The FPM header: version, type, 16-bit length. */
  public static final int HEADER_LENGTH = 4;

  public static final int FPM_VERSION = 1;
  public static final int FPM_TYPE_NETLINK = 1;

  static final int NLMSG_HEADER_LENGTH = 16;
  static final int RTMSG_LENGTH = 12;
  static final int NHMSG_LENGTH = 8;
  static final int RTNEXTHOP_LENGTH = 8;
  static final int NEXTHOP_GROUP_ENTRY_LENGTH = 8;

  static final int NLMSG_NOOP = 1;
  static final int NLMSG_ERROR = 2;
  static final int NLMSG_DONE = 3;
  static final int RTM_NEWROUTE = 24;
  static final int RTM_DELROUTE = 25;
  static final int RTM_NEWNEXTHOP = 104;
  static final int RTM_DELNEXTHOP = 105;

  static final int AF_INET = 2;
  static final int AF_INET6 = 10;

  static final int RTA_DST = 1;
  static final int RTA_OIF = 4;
  static final int RTA_GATEWAY = 5;
  static final int RTA_PRIORITY = 6;
  static final int RTA_MULTIPATH = 9;
  static final int RTA_TABLE = 15;
  static final int RTA_VIA = 18;
  static final int RTA_NH_ID = 30;

  static final int NHA_ID = 1;
  static final int NHA_GROUP = 2;
  static final int NHA_BLACKHOLE = 4;
  static final int NHA_OIF = 5;
  static final int NHA_GATEWAY = 6;

  /** Attribute type bits without NLA_F_NESTED and NLA_F_NET_BYTEORDER (zebra sets NESTED). */
  private static final int NLA_TYPE_MASK = 0x3fff;

  private final ByteOrder netlinkOrder;

  /** A decoder for netlink in {@code netlinkOrder} (zebra's host's: {@link #forThisHost()}). */
  public FpmDecoder(ByteOrder netlinkOrder) {
    this.netlinkOrder = netlinkOrder;
  }

  /** A decoder for a zebra on this machine (netlink in the native byte order). */
  public static FpmDecoder forThisHost() {
    return new FpmDecoder(ByteOrder.nativeOrder());
  }

  /**
   * The messages of {@code stream}, whole frames back to back (a recording).
   *
   * @throws FpmFormatException at the first malformed part, or if the stream ends inside a frame
   */
  public List<FpmMessage> decodeAll(byte[] stream) throws FpmFormatException {
    List<FpmMessage> all = new ArrayList<>();
    int at = 0;
    while (at < stream.length) {
      if (stream.length - at < HEADER_LENGTH) {
        throw new FpmFormatException(
            at,
            "truncated FPM header: "
                + (stream.length - at)
                + " bytes left, a header is "
                + HEADER_LENGTH);
      }
      int length = frameLength(stream, at, at);
      if (stream.length - at < length) {
        throw new FpmFormatException(
            at,
            "truncated FPM frame: its header says "
                + length
                + " bytes, the stream has "
                + (stream.length - at));
      }
      all.addAll(decodeFrame(ByteBuffer.wrap(stream, at, length).slice(), at));
      at += length;
    }
    return all;
  }

  /**
   * Checks the FPM header at {@code bytes[at..at+3]} and gives the frame's total length.
   *
   * @param streamOffset where the header is in the connection's stream (for errors)
   */
  public static int frameLength(byte[] bytes, int at, long streamOffset) throws FpmFormatException {
    int version = bytes[at] & 0xff;
    if (version != FPM_VERSION) {
      throw new FpmFormatException(
          streamOffset, "FPM version " + version + ", expected " + FPM_VERSION);
    }
    int length = ((bytes[at + 2] & 0xff) << 8) | (bytes[at + 3] & 0xff);
    if (length < HEADER_LENGTH) {
      throw new FpmFormatException(
          streamOffset,
          "FPM frame length " + length + " is less than its own " + HEADER_LENGTH + "-byte header");
    }
    return length;
  }

  /**
   * The messages of one whole frame ({@code frame} from its header to its end).
   *
   * @param streamOffset where the frame starts in the connection's stream (for errors)
   */
  public List<FpmMessage> decodeFrame(ByteBuffer frame, long streamOffset)
      throws FpmFormatException {
    ByteBuffer b = frame.slice().order(netlinkOrder);
    int type = b.get(1) & 0xff;
    if (type != FPM_TYPE_NETLINK) {
      return List.of(new FpmMessage.Skipped(0, "FPM frame type " + type + " (not netlink)"));
    }
    List<FpmMessage> messages = new ArrayList<>();
    int at = HEADER_LENGTH;
    while (at < b.limit()) {
      long offset = streamOffset + at;
      if (b.limit() - at < NLMSG_HEADER_LENGTH) {
        throw new FpmFormatException(
            offset,
            "netlink header truncated: "
                + (b.limit() - at)
                + " bytes left in the FPM frame, a header is "
                + NLMSG_HEADER_LENGTH);
      }
      long length = Integer.toUnsignedLong(b.getInt(at));
      int type16 = b.getShort(at + 4) & 0xffff;
      if (length < NLMSG_HEADER_LENGTH || length > b.limit() - at) {
        throw new FpmFormatException(
            offset,
            "netlink message length "
                + length
                + " (type "
                + type16
                + ") does not fit: "
                + (b.limit() - at)
                + " bytes left in the FPM frame, at least "
                + NLMSG_HEADER_LENGTH
                + " needed");
      }
      ByteBuffer message = b.slice(at, (int) length).order(netlinkOrder);
      messages.add(decodeMessage(message, type16, offset));
      at += align((int) length);
    }
    return messages;
  }

  private FpmMessage decodeMessage(ByteBuffer m, int type, long offset) throws FpmFormatException {
    return switch (type) {
      case RTM_NEWROUTE, RTM_DELROUTE -> decodeRoute(m, type == RTM_DELROUTE, offset);
      case RTM_NEWNEXTHOP, RTM_DELNEXTHOP -> decodeNexthop(m, type == RTM_DELNEXTHOP, offset);
      case NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE ->
          new FpmMessage.Skipped(type, "netlink control message");
      default -> new FpmMessage.Skipped(type, "netlink message type " + type + " not used");
    };
  }

  private FpmMessage decodeRoute(ByteBuffer m, boolean delete, long offset)
      throws FpmFormatException {
    int type = delete ? RTM_DELROUTE : RTM_NEWROUTE;
    need(m, NLMSG_HEADER_LENGTH + RTMSG_LENGTH, offset, "rtmsg");
    int at = NLMSG_HEADER_LENGTH;
    int family = m.get(at) & 0xff;
    int dstLength = m.get(at + 1) & 0xff;
    int table = m.get(at + 4) & 0xff;
    int protocol = m.get(at + 5) & 0xff;
    int routeType = m.get(at + 7) & 0xff;
    if (family != AF_INET && family != AF_INET6) {
      return new FpmMessage.Skipped(type, "route of address family " + family);
    }
    int bits = family == AF_INET ? 32 : 128;
    if (dstLength > bits) {
      throw new FpmFormatException(
          offset + at + 1, "route prefix length " + dstLength + " is more than " + bits);
    }
    IpAddress dst = family == AF_INET ? IpAddress.v4(0) : new IpAddress(6, 0, 0);
    long priority = -1;
    long nexthopId = 0;
    IpAddress gateway = null;
    int oif = 0;
    List<FpmMessage.NextHop> multipath = null;
    for (int a = NLMSG_HEADER_LENGTH + RTMSG_LENGTH; a < m.limit(); ) {
      Attribute attr = attribute(m, a, offset);
      switch (attr.type) {
        case RTA_DST -> dst = address(m, attr, family, offset, "RTA_DST");
        case RTA_GATEWAY -> gateway = address(m, attr, family, offset, "RTA_GATEWAY");
        case RTA_VIA -> gateway = via(m, attr, offset);
        case RTA_OIF -> oif = (int) u32(m, attr, offset, "RTA_OIF");
        case RTA_PRIORITY -> priority = u32(m, attr, offset, "RTA_PRIORITY");
        case RTA_TABLE -> table = (int) u32(m, attr, offset, "RTA_TABLE");
        case RTA_NH_ID -> nexthopId = u32(m, attr, offset, "RTA_NH_ID");
        case RTA_MULTIPATH -> multipath = multipath(m, attr, family, offset);
        default -> {} // metrics, preferred source, encapsulation: not flatnet's concern
      }
      a = attr.next;
    }
    if (!dst.masked(dstLength).equals(dst)) {
      return new FpmMessage.Skipped(type, "route " + dst + "/" + dstLength + " has host bits set");
    }
    String prefix = new IpNet(dst, dstLength).toString();
    List<FpmMessage.NextHop> hops;
    if (multipath != null) {
      hops = multipath;
    } else if (gateway != null || oif != 0) {
      hops = List.of(new FpmMessage.NextHop(gateway, oif, 1));
    } else {
      hops = List.of();
    }
    return new FpmMessage.Route(
        delete, prefix, table, protocol, routeType, priority, hops, nexthopId);
  }

  /** RTA_MULTIPATH: rtnexthop entries (len, flags, hops, ifindex), each with attributes. */
  private List<FpmMessage.NextHop> multipath(ByteBuffer m, Attribute attr, int family, long offset)
      throws FpmFormatException {
    List<FpmMessage.NextHop> hops = new ArrayList<>();
    int end = attr.valueAt + attr.valueLength;
    for (int at = attr.valueAt; at < end; ) {
      if (end - at < RTNEXTHOP_LENGTH) {
        throw new FpmFormatException(
            offset + at,
            "RTA_MULTIPATH: rtnexthop truncated: "
                + (end - at)
                + " bytes left, one is at least "
                + RTNEXTHOP_LENGTH);
      }
      int length = m.getShort(at) & 0xffff;
      if (length < RTNEXTHOP_LENGTH || length > end - at) {
        throw new FpmFormatException(
            offset + at,
            "RTA_MULTIPATH: rtnexthop length "
                + length
                + " does not fit ("
                + (end - at)
                + " bytes left, at least "
                + RTNEXTHOP_LENGTH
                + " needed)");
      }
      int weight = (m.get(at + 3) & 0xff) + 1;
      int ifindex = m.getInt(at + 4);
      IpAddress gateway = null;
      for (int a = at + RTNEXTHOP_LENGTH; a < at + length; ) {
        Attribute inner = attribute(m.slice(0, at + length).order(m.order()), a, offset);
        if (inner.type == RTA_GATEWAY) {
          gateway = address(m, inner, family, offset, "RTA_MULTIPATH gateway");
        } else if (inner.type == RTA_VIA) {
          gateway = via(m, inner, offset);
        }
        a = inner.next;
      }
      hops.add(new FpmMessage.NextHop(gateway, ifindex, weight));
      at += align(length);
    }
    return hops;
  }

  private FpmMessage decodeNexthop(ByteBuffer m, boolean delete, long offset)
      throws FpmFormatException {
    need(m, NLMSG_HEADER_LENGTH + NHMSG_LENGTH, offset, "nhmsg");
    int family = m.get(NLMSG_HEADER_LENGTH) & 0xff;
    long id = 0;
    IpAddress gateway = null;
    int oif = 0;
    boolean blackhole = false;
    List<FpmMessage.GroupMember> group = List.of();
    for (int a = NLMSG_HEADER_LENGTH + NHMSG_LENGTH; a < m.limit(); ) {
      Attribute attr = attribute(m, a, offset);
      switch (attr.type) {
        case NHA_ID -> id = u32(m, attr, offset, "NHA_ID");
        case NHA_OIF -> oif = (int) u32(m, attr, offset, "NHA_OIF");
        case NHA_BLACKHOLE -> blackhole = true;
        case NHA_GATEWAY -> {
          int gatewayFamily =
              attr.valueLength == 4 ? AF_INET : attr.valueLength == 16 ? AF_INET6 : family;
          gateway = address(m, attr, gatewayFamily, offset, "NHA_GATEWAY");
        }
        case NHA_GROUP -> group = group(m, attr, offset);
        default -> {}
      }
      a = attr.next;
    }
    if (id == 0) {
      throw new FpmFormatException(
          offset, (delete ? "RTM_DELNEXTHOP" : "RTM_NEWNEXTHOP") + " without NHA_ID");
    }
    return new FpmMessage.Nexthop(delete, id, gateway, oif, blackhole, group);
  }

  private static List<FpmMessage.GroupMember> group(ByteBuffer m, Attribute attr, long offset)
      throws FpmFormatException {
    if (attr.valueLength % NEXTHOP_GROUP_ENTRY_LENGTH != 0) {
      throw new FpmFormatException(
          offset + attr.at,
          "NHA_GROUP of "
              + attr.valueLength
              + " bytes is not a whole number of "
              + NEXTHOP_GROUP_ENTRY_LENGTH
              + "-byte entries");
    }
    List<FpmMessage.GroupMember> members = new ArrayList<>();
    for (int at = attr.valueAt; at < attr.valueAt + attr.valueLength; at += 8) {
      members.add(
          new FpmMessage.GroupMember(
              Integer.toUnsignedLong(m.getInt(at)), (m.get(at + 4) & 0xff) + 1));
    }
    return members;
  }

  /** One netlink attribute: where its value is and where the next one starts. */
  private record Attribute(int at, int type, int valueAt, int valueLength, int next) {}

  private static Attribute attribute(ByteBuffer m, int at, long offset) throws FpmFormatException {
    if (m.limit() - at < 4) {
      throw new FpmFormatException(
          offset + at,
          "attribute header truncated: " + (m.limit() - at) + " bytes left, a header is 4");
    }
    int length = m.getShort(at) & 0xffff;
    int type = m.getShort(at + 2) & NLA_TYPE_MASK;
    if (length < 4 || length > m.limit() - at) {
      throw new FpmFormatException(
          offset + at,
          "attribute type "
              + type
              + " length "
              + length
              + " does not fit ("
              + (m.limit() - at)
              + " bytes left, at least 4 needed)");
    }
    return new Attribute(at, type, at + 4, length - 4, Math.min(at + align(length), m.limit()));
  }

  private static long u32(ByteBuffer m, Attribute attr, long offset, String name)
      throws FpmFormatException {
    if (attr.valueLength != 4) {
      throw new FpmFormatException(
          offset + attr.at, name + " has " + attr.valueLength + " bytes, expected 4");
    }
    return Integer.toUnsignedLong(m.getInt(attr.valueAt));
  }

  private static IpAddress address(
      ByteBuffer m, Attribute attr, int family, long offset, String name)
      throws FpmFormatException {
    int expected = family == AF_INET ? 4 : 16;
    if (attr.valueLength != expected) {
      throw new FpmFormatException(
          offset + attr.at,
          name
              + " has "
              + attr.valueLength
              + " bytes, expected "
              + expected
              + " for address family "
              + family);
    }
    return addressAt(m, attr.valueAt, family);
  }

  /** RTA_VIA: a 16-bit family, then an address of that family (an IPv4 route via IPv6). */
  private static IpAddress via(ByteBuffer m, Attribute attr, long offset)
      throws FpmFormatException {
    if (attr.valueLength < 2) {
      throw new FpmFormatException(offset + attr.at, "RTA_VIA without an address family");
    }
    int family = m.getShort(attr.valueAt) & 0xffff;
    int expected = family == AF_INET ? 4 : family == AF_INET6 ? 16 : -1;
    if (expected < 0 || attr.valueLength - 2 < expected) {
      throw new FpmFormatException(
          offset + attr.at,
          "RTA_VIA of family " + family + " with " + (attr.valueLength - 2) + " address bytes");
    }
    return addressAt(m, attr.valueAt + 2, family);
  }

  /** An address in network byte order at {@code at}. */
  private static IpAddress addressAt(ByteBuffer m, int at, int family) {
    ByteBuffer big = m.duplicate().order(ByteOrder.BIG_ENDIAN);
    if (family == AF_INET) {
      return IpAddress.v4(big.getInt(at));
    }
    return new IpAddress(6, big.getLong(at), big.getLong(at + 8));
  }

  private static void need(ByteBuffer m, int length, long offset, String what)
      throws FpmFormatException {
    if (m.limit() < length) {
      throw new FpmFormatException(
          offset,
          "netlink message of "
              + m.limit()
              + " bytes is too short for its "
              + what
              + " ("
              + length
              + " needed)");
    }
  }

  static int align(int length) {
    return (length + 3) & ~3;
  }

  /**
   * Reads frames from a connection one at a time, counting the stream offset for errors. Not
   * thread-safe.
   */
  public static final class Reader {
    private final InputStream in;
    private final FpmDecoder decoder;
    private final byte[] header = new byte[HEADER_LENGTH];
    private long offset;

    public Reader(InputStream in, FpmDecoder decoder) {
      this.in = in;
      this.decoder = decoder;
    }

    /** Bytes read so far. */
    public long offset() {
      return offset;
    }

    /**
     * The next frame's messages, or null when the stream ends between frames.
     *
     * @throws FpmFormatException on a malformed frame or a stream that ends inside one
     * @throws IOException if reading fails
     */
    public List<FpmMessage> next() throws IOException {
      int got = in.readNBytes(header, 0, HEADER_LENGTH);
      if (got == 0) {
        return null;
      }
      if (got < HEADER_LENGTH) {
        throw new FpmFormatException(
            offset, "connection closed inside an FPM header (" + got + " of 4 bytes)");
      }
      int length = frameLength(header, 0, offset);
      byte[] frame = new byte[length];
      System.arraycopy(header, 0, frame, 0, HEADER_LENGTH);
      int body = in.readNBytes(frame, HEADER_LENGTH, length - HEADER_LENGTH);
      if (body < length - HEADER_LENGTH) {
        throw new FpmFormatException(
            offset,
            "connection closed inside an FPM frame ("
                + (HEADER_LENGTH + body)
                + " of "
                + length
                + " bytes)");
      }
      List<FpmMessage> messages = decoder.decodeFrame(ByteBuffer.wrap(frame), offset);
      offset += length;
      return messages;
    }

    /** Reads to the end of the stream: for recordings. */
    List<FpmMessage> readAll() throws IOException {
      List<FpmMessage> all = new ArrayList<>();
      for (List<FpmMessage> frame = next(); frame != null; frame = next()) {
        all.addAll(frame);
      }
      return all;
    }
  }
}
