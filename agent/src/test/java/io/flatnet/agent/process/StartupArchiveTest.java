package io.flatnet.agent.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The start-up archive flags {@link NodeProcesses} gives the dataplane's and agent's JVMs. */
class StartupArchiveTest {
  static final List<String> JVM = List.of("-XX:+UseSerialGC");

  @Test
  void jarsAndACacheGetAnArchivePerProcessAndRunDirectory(@TempDir Path tmp) throws Exception {
    Path jar = Files.createFile(tmp.resolve("a.jar"));
    Path cache = Files.createDirectories(tmp.resolve("cache"));
    List<String> one =
        NodeProcesses.withStartupArchive(
            JVM, cache.toString(), "dataplane", jar.toString(), List.of("--dir", "/run/a"));
    List<String> two =
        NodeProcesses.withStartupArchive(
            JVM, cache.toString(), "dataplane", jar.toString(), List.of("--dir", "/run/b"));
    assertEquals(JVM.get(0), one.get(0));
    assertTrue(one.contains("-XX:+AutoCreateSharedArchive"), one.toString());
    String file = archiveOf(one);
    assertTrue(file.startsWith(cache.resolve("dataplane-").toString()), file);
    assertNotEquals(file, archiveOf(two), "two nodes on one machine never share an archive");
    assertTrue(one.containsAll(NodeProcesses.QUIET_ARCHIVE), one.toString());
  }

  @Test
  void noCacheOrAClassesDirectoryMeansNoArchive(@TempDir Path tmp) throws Exception {
    Path jar = Files.createFile(tmp.resolve("a.jar"));
    Path classes = Files.createDirectories(tmp.resolve("classes"));
    assertEquals(
        JVM, NodeProcesses.withStartupArchive(JVM, null, "agent", jar.toString(), List.of()));
    assertEquals(
        JVM,
        NodeProcesses.withStartupArchive(
            JVM, tmp.toString(), "agent", classes + ":" + jar, List.of()));
    assertEquals(
        JVM,
        NodeProcesses.withStartupArchive(
            JVM, tmp.toString(), "agent", tmp.resolve("missing.jar").toString(), List.of()));
  }

  @Test
  void anArchiveOlderThanAJarIsDeletedSoTheJvmWritesItAgain(@TempDir Path tmp) throws Exception {
    Path jar = Files.createFile(tmp.resolve("a.jar"));
    List<String> flags =
        NodeProcesses.withStartupArchive(JVM, tmp.toString(), "agent", jar.toString(), List.of());
    Path archive = Path.of(archiveOf(flags));
    Files.writeString(archive, "archived");
    long now = System.currentTimeMillis(); // the JDK's own modules count too: they are older
    Files.setLastModifiedTime(archive, FileTime.fromMillis(now + 86_400_000L));
    Files.setLastModifiedTime(jar, FileTime.fromMillis(now));
    NodeProcesses.withStartupArchive(JVM, tmp.toString(), "agent", jar.toString(), List.of());
    assertTrue(Files.exists(archive), "kept while the jars are older");
    Files.setLastModifiedTime(jar, FileTime.fromMillis(now + 2 * 86_400_000L));
    NodeProcesses.withStartupArchive(JVM, tmp.toString(), "agent", jar.toString(), List.of());
    assertFalse(Files.exists(archive), "a rebuilt jar: the old archive goes");
  }

  static String archiveOf(List<String> flags) {
    for (String f : flags) {
      if (f.startsWith("-XX:SharedArchiveFile=")) {
        return f.substring("-XX:SharedArchiveFile=".length());
      }
    }
    throw new AssertionError("no archive in " + flags);
  }
}
