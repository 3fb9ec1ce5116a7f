package io.flatnet.perf.fib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
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
 * Compiles a C probe with gcc against the installed DPDK headers and checks that every constant in
 * {@link FibLayout} equals what the C compiler says (as dpdk-bindings' LayoutConformanceTest does
 * for DpdkLayout). The widths of the fields the wrappers write are checked by static assertions in
 * the probe itself: a mismatch fails its compilation.
 */
class FibLayoutConformanceTest {

  private static final String PROBE =
      """
      #include <stddef.h>
      #include <stdio.h>
      #include <rte_config.h>
      #include <rte_fib.h>
      #include <rte_fib6.h>
      #include <rte_malloc.h>

      #define P(name, value) printf("%s %lld\\n", name, (long long)(value))
      #define OFF(name, type, member) P(name, offsetof(type, member))
      #define WIDTH(type, member, n) \\
        _Static_assert(sizeof(((type *)0)->member) == n, #type "." #member " is not " #n " bytes")

      /* The Java wrappers write these fields as JAVA_INT (4) or JAVA_LONG (8). */
      WIDTH(struct rte_fib_conf, type, 4);
      WIDTH(struct rte_fib_conf, default_nh, 8);
      WIDTH(struct rte_fib_conf, max_routes, 4);
      WIDTH(struct rte_fib_conf, rib_ext_sz, 4);
      WIDTH(struct rte_fib_conf, dir24_8.nh_sz, 4);
      WIDTH(struct rte_fib_conf, dir24_8.num_tbl8, 4);
      WIDTH(struct rte_fib6_conf, type, 4);
      WIDTH(struct rte_fib6_conf, default_nh, 8);
      WIDTH(struct rte_fib6_conf, max_routes, 4);
      WIDTH(struct rte_fib6_conf, rib_ext_sz, 4);
      WIDTH(struct rte_fib6_conf, trie.nh_sz, 4);
      WIDTH(struct rte_fib6_conf, trie.num_tbl8, 4);
      WIDTH(struct rte_malloc_socket_stats, heap_allocsz_bytes, 8);

      int main(void) {
        P("FIB_CONF_SIZE", sizeof(struct rte_fib_conf));
        OFF("FIB_CONF_TYPE", struct rte_fib_conf, type);
        OFF("FIB_CONF_DEFAULT_NH", struct rte_fib_conf, default_nh);
        OFF("FIB_CONF_MAX_ROUTES", struct rte_fib_conf, max_routes);
        OFF("FIB_CONF_RIB_EXT_SZ", struct rte_fib_conf, rib_ext_sz);
        OFF("FIB_CONF_DIR24_8_NH_SZ", struct rte_fib_conf, dir24_8.nh_sz);
        OFF("FIB_CONF_DIR24_8_NUM_TBL8", struct rte_fib_conf, dir24_8.num_tbl8);
        P("FIB_DIR24_8", RTE_FIB_DIR24_8);
        P("FIB_DIR24_8_4B", RTE_FIB_DIR24_8_4B);
        P("FIB_LOOKUP_DIR24_8_VECTOR_AVX512", RTE_FIB_LOOKUP_DIR24_8_VECTOR_AVX512);

        P("FIB6_CONF_SIZE", sizeof(struct rte_fib6_conf));
        OFF("FIB6_CONF_TYPE", struct rte_fib6_conf, type);
        OFF("FIB6_CONF_DEFAULT_NH", struct rte_fib6_conf, default_nh);
        OFF("FIB6_CONF_MAX_ROUTES", struct rte_fib6_conf, max_routes);
        OFF("FIB6_CONF_RIB_EXT_SZ", struct rte_fib6_conf, rib_ext_sz);
        OFF("FIB6_CONF_TRIE_NH_SZ", struct rte_fib6_conf, trie.nh_sz);
        OFF("FIB6_CONF_TRIE_NUM_TBL8", struct rte_fib6_conf, trie.num_tbl8);
        P("FIB6_TRIE", RTE_FIB6_TRIE);
        P("FIB6_TRIE_4B", RTE_FIB6_TRIE_4B);
        P("FIB6_LOOKUP_TRIE_VECTOR_AVX512", RTE_FIB6_LOOKUP_TRIE_VECTOR_AVX512);
        P("FIB6_IPV6_ADDR_SIZE", RTE_FIB6_IPV6_ADDR_SIZE);

        P("MALLOC_STATS_SIZE", sizeof(struct rte_malloc_socket_stats));
        OFF("MALLOC_STATS_HEAP_ALLOCSZ_BYTES", struct rte_malloc_socket_stats, heap_allocsz_bytes);
        return 0;
      }
      """;

  @Test
  void everyFibLayoutConstantMatchesTheInstalledHeaders(@TempDir Path dir) throws Exception {
    Path source = dir.resolve("fib_layout_probe.c");
    Files.writeString(source, PROBE);
    Path binary = dir.resolve("fib_layout_probe");
    List<String> compile =
        new ArrayList<>(List.of("gcc", "-Wall", "-Werror", "-o", binary.toString()));
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
    for (Field field : FibLayout.class.getDeclaredFields()) {
      if (!Modifier.isStatic(field.getModifiers())) {
        continue;
      }
      long javaValue = ((Number) field.get(null)).longValue();
      Long cValue = probed.get(field.getName());
      if (cValue == null) {
        mismatches.add(field.getName() + " is not printed by the probe");
      } else if (cValue != javaValue) {
        mismatches.add(field.getName() + ": Java " + javaValue + ", C headers " + cValue);
      }
      checked++;
    }
    assertEquals(List.of(), mismatches, "FibLayout disagrees with the DPDK headers");
    assertEquals(probed.size(), checked, "the probe prints constants that Java does not check");
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
