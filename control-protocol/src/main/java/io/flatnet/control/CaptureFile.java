package io.flatnet.control;

import java.io.File;
import java.nio.MappedByteBuffer;
import org.agrona.DirectBuffer;
import org.agrona.IoUtil;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

/**
 * The layout of the dataplane's capture file ({@code capture.dat}): a header page, then one Agrona
 * {@link OneToOneRingBuffer} per worker. Each worker is its ring's only producer; {@code ctl
 * capture} / {@code ctl trace --live} is the only consumer. A full ring drops the record and the
 * worker counts it in the header ({@link #ringFullOffset}); it never waits.
 *
 * <p>Header (little-endian, at these offsets): magic, version, workers, ring capacity (ints); the
 * running session's id (0: none), the consumer's lease (epoch ms, written by {@code ctl} every few
 * hundred ms; the dataplane stops a capture whose lease is older than {@link #LEASE_MILLIS}), the
 * clock offset (epoch ns minus {@code System.nanoTime()} of the dataplane, so record times convert
 * to wall time), the id of the last session the dataplane ended, and one ring-full counter a
 * worker.
 *
 * <p>A record ({@link #TYPE_PACKET} or {@link #TYPE_TRACE}): kind (u8: a direction or a trace
 * stage), worker (u8), port (u16, {@link #NO_PORT} if none), original length (int), time (long, the
 * dataplane's nanoTime), trace id (int, 0 for a capture), drop reason ordinal (int, -1 if none),
 * two values a and b (longs, per stage), then data: the first snaplen bytes of the frame, or for a
 * policy stage the ASCII text of the verdict.
 */
public final class CaptureFile {
  private CaptureFile() {}

  public static final String FILE = "capture.dat";

  /** Bytes per worker ring (a power of two): about 8,000 records of 128-byte snaps. */
  public static final int RING_CAPACITY = 2 * 1024 * 1024;

  /** Rings in a file at most (the ring-full counters must fit the header page). */
  public static final int MAX_WORKERS = 64;

  public static final int HEADER_LENGTH = 4096;
  public static final int MAGIC = 0x50434e46; // "FNCP"
  public static final int VERSION = 1;

  public static final int MAGIC_OFFSET = 0;
  public static final int VERSION_OFFSET = 4;
  public static final int WORKERS_OFFSET = 8;
  public static final int CAPACITY_OFFSET = 12;
  public static final int SESSION_OFFSET = 16;
  public static final int LEASE_OFFSET = 24;
  public static final int CLOCK_OFFSET = 32;
  public static final int ENDED_OFFSET = 40;
  private static final int RING_FULL_BASE = 64;

  /** How long a capture runs with no word from its consumer before the dataplane ends it. */
  public static final long LEASE_MILLIS = 5_000;

  /** How often the consumer renews its lease. */
  public static final long LEASE_RENEW_MILLIS = 500;

  /** The default and largest bytes of a frame a record keeps. */
  public static final int DEFAULT_SNAPLEN = 256;

  public static final int MAX_SNAPLEN = 9216 + 14;

  public static final int TYPE_PACKET = 1;
  public static final int TYPE_TRACE = 2;

  /** Packet record kinds (pcapng directions). */
  public static final int RX = 0;

  public static final int TX = 1;
  public static final int DROP = 2;

  /** Trace stages (the kind of a {@link #TYPE_TRACE} record). */
  public static final int STAGE_RX = 10;

  /** a: family (4, 6; 0 for ARP). */
  public static final int STAGE_PARSED = 11;

  /** a: next hop index, b: its kind (NextHops.KIND_*); port: the route's out port, if any. */
  public static final int STAGE_LOOKUP = 12;

  /** a: 1 resolved (the MAC is known), 0 held while the router asks (ARP/NDP). */
  public static final int STAGE_NEIGHBOR = 13;

  /** a: 0 pass, 1 denied egress, 2 denied ingress; data: the verdict with the rule. */
  public static final int STAGE_POLICY = 14;

  /** a: the new destination MAC, b: the new source MAC; port: the out port. */
  public static final int STAGE_REWRITE = 15;

