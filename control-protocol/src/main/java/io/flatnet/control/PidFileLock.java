package io.flatnet.control;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * An exclusive lock on a file that holds the holder's pid, taken without waiting and held until
 * closed (the kernel drops it when the process dies, so a crash leaves no stale lock). The agent's
 * run-directory lock and the router's counters-file lock are both this.
 */
public final class PidFileLock implements AutoCloseable {
  private final Path file;
  private final FileChannel channel;
  private final FileLock lock;

  private PidFileLock(Path file, FileChannel channel, FileLock lock) {
    this.file = file;
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Takes the lock on {@code file} (made, with its directory, if missing).
   *
   * @param subject what the lock protects, for the refusal: "SUBJECT is in use by another flatnet
   *     router (pid N): ADVICE"
   * @throws IOException with that message if another process (or another lock in this one) holds
   *     it, or if the file cannot be opened
   */
  public static PidFileLock acquire(Path file, String subject, String advice) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    FileChannel ch =
        FileChannel.open(
            file,
            Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r--r--")));
    FileLock lock;
    try {
      lock = ch.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null; // held by this JVM already
    } catch (IOException e) {
      ch.close();
      throw e;
    }
    if (lock == null) {
      String holder = readHolder(ch);
      ch.close();
      throw new IOException(
          subject
              + " is in use by another flatnet router"
              + (holder.isEmpty() ? "" : " (pid " + holder + ")")
              + ": "
              + advice);
    }
    // Only the holder writes, so a reader never sees a half-written pid from a live holder.
    ch.truncate(0);
    ch.write(
        ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)),
        0);
    ch.force(false);
    return new PidFileLock(file, ch, lock);
  }

  private static String readHolder(FileChannel ch) {
    try {
      ByteBuffer b = ByteBuffer.allocate(32);
      ch.read(b, 0);
      return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).trim();
    } catch (IOException e) {
      return "";
    }
  }

  public Path file() {
    return file;
  }

  /** Releases the lock (the file stays: removing it would race with a new holder). */
  @Override
  public void close() throws IOException {
    try {
      lock.release();
    } finally {
      channel.close();
    }
  }
}
