package io.flatnet.dpdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compiles layout_probe.c with gcc against the installed DPDK headers and checks that every
 * constant in {@link DpdkLayout} equals what the C compiler says.
 */
class LayoutConformanceTest {

  @Test
  void everyJavaLayoutConstantMatchesTheInstalledHeaders(@TempDir Path dir) throws Exception {
    Path source = dir.resolve("layout_probe.c");
    try (InputStream in = getClass().getResourceAsStream("/layout_probe.c")) {
      Files.copy(in, source);
    }
    Path binary = dir.resolve("layout_probe");
    List<String> compile = new ArrayList<>(List.of("gcc", "-o", binary.toString()));
    compile.addAll(List.of(run(dir, "pkg-config", "--cflags", "libdpdk").trim().split("\\s+")));
    compile.add(source.toString());
    run(dir, compile.toArray(String[]::new));

    Map<String, Long> probed = new HashMap<>();
    for (String line : run(dir, binary.toString()).split("\n")) {
      String[] parts = line.trim().split(" ");
      probed.put(parts[0], Long.parseLong(parts[1]));
    }

    List<String> mismatches = new ArrayList<>();
    int checked = 0;
    for (Field field : DpdkLayout.class.getDeclaredFields()) {
      if (!Modifier.isStatic(field.getModifiers())) {
        continue;
      }
      long javaValue = ((Number) field.get(null)).longValue();
      Long cValue = probed.get(field.getName());
      if (cValue == null) {
        mismatches.add(field.getName() + " is not printed by layout_probe.c");
      } else if (cValue != javaValue) {
        mismatches.add(field.getName() + ": Java " + javaValue + ", C headers " + cValue);
      }
      checked++;
    }
    assertEquals(List.of(), mismatches, "DpdkLayout disagrees with the DPDK headers");
    assertEquals(probed.size(), checked, "the probe prints constants that Java does not check");
    assertTrue(checked > 60, "expected the full layout to be checked, got " + checked);
  }

  private static String run(Path dir, String... command) throws IOException, InterruptedException {
    Process process =
        new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(process.waitFor(60, TimeUnit.SECONDS), "timed out: " + String.join(" ", command));
    assertEquals(0, process.exitValue(), String.join(" ", command) + " failed:\n" + output);
    return output;
  }
}
