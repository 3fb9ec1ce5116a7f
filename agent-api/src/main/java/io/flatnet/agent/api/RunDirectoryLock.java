package io.flatnet.agent.api;

import io.flatnet.control.PidFileLock;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One router per run directory: an exclusive flock on {@code <dir>/flatnet.lock}, taken before
 * anything in the directory (agent.sock, counters.dat) is touched and held until the process ends
 * (the kernel drops it when the process dies, so a crash leaves no stale lock). The holder's pid is
 * written into the file so that a refused second instance can name it.
 */
public final class RunDirectoryLock implements AutoCloseable {

  public static final String FILE_NAME = "flatnet.lock";

  private final PidFileLock lock;

  private RunDirectoryLock(PidFileLock lock) {
    this.lock = lock;
  }

  /**
   * Takes the lock of {@code runDir} (created if missing) without waiting.
   *
   * @throws IOException naming the holder's pid if another process (or another lock in this one)
   *     holds it, or if the file cannot be opened
   */
  public static RunDirectoryLock acquire(Path runDir) throws IOException {
    return new RunDirectoryLock(
        PidFileLock.acquire(
            runDir.resolve(FILE_NAME),
            runDir.toString(),
            "one agent per run directory; stop it first or use another --dir"));
  }

  public Path file() {
    return lock.file();
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
    lock.close();
  }
}
