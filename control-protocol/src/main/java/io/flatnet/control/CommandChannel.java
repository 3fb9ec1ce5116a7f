package io.flatnet.control;

import java.io.File;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

/**
 * The command-and-control file ({@code cnc.dat} in the run directory) between the agent and the
 * dataplane process, after Aeron's CnC file: a header, a ring of commands to the dataplane and a
 * ring of responses to the agent, both Agrona ring buffers in one shared mapping.
 *
 * <p>Header (one page): magic and version, the rings' capacities, the dataplane's pid, its
 * incarnation (the wall-clock nanoseconds it started: a restarted dataplane has a new one) and its
 * heartbeat (epoch milliseconds, written by {@link Heartbeat}'s thread). The dataplane writes the
 * file under a temporary name and renames it into place, so an agent never maps a half-made one; a
 * restarted dataplane's file is a new inode, which is how an agent that mapped the old one notices.
 */
public final class CommandChannel implements AutoCloseable {
  public static final String FILE = "cnc.dat";
  public static final int MAGIC = 0x464E_4343; // "FNCC"
  // 2: states carry pods' policies; 3: ECMP paths, origins; 4: route batches, HELLO checks it
  public static final int VERSION = 4;

  /** Each ring's capacity (a power of two); a record may be up to an eighth of it. */
  public static final int RING_CAPACITY = 1 << 20;

  /** Response payloads are sent in chunks of at most this many bytes. */
  public static final int CHUNK = 64 * 1024;

  /** The dataplane's heartbeat period; the agent calls it gone after {@link #STALE_MILLIS}. */
  public static final long HEARTBEAT_MILLIS = 100;

  public static final long STALE_MILLIS = 3_000;

  private static final int HEADER = 4096;
  private static final int MAGIC_OFFSET = 0;
  private static final int VERSION_OFFSET = 4;
  private static final int CAPACITY_OFFSET = 8;
  private static final int PID_OFFSET = 64;
  private static final int INCARNATION_OFFSET = 72;
  private static final int HEARTBEAT_OFFSET = 128; // its own cache line
  private static final int COMMITTED_OFFSET = 192; // the generation last committed
  private static final int RING_LENGTH = RING_CAPACITY + RingBufferDescriptor.TRAILER_LENGTH;
  private static final int LENGTH = HEADER + 2 * RING_LENGTH;

  private final Path file;
  private final Object fileKey;
  private final MappedByteBuffer mapped;
  private final UnsafeBuffer header;
  private final RingBuffer toDataplane;
  private final RingBuffer toAgent;

  private CommandChannel(Path file, Object fileKey, MappedByteBuffer mapped) {
    this.file = file;
    this.fileKey = fileKey;
    this.mapped = mapped;
    this.header = new UnsafeBuffer(mapped, 0, HEADER);
    this.toDataplane = new ManyToOneRingBuffer(new UnsafeBuffer(mapped, HEADER, RING_LENGTH));
    this.toAgent =
        new ManyToOneRingBuffer(new UnsafeBuffer(mapped, HEADER + RING_LENGTH, RING_LENGTH));
  }

  /**
   * The dataplane's side: a new file at {@code dir/cnc.dat}, replacing any old one. The caller
   * holds the dataplane lock of {@code dir}, so no live dataplane uses the old one.
   */
  public static CommandChannel create(Path dir) throws IOException {
    Path target = dir.resolve(FILE);
    Path temporary = dir.resolve(FILE + ".new");
    Files.deleteIfExists(temporary);
    MappedByteBuffer mapped = IoUtil.mapNewFile(temporary.toFile(), LENGTH, true);
    UnsafeBuffer h = new UnsafeBuffer(mapped, 0, HEADER);
    h.putInt(VERSION_OFFSET, VERSION);
    h.putInt(CAPACITY_OFFSET, RING_CAPACITY);
    h.putLong(PID_OFFSET, ProcessHandle.current().pid());
    Instant started = Instant.now(); // one reading: two could straddle a second
    h.putLong(INCARNATION_OFFSET, started.getEpochSecond() * 1_000_000_000L + started.getNano());
    h.putLongVolatile(HEARTBEAT_OFFSET, System.currentTimeMillis());
    h.putLongVolatile(COMMITTED_OFFSET, -1);
    h.putIntVolatile(MAGIC_OFFSET, MAGIC);
    mapped.force();
    Files.move(
        temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return new CommandChannel(target, fileKey(target), mapped);
  }

  /**
   * The agent's side: maps the file a running dataplane made.
   *
   * @throws IOException if there is none, or it is not a flatnet command channel of this version
   */
  public static CommandChannel open(Path dir) throws IOException {
    Path target = dir.resolve(FILE);
    if (!Files.isRegularFile(target)) {
      throw new IOException(
          "no dataplane command channel " + target + " (is the dataplane running?)");
    }
    Object key = fileKey(target);
    File f = target.toFile();
    if (f.length() != LENGTH) {
      throw new IOException(
          target
              + " is "
              + f.length()
              + " bytes, not "
              + LENGTH
              + ": not a flatnet "
              + FILE
              + " of version "
              + VERSION);
    }
    MappedByteBuffer mapped = IoUtil.mapExistingFile(f, FILE);
    UnsafeBuffer h = new UnsafeBuffer(mapped, 0, HEADER);
    int magic = h.getIntVolatile(MAGIC_OFFSET);
    int version = h.getInt(VERSION_OFFSET);
    if (magic != MAGIC || version != VERSION) {
      IoUtil.unmap(mapped); // after reading the version: the message must not touch the mapping
      throw new IOException(
          target
              + " is not a flatnet command channel of version "
              + VERSION
              + (magic != MAGIC
                  ? " (magic " + Integer.toHexString(magic) + ")"
                  : " (version " + version + ")"));
    }
    return new CommandChannel(target, key, mapped);
  }

  private static Object fileKey(Path file) throws IOException {
    return Files.readAttributes(file, BasicFileAttributes.class).fileKey();
  }

  public Path file() {
    return file;
  }

  /** Commands, written by the agent (and any tool), read by the dataplane's control thread. */
  public RingBuffer toDataplane() {
    return toDataplane;
  }

  /** Responses, written by the dataplane, read by the agent. */
  public RingBuffer toAgent() {
    return toAgent;
  }

  public long dataplanePid() {
    return header.getLong(PID_OFFSET);
  }

  public long incarnation() {
    return header.getLong(INCARNATION_OFFSET);
  }

  /** The dataplane's side: proves it is alive. */
  public void heartbeat(long epochMillis) {
    header.putLongOrdered(HEARTBEAT_OFFSET, epochMillis);
  }

  /**
   * The dataplane's side: the generation it has just committed, so that the agent can tell, without
   * a call, that the state it last applied is still what the dataplane holds.
   */
  public void committed(long generation) {
    header.putLongOrdered(COMMITTED_OFFSET, generation);
  }

  /** The generation the dataplane last committed; -1 before its first commit. */
  public long committedGeneration() {
    return header.getLongVolatile(COMMITTED_OFFSET);
  }

  public long lastHeartbeat() {
    return header.getLongVolatile(HEARTBEAT_OFFSET);
  }

  /**
   * True while the dataplane that made this file is alive: it beats, and the run directory's {@code
   * cnc.dat} is still this file (a restarted dataplane replaces it).
   */
  public boolean dataplaneAlive(long nowMillis) {
    if (nowMillis - lastHeartbeat() > STALE_MILLIS) {
      return false;
    }
    try {
      return fileKey.equals(fileKey(file));
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public void close() {
    IoUtil.unmap(mapped);
  }
}
