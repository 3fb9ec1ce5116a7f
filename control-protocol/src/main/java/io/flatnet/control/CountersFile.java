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

  /** Metadata is 512 bytes a counter and values 128: room for 1024 counters. */
  public static final int MAX_COUNTERS = 1024;

  public static final int VALUES_LENGTH = MAX_COUNTERS * CountersReader.COUNTER_LENGTH;
  public static final int METADATA_LENGTH = MAX_COUNTERS * CountersReader.METADATA_LENGTH;

  /** Counter type ids, so a reader can group them. */
  public static final int TYPE_PORT = 1;

  public static final int TYPE_WORKER = 2;
  public static final int TYPE_DROP = 3;

  /** Maps a counters file for reading. */
  public static CountersReader openReader(File file) {
    MappedByteBuffer buffer = IoUtil.mapExistingFile(file, "flatnet counters");
    return new CountersReader(
        new UnsafeBuffer(buffer, 0, METADATA_LENGTH),
        new UnsafeBuffer(buffer, METADATA_LENGTH, VALUES_LENGTH));
  }
}
