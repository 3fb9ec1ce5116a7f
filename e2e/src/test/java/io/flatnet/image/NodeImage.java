package io.flatnet.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The node image for the tests: built once per test JVM by {@code image/build-image.sh} (what
 * {@code ./flatnet image} runs) into {@code target/image} of the checkout, whose root filesystem
 * cache makes later builds in the same checkout cost only the /opt/flatnet layer; loaded once into
 * podman. Nothing is skipped: without network (mmdebstrap), podman or root, the tests fail and say
 * which.
 *
 * <p>podman here: {@code --runtime runc --cgroup-manager cgroupfs} (cgroups v1) and fixed rlimits
 * (CAP_SYS_RESOURCE is dropped, podman's defaults are refused); {@code --network none}.
 */
final class NodeImage {
  private NodeImage() {}

  /** The checkout: the tests run in e2e/. */
  static final Path REPO = Path.of("").toAbsolutePath().getParent();

  static final List<String> PODMAN =
      List.of("podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs");

  static final List<String> RUN_OPTIONS =
      List.of("--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024");

  /** What build-image.sh wrote to OUT/flatnet-image.env; {@code name} as the manifests write it. */
  record Built(Path archive, String name, String manifest, String config, List<String> layers) {
    /** The name podman gives it (docker.io/ is the default registry). */
    String podmanName() {
      return "docker.io/" + name;
    }
  }

  record Result(int exit, String output) {
    boolean ok() {
      return exit == 0;
    }
  }

  private static Built built;
  private static boolean loaded;

  /** The image of this checkout, built on first use; the build's log is target/image-build.log. */
  static synchronized Built build() throws IOException, InterruptedException {
    if (built == null) {
      built = build(REPO.resolve("target/image"), "image-build.log");
    }
    return built;
  }

  /** Runs build-image.sh --out OUT; fails with the end of its log if it fails. */
  static Built build(Path out, String logName) throws IOException, InterruptedException {
    assertTrue(
        "0".equals(run(List.of("id", "-u"), null, 10).output().strip()),
        "building the image needs root (mmdebstrap's root mode)");
    assertTrue(
        run(List.of("sh", "-c", "command -v mmdebstrap"), null, 10).ok(),
        "mmdebstrap is missing: apt-get install -y mmdebstrap (./flatnet test installs it)");
    Path log = REPO.resolve("target").resolve(logName);
    Files.createDirectories(log.getParent());
    ProcessBuilder pb =
        new ProcessBuilder(REPO.resolve("image/build-image.sh").toString(), "--out", out.toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    // The JDK running the tests is a JDK 25 with jlink and jdeps.
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    Process p = pb.start();
    p.getOutputStream().close();
    if (!p.waitFor(10, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      fail("image/build-image.sh took over 10 minutes; log: " + log);
    }
    String text = Files.readString(log);
    if (p.exitValue() != 0) {
      fail(
          "image/build-image.sh failed (exit "
              + p.exitValue()
              + (p.exitValue() == 6 ? ": Debian's mirror not reachable" : "")
              + "), log "
              + log
              + ":\n"
              + tail(text, 30));
    }
    Map<String, String> env = new LinkedHashMap<>();
    for (String line : Files.readAllLines(out.resolve("flatnet-image.env"))) {
      int eq = line.indexOf('=');
      if (eq > 0) {
        env.put(line.substring(0, eq), line.substring(eq + 1).replace("\"", ""));
      }
    }
    return new Built(
        Path.of(env.get("FLATNET_IMAGE_ARCHIVE")),
        env.get("FLATNET_IMAGE_NAME"),
        env.get("FLATNET_IMAGE_MANIFEST"),
        env.get("FLATNET_IMAGE_CONFIG"),
        Arrays.asList(env.get("FLATNET_IMAGE_LAYERS").split(" ")));
  }

  /** The image, built and loaded into podman (once). */
  static synchronized Built loaded() throws IOException, InterruptedException {
    Built image = build();
    if (!loaded) {
      assertTrue(
          run(List.of("sh", "-c", "command -v podman && command -v runc"), null, 10).ok(),
          "podman or runc is missing: apt-get install -y podman runc (./flatnet test installs them)");
      Result load = podman(List.of("load", "-i", image.archive().toString()), null, 300);
      assertEquals(0, load.exit(), "podman load -i " + image.archive() + ":\n" + load.output());
      assertTrue(
          load.output().contains("Loaded image: " + image.podmanName()),
          "podman load names the image " + image.podmanName() + ":\n" + load.output());
      loaded = true;
    }
    return image;
  }

  /** podman ARGS (with this machine's runtime options), stdin from {@code input} if not null. */
  static Result podman(List<String> args, String input, int timeoutSeconds)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(PODMAN);
    command.addAll(args);
    return run(command, input, timeoutSeconds);
  }

  /** {@code podman run --rm} of the loaded image: OPTIONS, then COMMAND (argv, no shell). */
  static Result inImage(List<String> options, String input, String... command)
      throws IOException, InterruptedException {
    Built image = loaded();
    List<String> args = new ArrayList<>(List.of("run", "--rm"));
    if (input != null) {
      args.add("-i");
    }
    args.addAll(RUN_OPTIONS);
    args.addAll(options);
    args.add(image.podmanName());
    args.addAll(List.of(command));
    return podman(args, input, 120);
  }

  /** A shell script in the image ({@code sh -c}). */
  static Result shInImage(String script) throws IOException, InterruptedException {
    return inImage(List.of(), null, "sh", "-c", script);
  }

  static Result run(List<String> command, String input, int timeoutSeconds)
      throws IOException, InterruptedException {
    Path out = Files.createTempFile("flatnet-image-test", ".out");
    try {
      Process p =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(out.toFile())
              .start();
      try (OutputStream stdin = p.getOutputStream()) {
        if (input != null) {
          stdin.write(input.getBytes(StandardCharsets.UTF_8));
        }
      }
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return new Result(
            -1,
            "timed out after " + timeoutSeconds + " s: " + command + "\n" + Files.readString(out));
      }
      return new Result(p.exitValue(), Files.readString(out));
    } finally {
      Files.deleteIfExists(out);
    }
  }

  static String tail(String text, int lines) {
    List<String> all = text.lines().toList();
    return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
  }

  /** The "Full example" YAML of docs/config.md, cut out as the config module's TestConfigs does. */
  static String docsExampleConfig() throws IOException {
    String md = Files.readString(REPO.resolve("docs/config.md"));
    int section = md.indexOf("## Full example");
    int start = md.indexOf("```yaml\n", section) + "```yaml\n".length();
    int end = md.indexOf("```", start);
    assertTrue(section >= 0 && end > start, "docs/config.md has a ## Full example ```yaml block");
    return md.substring(start, end);
  }
}
