package io.flatnet.dataplane;

import io.flatnet.control.CountersFile;
import io.flatnet.control.PidFileLock;
import java.io.File;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.agrona.IoUtil;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.SystemEpochClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;

/**
 * The dataplane's counters, in a memory-mapped file that an outside tool can read while the router
 * runs (as AeronStat reads Aeron's). The file holds Agrona's counter metadata followed by the
 * values; {@link #openReader(File)} maps it read-only for such a tool.
 */
public final class DataplaneCounters implements AutoCloseable {
  public static final int MAX_COUNTERS = CountersFile.MAX_COUNTERS;

  private static final int VALUES_LENGTH = CountersFile.VALUES_LENGTH;
  private static final int METADATA_LENGTH = CountersFile.METADATA_LENGTH;

  public static final int TYPE_PORT = CountersFile.TYPE_PORT;
  public static final int TYPE_WORKER = CountersFile.TYPE_WORKER;

  /**
   * A freed counter's slot is not handed out again for this long (Aeron's reuse timeout): a worker
   * that still holds the old counter (it publishes at most a few loops late) writes into a dead
   * slot, never into another port's new counter.
   */
  static final long FREE_TO_REUSE_TIMEOUT_MS = 5_000;

  public static final int TYPE_DROP = CountersFile.TYPE_DROP;

  public static final int TYPE_LOOP = CountersFile.TYPE_LOOP;

  private final File file;
  private final PidFileLock lock;
  private final MappedByteBuffer mapped;
  private final CountersManager manager;

  private DataplaneCounters(File file, PidFileLock lock) {
    this.file = file;
    this.lock = lock;
    this.mapped = IoUtil.mapNewFile(file, (long) METADATA_LENGTH + VALUES_LENGTH, true);
    AtomicBuffer metadata = new UnsafeBuffer(mapped, 0, METADATA_LENGTH);
    AtomicBuffer values = new UnsafeBuffer(mapped, METADATA_LENGTH, VALUES_LENGTH);
    this.manager =
        new CountersManager(
            metadata,
            values,
            StandardCharsets.US_ASCII,
            SystemEpochClock.INSTANCE,
            FREE_TO_REUSE_TIMEOUT_MS);
  }

  /**
   * Creates (or replaces) the counters file, holding a lock on {@code FILE.lock} for as long as it
   * is open: a second router on the same run directory is refused, naming the first one's pid, and
   * the first one's counters are left untouched.
   */
  public static DataplaneCounters create(File file) {
    File parent = file.getAbsoluteFile().getParentFile();
    if (parent != null && !parent.isDirectory() && !parent.mkdirs()) {
      throw new IllegalStateException("cannot create counters directory " + parent);
    }
    PidFileLock lock = lock(file);
    try {
      if (file.exists() && !file.delete()) {
        throw new IllegalStateException("cannot replace old counters file " + file);
      }
      return new DataplaneCounters(file, lock);
    } catch (RuntimeException e) {
      closeQuietly(lock);
      throw e;
    }
  }

  private static PidFileLock lock(File counters) {
    try {
      return PidFileLock.acquire(
          Path.of(counters.getPath() + ".lock"),
          counters.toString(),
          "stop it, or give this one another run directory");
    } catch (IOException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  private static void closeQuietly(PidFileLock lock) {
    try {
      lock.close();
    } catch (IOException ignored) {
      // releasing a lock: nothing to save
    }
  }

  /** Maps an existing counters file for reading, from another process. */
  public static CountersReader openReader(File file) {
    return CountersFile.openReader(file);
  }

  public AtomicCounter newCounter(int typeId, String label) {
    return manager.newCounter(label, typeId);
  }

  public CountersReader reader() {
    return manager;
  }

  public File file() {
    return file;
  }

  /** The sum of every counter whose label is exactly {@code label}, over all workers. */
  public long sum(String label) {
    long[] total = {0};
    manager.forEach(
        (counterId, typeId, keyBuffer, counterLabel) -> {
          if (counterLabel.equals(label)) {
            total[0] += manager.getCounterValue(counterId);
          }
        });
    return total[0];
  }

  @Override
  public void close() {
    IoUtil.unmap(mapped);
    closeQuietly(lock);
  }
}
