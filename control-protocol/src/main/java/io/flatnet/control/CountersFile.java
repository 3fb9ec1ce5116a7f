package io.flatnet.control;

import java.io.File;
import java.nio.MappedByteBuffer;
import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersReader;

/**
 * The layout of the dataplane's counters file ({@code counters.dat}): Agrona's counter metadata
 * followed by the values, as AeronStat reads Aeron's. The dataplane writes it; the agent's metrics,
 * {@code ctl counters} and any outside tool map it read-only with {@link #openReader}.
 */
public final class CountersFile {
  private CountersFile() {}

  public static final String FILE = "counters.dat";

  /** Metadata is 512 bytes a counter and values 128: room for 8192 counters (5 MiB). */
  public static final int MAX_COUNTERS = 8192;

  public static final int VALUES_LENGTH = MAX_COUNTERS * CountersReader.COUNTER_LENGTH;
  public static final int METADATA_LENGTH = MAX_COUNTERS * CountersReader.METADATA_LENGTH;

  /** Counter type ids, so a reader can group them. */
  public static final int TYPE_PORT = 1;

  public static final int TYPE_WORKER = 2;
  public static final int TYPE_DROP = 3;

  /** A worker's loop timing: loops, the longest loop, the loop-time histogram. */
  public static final int TYPE_LOOP = 4;

  /** A worker's loop counters, after its {@code worker N } prefix: loops timed. */
  public static final String LOOPS = "loops";

  /** The worker's longest loop since it started, in nanoseconds. */
  public static final String LONGEST_LOOP = "longest-loop-ns";

  /** When that longest loop ended, in epoch milliseconds. */
  public static final String LONGEST_LOOP_AT = "longest-loop-at-epoch-ms";

  /** Buckets of a worker's loop-time histogram: below 1 µs, then one per power of two. */
  public static final int LOOP_BUCKETS = 16;

  /** The first bucket of loops of 1024 µs or more: stalls a 1024-slot ring fills at 1 Mpps. */
  public static final int FIRST_MILLISECOND_BUCKET = 11;

  /**
   * Label (without the {@code worker N} prefix) of loop-time bucket {@code b}: {@code loops taking
   * <1us}, {@code loops taking 1-2us}, ... {@code loops taking 8192-16384us}, {@code loops taking
   * >=16384us}.
   */
  public static String loopBucketLabel(int b) {
    if (b == 0) {
      return "loops taking <1us";
    }
    if (b == LOOP_BUCKETS - 1) {
      return "loops taking >=" + (1 << (b - 1)) + "us";
    }
    return "loops taking " + (1 << (b - 1)) + "-" + (1 << b) + "us";
  }

  /** Maps a counters file for reading. */
  public static CountersReader openReader(File file) {
    MappedByteBuffer buffer = IoUtil.mapExistingFile(file, "flatnet counters");
    return new CountersReader(
        new UnsafeBuffer(buffer, 0, METADATA_LENGTH),
        new UnsafeBuffer(buffer, METADATA_LENGTH, VALUES_LENGTH));
  }
}
