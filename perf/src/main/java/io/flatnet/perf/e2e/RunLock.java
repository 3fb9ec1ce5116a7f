package io.flatnet.perf.e2e;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An exclusive lock on a file, so that only one bench e2e runs on a machine at a time (the OS drops
 * it when the process dies, however it dies).
 */
public final class RunLock implements AutoCloseable {
  private final FileChannel channel;
  private final FileLock lock;

  private RunLock(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  /** Takes the lock, waiting up to {@code waitSeconds}; null if it stayed taken. */
  public static RunLock acquire(Path file, int waitSeconds, PrintStream log)
      throws IOException, InterruptedException {
    FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    long deadline = System.nanoTime() + waitSeconds * 1_000_000_000L;
    boolean told = false;
    while (true) {
      FileLock l;
      try {
        l = ch.tryLock();
      } catch (OverlappingFileLockException e) {
        l = null;
      }
      if (l != null) {
        return new RunLock(ch, l);
      }
      if (System.nanoTime() > deadline) {
        ch.close();
        return null;
      }
      if (!told) {
        log.println(
            "flatnet bench e2e: another bench e2e is running (lock " + file + "); waiting ...");
        told = true;
      }
      Thread.sleep(1000);
    }
  }

  @Override
  public void close() throws IOException {
    try {
      lock.release();
    } finally {
      channel.close();
    }
  }
}
