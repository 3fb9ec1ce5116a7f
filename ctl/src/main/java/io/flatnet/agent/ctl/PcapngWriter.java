package io.flatnet.agent.ctl;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * Writes a pcapng stream (little-endian): a Section Header Block, one Interface Description Block
 * per port (Ethernet, {@code if_name}, nanosecond timestamps) and Enhanced Packet Blocks with
 * {@code epb_flags} (inbound or outbound) and an optional {@code opt_comment}. tshark and Wireshark
 * read it, also from a pipe.
 */
final class PcapngWriter implements AutoCloseable {
  static final int SHB = 0x0A0D0D0A;
  static final int IDB = 1;
  static final int EPB = 6;
  static final int LINKTYPE_ETHERNET = 1;
  static final int OPT_END = 0;
  static final int OPT_COMMENT = 1;
  static final int IF_NAME = 2;
  static final int IF_TSRESOL = 9;
  static final int EPB_FLAGS = 2;

  /** epb_flags direction bits. */
  static final int INBOUND = 1;

  static final int OUTBOUND = 2;

  private final OutputStream out;
  private final Map<Integer, Integer> interfaces = new HashMap<>();
  private final int snaplen;
  private long packets;

  PcapngWriter(OutputStream out, String application, int snaplen) throws IOException {
    this.out = out;
    this.snaplen = snaplen;
    ByteBuffer options = options();
    option(options, 4, application); // shb_userappl
    end(options);
    ByteBuffer body = le(16 + options.position());
    body.putInt(0x1A2B3C4D).putShort((short) 1).putShort((short) 0).putLong(-1L);
    body.put(options.flip());
    block(SHB, body);
  }

  /** Declares port {@code port} as the next interface, named {@code name}. */
  void addInterface(int port, String name) throws IOException {
    ByteBuffer options = options();
    option(options, IF_NAME, name);
    options.putShort((short) IF_TSRESOL).putShort((short) 1).put((byte) 9).put(new byte[3]);
    end(options);
    ByteBuffer body = le(8 + options.position());
    body.putShort((short) LINKTYPE_ETHERNET).putShort((short) 0).putInt(snaplen);
    body.put(options.flip());
    block(IDB, body);
    interfaces.put(port, interfaces.size());
  }

  boolean hasInterface(int port) {
    return interfaces.containsKey(port);
  }

  /**
   * One packet: {@code data} (the bytes kept), its original length, epoch nanoseconds, the
   * direction ({@link #INBOUND}, {@link #OUTBOUND}) and a comment, or null.
   */
  void packet(
      int port, long epochNanos, byte[] data, int originalLength, int direction, String comment)
      throws IOException {
    Integer id = interfaces.get(port);
    if (id == null) {
      addInterface(port, "port" + port);
      id = interfaces.get(port);
    }
    ByteBuffer options = options();
    options.putShort((short) EPB_FLAGS).putShort((short) 4).putInt(direction);
    if (comment != null) {
      option(options, OPT_COMMENT, comment);
    }
    end(options);
    int padded = (data.length + 3) & ~3;
    ByteBuffer body = le(20 + padded + options.position());
    body.putInt(id).putInt((int) (epochNanos >>> 32)).putInt((int) epochNanos);
    body.putInt(data.length).putInt(Math.max(originalLength, data.length));
    body.put(data).put(new byte[padded - data.length]);
    body.put(options.flip());
    block(EPB, body);
    packets++;
  }

  long packets() {
    return packets;
  }

  void flush() throws IOException {
    out.flush();
  }

  @Override
  public void close() throws IOException {
    out.flush();
    out.close();
  }

  private static ByteBuffer options() {
    return le(4096);
  }

  private static ByteBuffer le(int size) {
    return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
  }

  private static void option(ByteBuffer b, int code, String value) {
    byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
    int n = Math.min(bytes.length, 2048);
    b.putShort((short) code).putShort((short) n).put(bytes, 0, n);
    b.put(new byte[((n + 3) & ~3) - n]);
  }

  private static void end(ByteBuffer b) {
    b.putShort((short) OPT_END).putShort((short) 0);
  }

  private void block(int type, ByteBuffer body) throws IOException {
    body.flip();
    int length = 12 + body.remaining();
    ByteBuffer b = le(length);
    b.putInt(type).putInt(length).put(body).putInt(length);
    out.write(b.array(), 0, length);
  }
}
