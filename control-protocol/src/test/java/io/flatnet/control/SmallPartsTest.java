package io.flatnet.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Limits, the counters-file layout and the pid-file lock. */
class SmallPartsTest {
  @TempDir Path dir;

  @Test
  void mtuLimits() {
    assertEquals(2030, Limits.MAX_MTU);
    assertNull(Limits.mtuProblem(Limits.MIN_MTU));
    assertNull(Limits.mtuProblem(Limits.DEFAULT_MTU));
    assertNull(Limits.mtuProblem(Limits.MAX_MTU));
    assertTrue(Limits.mtuProblem(Limits.MIN_MTU - 1).startsWith("MTU 67 out of range 68..2030"));
    assertTrue(Limits.mtuProblem(9000).contains("jumbo frames are not supported"));
  }

  @Test
  void countersFileReadsWhatAManagerWrote() throws IOException {
    Path file = dir.resolve(CountersFile.FILE);
    MappedByteBuffer mapped =
        IoUtil.mapNewFile(
            file.toFile(), CountersFile.METADATA_LENGTH + CountersFile.VALUES_LENGTH, true);
    try {
      CountersManager manager =
          new CountersManager(
              new UnsafeBuffer(mapped, 0, CountersFile.METADATA_LENGTH),
              new UnsafeBuffer(mapped, CountersFile.METADATA_LENGTH, CountersFile.VALUES_LENGTH));
      AtomicCounter rx = manager.newCounter("p0 rx", CountersFile.TYPE_PORT);
      rx.set(1234);
      manager.newCounter("worker 0 polls", CountersFile.TYPE_WORKER).set(5);
      CountersReader reader = CountersFile.openReader(file.toFile());
      List<String> seen = new ArrayList<>();
      reader.forEach(
          (id, type, key, label) ->
              seen.add(type + " " + label + " " + reader.getCounterValue(id)));
      assertEquals(List.of("1 p0 rx 1234", "2 worker 0 polls 5"), seen);
      assertEquals(CountersFile.MAX_COUNTERS - 1, reader.maxCounterId());
    } finally {
      IoUtil.unmap(mapped);
    }
  }

  @Test
  void pidFileLockIsExclusiveAndNamesItsHolder() throws IOException {
    Path file = dir.resolve("sub/dataplane.lock");
    try (PidFileLock lock = PidFileLock.acquire(file, "run directory X", "stop it first")) {
      assertEquals(file, lock.file());
      assertEquals(ProcessHandle.current().pid() + "\n", Files.readString(file));
      IOException e =
          assertThrows(
              IOException.class,
              () -> PidFileLock.acquire(file, "run directory X", "stop it first"));
      assertEquals(
          "run directory X is in use by another flatnet router (pid "
              + ProcessHandle.current().pid()
              + "): stop it first",
          e.getMessage());
    }
    PidFileLock.acquire(file, "run directory X", "stop it first").close();
  }
}