  /** Addressed to the router: answered on the spot (echo reply, ARP/NDP). */
  public static final int STAGE_LOCAL = 16;

  /** Handed to the out port's TX queue (port). */
  public static final int STAGE_TX = 17;

  /** Dropped (reason). */
  public static final int STAGE_DROP = 18;

  /** Taken by the router (an ARP/NDP it learned from, answered or not): freed, not dropped. */
  public static final int STAGE_CONSUMED = 19;

  public static final int NO_PORT = 0xFFFF;

  public static final int KIND = 0;
  public static final int WORKER = 1;
  public static final int PORT = 2;
  public static final int LENGTH = 4;
  public static final int TIME = 8;
  public static final int TRACE_ID = 16;
  public static final int REASON = 20;
  public static final int A = 24;
  public static final int B = 32;
  public static final int DATA = 40;

  /** The file's length for {@code workers} rings. */
  public static long length(int workers) {
    return HEADER_LENGTH + (long) workers * ringLength();
  }

  /** One ring's bytes with its trailer. */
  public static int ringLength() {
    return RING_CAPACITY + RingBufferDescriptor.TRAILER_LENGTH;
  }

  /** Offset of worker {@code w}'s ring-full counter. */
  public static int ringFullOffset(int w) {
    return RING_FULL_BASE + 8 * w;
  }

  /** Name of a stage, as ctl prints it. */
  public static String stageName(int stage) {
    return switch (stage) {
      case STAGE_RX -> "rx";
      case STAGE_PARSED -> "parsed";
      case STAGE_LOOKUP -> "lookup";
      case STAGE_NEIGHBOR -> "neighbour";
      case STAGE_POLICY -> "policy";
      case STAGE_REWRITE -> "rewrite";
      case STAGE_LOCAL -> "local";
      case STAGE_TX -> "tx";
      case STAGE_DROP -> "drop";
      case STAGE_CONSUMED -> "consumed";
      default -> "stage-" + stage;
    };
  }

  /** One record, decoded (by the consumer: it allocates). */
  public record Record(
      int type,
      int kind,
      int worker,
      int port,
      int length,
      long time,
      int traceId,
      int reason,
      long a,
      long b,
      byte[] data) {

    public static Record decode(int type, DirectBuffer buffer, int index, int size) {
      int kind = buffer.getByte(index + KIND) & 0xFF;
      int length = buffer.getInt(index + LENGTH);
      int dataLength = size - DATA;
      if (type == TYPE_TRACE && kind == STAGE_POLICY) {
        dataLength = Math.min(dataLength, length);
      }
      byte[] data = new byte[Math.max(0, dataLength)];
      buffer.getBytes(index + DATA, data);
      return new Record(
          type,
          kind,
          buffer.getByte(index + WORKER) & 0xFF,
          buffer.getShort(index + PORT) & 0xFFFF,
          length,
          buffer.getLong(index + TIME),
          buffer.getInt(index + TRACE_ID),
          buffer.getInt(index + REASON),
          buffer.getLong(index + A),
          buffer.getLong(index + B),
          data);
    }

    public boolean isTrace() {
      return type == TYPE_TRACE;
    }

    /** The data as ASCII text (a policy stage's verdict). */
    public String text() {
      return new String(data, java.nio.charset.StandardCharsets.US_ASCII);
    }
  }

  /** A mapped capture file: its header and rings. */
  public static final class Mapped implements AutoCloseable {
    private final MappedByteBuffer mapped;
    private final UnsafeBuffer header;
    private final OneToOneRingBuffer[] rings;
    private final File file;

    private Mapped(File file, MappedByteBuffer mapped) {
      this.file = file;
      this.mapped = mapped;
      this.header = new UnsafeBuffer(mapped, 0, HEADER_LENGTH);
      if (header.getInt(MAGIC_OFFSET) != MAGIC || header.getInt(VERSION_OFFSET) != VERSION) {
        IoUtil.unmap(mapped);
        throw new IllegalStateException(
            file + " is not a flatnet capture file of version " + VERSION);
      }
      int workers = header.getInt(WORKERS_OFFSET);
      int capacity = header.getInt(CAPACITY_OFFSET);
      if (capacity != RING_CAPACITY) {
        IoUtil.unmap(mapped);
        throw new IllegalStateException(
            file + ": ring capacity " + capacity + ", expected " + RING_CAPACITY);
      }
      rings = new OneToOneRingBuffer[workers];
      for (int w = 0; w < workers; w++) {
        AtomicBuffer ring =
            new UnsafeBuffer(mapped, HEADER_LENGTH + w * ringLength(), ringLength());
        rings[w] = new OneToOneRingBuffer(ring);
      }
    }

