package io.flatnet.dpdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.ByteOrder;
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

  /** {@link Mbuf#lengths} reads pkt_len and data_len in one little-endian load. */
  @Test
  void packetAndDataLengthAreReadTogether() {
    assertEquals(DpdkLayout.MBUF_PKT_LEN + 4, DpdkLayout.MBUF_DATA_LEN, "data_len follows pkt_len");
    assertEquals(ByteOrder.LITTLE_ENDIAN, ByteOrder.nativeOrder());
    try (Arena arena = Arena.ofConfined()) {
      long mbuf = arena.allocate(128, 64).address();
      Mbuf.setPacketLength(mbuf, 70_000);
      Mbuf.setDataLength(mbuf, 1514);
      long lengths = Mbuf.lengths(mbuf);
      assertEquals(70_000, Mbuf.packetLengthOf(lengths));
      assertEquals(1514, Mbuf.dataLengthOf(lengths));
    }
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
