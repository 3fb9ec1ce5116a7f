package io.flatnet.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CommandChannelTest {
  @TempDir Path dir;

  private Path file() {
    return dir.resolve(CommandChannel.FILE);
  }

  private static void assertNames(IOException e, Path file) {
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
  }

  @Test
  void openWithoutAFileNamesIt() {
    IOException e = assertThrows(IOException.class, () -> CommandChannel.open(dir));
    assertNames(e, file());
    assertTrue(e.getMessage().contains("is the dataplane running?"), e.getMessage());
  }

  @Test
  void openADirectoryNamedCncDatNamesIt() throws IOException {
    Files.createDirectory(file());
    assertNames(assertThrows(IOException.class, () -> CommandChannel.open(dir)), file());
  }

  @Test
  void openAFileOfTheWrongSizeNamesIt() throws IOException {
    Files.write(file(), new byte[4096]);
    IOException e = assertThrows(IOException.class, () -> CommandChannel.open(dir));
    assertNames(e, file());
    assertTrue(e.getMessage().contains("is 4096 bytes"), e.getMessage());
    Files.write(file(), new byte[0]);
    assertNames(assertThrows(IOException.class, () -> CommandChannel.open(dir)), file());
  }

  @Test
  void openAFileWithTheWrongMagicNamesIt() throws IOException {
    CommandChannel.create(dir).close();
    try (RandomAccessFile f = new RandomAccessFile(file().toFile(), "rw")) {
      f.seek(0);
      f.writeInt(0x12345678);
    }
    IOException e = assertThrows(IOException.class, () -> CommandChannel.open(dir));
    assertNames(e, file());
    assertTrue(e.getMessage().contains("not a flatnet command channel"), e.getMessage());
  }

  @Test
  void openAFileOfAnotherVersionSaysWhich() throws IOException {
    CommandChannel.create(dir).close();
    try (RandomAccessFile f = new RandomAccessFile(file().toFile(), "rw")) {
      f.seek(4);
      f.write(new byte[] {7, 0, 0, 0}); // little-endian, as Agrona writes
    }
    IOException e = assertThrows(IOException.class, () -> CommandChannel.open(dir));
    assertNames(e, file());
    assertTrue(e.getMessage().contains("(version 7)"), e.getMessage());
  }

  @Test
  void bothSidesShareTheHeaderAndTheRings() throws IOException {
    try (CommandChannel made = CommandChannel.create(dir);
        CommandChannel opened = CommandChannel.open(dir)) {
      assertEquals(file(), made.file());
      assertFalse(Files.exists(dir.resolve(CommandChannel.FILE + ".new")));
      assertEquals(ProcessHandle.current().pid(), opened.dataplanePid());
      assertEquals(made.incarnation(), opened.incarnation());
      long now = System.currentTimeMillis();
      assertTrue(Math.abs(now - opened.lastHeartbeat()) < 10_000);
      made.heartbeat(now + 5);
      assertEquals(now + 5, opened.lastHeartbeat());
      assertTrue(opened.dataplaneAlive(now));

      UnsafeBuffer b = new UnsafeBuffer(new byte[8]);
      b.putLong(0, 77);
      assertTrue(opened.toDataplane().write(Records.HELLO, b, 0, 8));
      long[] seen = new long[1];
      assertEquals(1, made.toDataplane().read((t, buf, i, l) -> seen[0] = buf.getLong(i)));
      assertEquals(77, seen[0]);
      assertTrue(made.toAgent().write(Records.RESPONSE, b, 0, 8));
      assertEquals(1, opened.toAgent().read((t, buf, i, l) -> {}));
      assertEquals(CommandChannel.RING_CAPACITY, made.toAgent().capacity());
    }
  }

  @Test
  void aStaleHeartbeatOrAReplacedFileIsNotAlive() throws IOException {
    try (CommandChannel first = CommandChannel.create(dir);
        CommandChannel opened = CommandChannel.open(dir)) {
      long now = System.currentTimeMillis();
      first.heartbeat(now - CommandChannel.STALE_MILLIS - 1);
      assertFalse(opened.dataplaneAlive(now));
      first.heartbeat(now);
      assertTrue(opened.dataplaneAlive(now));
      try (CommandChannel second = CommandChannel.create(dir)) {
        assertNotEquals(first.incarnation(), second.incarnation());
        assertFalse(opened.dataplaneAlive(now), "its file was replaced");
        assertFalse(first.dataplaneAlive(now));
        assertTrue(second.dataplaneAlive(System.currentTimeMillis()));
      }
      Files.delete(file());
      assertFalse(opened.dataplaneAlive(now), "its file was removed");
    }
  }
}
