package io.flatnet.agent.api;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * One router per run directory: an exclusive flock on {@code <dir>/flatnet.lock}, taken before
 * anything in the directory (agent.sock, counters.dat) is touched and held until the process ends
 * (the kernel drops it when the process dies, so a crash leaves no stale lock). The holder's pid is
 * written into the file so that a refused second instance can name it.
 */
public final class RunDirectoryLock implements AutoCloseable {

  public static final String FILE_NAME = "flatnet.lock";

  private final Path file;
  private final FileChannel channel;
  private final FileLock lock;

  private RunDirectoryLock(Path file, FileChannel channel, FileLock lock) {
    this.file = file;
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Takes the lock of {@code runDir} (created if missing) without waiting.
   *
   * @throws IOException naming the holder's pid if another process (or another lock in this one)
   *     holds it, or if the file cannot be opened
   */
  public static RunDirectoryLock acquire(Path runDir) throws IOException {
    Files.createDirectories(runDir);
    Path file = runDir.resolve(FILE_NAME);
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
          runDir
              + " is in use by another flatnet router"
              + (holder.isEmpty() ? "" : " (pid " + holder + ")")
              + ": one router per run directory; stop it first or use another --dir");
    }
    // Only the holder writes, so a reader never sees a half-written pid from a live holder.
    ch.truncate(0);
    ch.write(
        ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)),
        0);
    ch.force(false);
    return new RunDirectoryLock(file, ch, lock);
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

  /**
   * Whether a process accepts connections on {@code socket}. False for a missing file, a file that
   * is not a socket, and a socket left behind by a process that is gone (connection refused).
   */
  public static boolean isListening(Path socket) {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      // Non-blocking: a live server with a full backlog must not hang the probe (it is pending).
      ch.configureBlocking(false);
      ch.connect(UnixDomainSocketAddress.of(socket));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Removes {@code socket} if nobody listens on it (a previous run's leftover).
   *
   * @throws IOException if a process still serves it: that one is left untouched
   */
  public static void removeStaleSocket(Path socket) throws IOException {
    if (isListening(socket)) {
      throw new IOException(
          "another process is serving " + socket + " (is a second flatnet running?)");
    }
    Files.deleteIfExists(socket);
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
