package io.flatnet.agent.bgp;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/** Hand-made FPM frames and netlink messages (little-endian, like the recordings). */
final class FpmBytes {

  private FpmBytes() {}

  /** A recording under src/test/resources/fpm. */
  static byte[] recording(String name) throws Exception {
    try (var in = FpmBytes.class.getResourceAsStream("/fpm/" + name)) {
      if (in == null) {
        throw new IllegalStateException("no recording " + name);
      }
      return in.readAllBytes();
    }
  }

  static byte[] file(Path p) throws Exception {
    return Files.readAllBytes(p);
  }

  /** An FPM frame (version 1, type 1) around {@code netlink}. */
  static byte[] frame(byte[]... netlink) {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    for (byte[] m : netlink) {
      body.writeBytes(m);
    }
    int length = 4 + body.size();
    ByteArrayOutputStream f = new ByteArrayOutputStream();
    f.write(1);
    f.write(1);
    f.write(length >> 8);
    f.write(length);
    f.writeBytes(body.toByteArray());
    return f.toByteArray();
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  /** A netlink message: nlmsghdr of {@code type}, then {@code payload} (padded). */
  static byte[] netlink(int type, byte[] payload) {
    int length = 16 + payload.length;
    ByteBuffer b = le(align(length));
    b.putInt(length).putShort((short) type).putShort((short) 0x401).putInt(0).putInt(0);
    b.put(payload);
    return b.array();
  }

  /** rtmsg + attributes. */
  static byte[] rtmsg(int family, int dstLength, int protocol, int type, byte[]... attributes) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteBuffer b = le(12);
    b.put((byte) family).put((byte) dstLength).put((byte) 0).put((byte) 0);
    b.put((byte) 254).put((byte) protocol).put((byte) 0).put((byte) type).putInt(0);
    out.writeBytes(b.array());
    for (byte[] a : attributes) {
      out.writeBytes(a);
    }
    return out.toByteArray();
  }

  /** An attribute (padded to 4). */
  static byte[] attribute(int type, byte[] value) {
    ByteBuffer b = le(align(4 + value.length));
    b.putShort((short) (4 + value.length)).putShort((short) type).put(value);
    return b.array();
  }

  static byte[] u32(int v) {
    return le(4).putInt(v).array();
  }

  static byte[] ipv4(int a, int b, int c, int d) {
    return new byte[] {(byte) a, (byte) b, (byte) c, (byte) d};
  }

  /** An rtnexthop with {@code attributes}. */
  static byte[] rtnexthop(int hops, int ifindex, byte[]... attributes) {
    ByteArrayOutputStream attrs = new ByteArrayOutputStream();
    for (byte[] a : attributes) {
      attrs.writeBytes(a);
    }
    ByteBuffer b = le(8 + attrs.size());
    b.putShort((short) (8 + attrs.size())).put((byte) 0).put((byte) hops).putInt(ifindex);
    b.put(attrs.toByteArray());
    return b.array();
  }

  static int align(int n) {
    return (n + 3) & ~3;
  }

  private static ByteBuffer le(int n) {
    return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
  }
}