    public File file() {
      return file;
    }

    public UnsafeBuffer header() {
      return header;
    }

    public int workers() {
      return rings.length;
    }

    public OneToOneRingBuffer ring(int w) {
      return rings[w];
    }

    /** Records worker {@code w} could not write because its ring was full. */
    public long ringFull(int w) {
      return header.getLongVolatile(ringFullOffset(w));
    }

    public long ringFullTotal() {
      long sum = 0;
      for (int w = 0; w < rings.length; w++) {
        sum += ringFull(w);
      }
      return sum;
    }

    /** The consumer's word that it is still there. */
    public void renewLease(long epochMillis) {
      header.putLongVolatile(LEASE_OFFSET, epochMillis);
    }

    public long lease() {
      return header.getLongVolatile(LEASE_OFFSET);
    }

    public long session() {
      return header.getLongVolatile(SESSION_OFFSET);
    }

    /** The last session the dataplane ended (its count reached, stopped, or its lease gone). */
    public long ended() {
      return header.getLongVolatile(ENDED_OFFSET);
    }

    /** Epoch nanoseconds of a record's time. */
    public long epochNanos(long recordTime) {
      return recordTime + header.getLongVolatile(CLOCK_OFFSET);
    }

    /** Reads up to {@code max} records a ring, ring by ring, into {@code out}; returns how many. */
    public int poll(java.util.List<Record> out, int max) {
      int n = 0;
      for (OneToOneRingBuffer ring : rings) {
        n +=
            ring.read(
                (type, buffer, index, length) ->
                    out.add(Record.decode(type, buffer, index, length)),
                max);
      }
      return n;
    }

    /** Discards every record waiting in every ring (a consumer, before it starts a session). */
    public void drain() {
      for (OneToOneRingBuffer ring : rings) {
        while (ring.read((type, buffer, index, length) -> {}, Integer.MAX_VALUE) > 0) {
          // discard
        }
      }
    }

    @Override
    public void close() {
      IoUtil.unmap(mapped);
    }
  }

  /** Creates (or resets) the file for {@code workers} rings and maps it (the dataplane). */
  public static Mapped create(File file, int workers) {
    if (workers < 1 || workers > MAX_WORKERS) {
      throw new IllegalArgumentException("workers " + workers + " out of 1.." + MAX_WORKERS);
    }
    IoUtil.deleteIfExists(file);
    MappedByteBuffer mapped = IoUtil.mapNewFile(file, length(workers), false);
    try { // packets' contents: the dataplane's user only (set before any capture can start)
      java.nio.file.Files.setPosixFilePermissions(
          file.toPath(), java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    } catch (java.io.IOException | UnsupportedOperationException e) {
      IoUtil.unmap(mapped);
      throw new IllegalStateException("cannot restrict " + file + " to its owner: " + e, e);
    }
    UnsafeBuffer header = new UnsafeBuffer(mapped, 0, HEADER_LENGTH);
    header.putInt(WORKERS_OFFSET, workers);
    header.putInt(CAPACITY_OFFSET, RING_CAPACITY);
    header.putInt(VERSION_OFFSET, VERSION);
    header.putIntVolatile(MAGIC_OFFSET, MAGIC);
    return new Mapped(file, mapped);
  }

  /** Maps an existing capture file read-write (the consumer moves the rings' heads). */
  public static Mapped open(File file) {
    if (!file.isFile()) {
      throw new IllegalStateException("no capture file " + file + " (is the dataplane running?)");
    }
    return new Mapped(file, IoUtil.mapExistingFile(file, "flatnet capture"));
  }
}
