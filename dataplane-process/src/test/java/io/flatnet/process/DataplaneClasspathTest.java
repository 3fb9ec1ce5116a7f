package io.flatnet.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The dataplane process holds nothing that allocates at run time: the issue that split flatnet into
 * an agent and a dataplane process requires the dataplane to carry no JSON, YAML, HTTP or
 * Kubernetes library (those, with their garbage and their threads, live in the agent; the dataplane
 * talks to it only over the shared-memory command channel and answers queries with {@code
 * JsonText}). So its runtime classpath has no Jackson, fabric8, SnakeYAML or HTTP server jar, and
 * none of the dataplane's own classes import those libraries.
 *
 * <p>Checked on this test JVM's {@code java.class.path} (surefire runs it with the module's
 * classpath, not a manifest-only jar), on {@code target/classpath.txt} (the launcher's runtime
 * classpath, written at {@code package}) if it exists, and on the sources of every module on that
 * classpath.
 */
class DataplaneClasspathTest {
  /** Jar-name fragments of libraries the dataplane must not carry. */
  private static final List<String> FORBIDDEN_JARS =
      List.of(
          "jackson",
          "fabric8",
          "snakeyaml",
          "yaml",
          "kubernetes",
          "okhttp",
          "netty",
          "jetty",
          "undertow",
          "tomcat",
          "grizzly",
          "vertx",
          "jersey",
          "javalin",
          "nanohttpd",
          "helidon",
          "httpcore",
          "httpclient");

  /** Imports of those libraries (and of the JDK's HTTP server). */
  private static final List<String> FORBIDDEN_IMPORTS =
      List.of("com.fasterxml", "io.fabric8", "org.yaml", "com.sun.net.httpserver");

  /** The sources of the dataplane process and the modules its classpath holds. */
  private static final List<Path> SOURCES =
      List.of(
          Path.of("src/main"),
          Path.of("../dataplane/src/main"),
          Path.of("../vhost-user/src/main"),
          Path.of("../control-protocol/src/main"),
          Path.of("../route-table/src/main"),
          Path.of("../dpdk-bindings/src/main"));

  private static List<String> forbiddenEntries(List<String> entries) {
    List<String> bad = new ArrayList<>();
    for (String entry : entries) {
      String name = checkedName(entry).toLowerCase(Locale.ROOT);
      FORBIDDEN_JARS.stream()
          .filter(name::contains)
          .findFirst()
          .ifPresent(f -> bad.add(entry + " (" + f + ")"));
    }
    return bad;
  }

  /** A jar's file name (where the parent directories are the user's, not the library's). */
  private static String checkedName(String entry) {
    Path p = Path.of(entry);
    return entry.endsWith(".jar") && p.getFileName() != null ? p.getFileName().toString() : entry;
  }

  private static List<String> split(String classpath) {
    return Arrays.stream(classpath.trim().split(File.pathSeparator))
        .filter(s -> !s.isBlank())
        .toList();
  }

  @Test
  void theTestJvmClasspathHasNoJsonYamlHttpOrKubernetesLibrary() {
    List<String> entries = split(System.getProperty("java.class.path"));
    assertTrue(
        entries.stream().anyMatch(e -> e.contains("agrona")),
        "the classpath is the module's (it has Agrona): " + entries);
    assertTrue(
        entries.stream().anyMatch(e -> e.contains("control-protocol")),
        "the classpath holds the control protocol: " + entries);
    assertEquals(List.of(), forbiddenEntries(entries));
  }

  @Test
  void theLauncherClasspathHasNoJsonYamlHttpOrKubernetesLibrary() throws IOException {
    Path file = Path.of("target/classpath.txt");
    if (!Files.exists(file)) {
      return; // written at package; the JVM classpath above is checked in any case
    }
    List<String> entries = split(Files.readString(file));
    assertFalse(entries.isEmpty(), file + " is empty");
    assertEquals(List.of(), forbiddenEntries(entries), "in " + file.toAbsolutePath());
  }

  @Test
  void noSuchClassLoads() {
    for (String name :
        List.of(
            "com.fasterxml.jackson.databind.ObjectMapper",
            "com.fasterxml.jackson.core.JsonFactory",
            "io.fabric8.kubernetes.client.KubernetesClient",
            "org.yaml.snakeyaml.Yaml",
            "io.netty.channel.Channel",
            "org.eclipse.jetty.server.Server",
            "io.undertow.Undertow")) {
      assertThrows(
          ClassNotFoundException.class,
          () -> Class.forName(name, false, DataplaneClasspathTest.class.getClassLoader()),
          name + " is on the dataplane's classpath");
    }
  }

  @Test
  void noDataplaneSourceImportsThem() throws IOException {
    List<String> bad = new ArrayList<>();
    int scanned = 0;
    for (Path root : SOURCES) {
      assertTrue(Files.isDirectory(root), root.toAbsolutePath() + " is missing");
      List<Path> files;
      try (Stream<Path> walk = Files.walk(root)) {
        files = walk.filter(p -> p.toString().endsWith(".java")).toList();
      }
      for (Path f : files) {
        scanned++;
        try (Stream<String> lines = Files.lines(f)) {
          lines
              .map(String::strip)
              .filter(l -> l.startsWith("import "))
              .filter(l -> FORBIDDEN_IMPORTS.stream().anyMatch(l::contains))
              .forEach(l -> bad.add(f + ": " + l));
        } catch (UncheckedIOException e) {
          throw e.getCause();
        }
      }
    }
    assertTrue(scanned > 20, "scanned only " + scanned + " source files");
    assertEquals(List.of(), bad);
  }

  @Test
  void theCheckWouldCatchThem() {
    assertEquals(
        2,
        forbiddenEntries(
                List.of(
                    "/home/u/.m2/repository/com/fasterxml/jackson/core/jackson-databind/2.19.2/jackson-databind-2.19.2.jar",
                    "/x/snakeyaml-2.4.jar",
                    "/work/main/control-protocol/target/classes",
                    "/x/agrona-2.2.4.jar"))
            .size());
  }
}
