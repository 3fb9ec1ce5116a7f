package io.flatnet.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.control.DataplaneClient;
import io.flatnet.control.PortSpec;
import io.flatnet.control.RouteBatchException;
import io.flatnet.control.RouteChange;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.State;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Route batches through the command channel into a real dataplane process ({@code flatnet
 * dataplane}, its own JVM): a batch larger than a command record lands whole with its generation; a
 * bad change in the middle of the next one is reported with its route, and the dataplane holds and
 * says exactly what it held before; a new client (a restarted agent) reads the same state.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class DataplaneProcessRouteBatchTest {
  @TempDir Path dir;

  private Process start() throws IOException {
    List<String> command = new ArrayList<>();
    command.add(ProcessHandle.current().info().command().orElse("java"));
    try (InputStream in = DataplaneMain.class.getResourceAsStream("/flatnet-dataplane.jvm")) {
      new String(in.readAllBytes(), StandardCharsets.UTF_8)
          .lines()
          .map(String::strip)
          .filter(l -> !l.isEmpty() && !l.startsWith("#"))
          .forEach(command::add);
    }
    command.addAll(
        List.of(
            "-cp",
            System.getProperty("java.class.path"),
            DataplaneMain.class.getName(),
            "--dir",
            dir.toString(),
            "--idle",
            "backoff"));
    return new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve("dataplane.log").toFile())
        .start();
  }

  private static RouteSpec v4(int i) {
    return new RouteSpec(
        "10." + (128 + (i >> 8 & 127)) + "." + (i & 255) + ".0/24", "10.3.0.1", "up", "bgp");
  }

  private static RouteSpec v6(int i) {
    return new RouteSpec("fd00:9:" + Integer.toHexString(i) + "::/48", "fd00:3::1", "up", "bgp");
  }

  @Test
  void routeBatchesLandWholeOrNotAtAllInADataplaneProcess() throws Exception {
    Process dataplane = start();
    try (DataplaneClient client =
        DataplaneClient.connect(dir, Duration.ofSeconds(60), Duration.ofSeconds(60))) {
      client.addPort(
          new PortSpec(
              "up", "net_null0,no-rx=1", "uplink", List.of("10.3.0.2/24", "fd00:3::2/64"), 1500));
      client.commit(1);

      List<RouteChange> adds = new ArrayList<>();
      for (int i = 0; i < 18_000; i++) {
        adds.add(RouteChange.add(v4(i)));
      }
      for (int i = 0; i < 2_000; i++) {
        adds.add(RouteChange.add(v6(i)));
      }
      client.applyRoutes(adds, 2); // about 1 MB: several command records
      State held = client.installed();
      assertEquals(2, held.generation());
      assertEquals(2, client.committedGeneration());
      assertEquals(20_000, held.routes().size());
      String shown = client.query(io.flatnet.control.QueryNames.SHOW_ROUTES, java.util.Map.of());
      assertTrue(shown.contains(v4(17_999).prefix()), "ctl show routes has the last IPv4 route");
      assertTrue(shown.contains(v6(1_999).prefix()), "and the last IPv6 one");

      List<RouteChange> mixed = new ArrayList<>();
      for (int i = 0; i < 5_000; i++) {
        mixed.add(RouteChange.remove(v4(i)));
      }
      mixed.add(RouteChange.replace(v6(0), new RouteSpec(v6(0).prefix(), "fd00:3::9", "up")));
      RouteSpec bad = new RouteSpec("10.99.0.0/16", "10.3.0.1", "nope");
      mixed.add(RouteChange.add(bad));
      for (int i = 18_000; i < 19_000; i++) {
        mixed.add(RouteChange.add(v4(i)));
      }
      RouteBatchException e =
          assertThrows(RouteBatchException.class, () -> client.applyRoutes(mixed, 3));
      assertEquals(5_001, e.index());
      assertTrue(e.refused());
      assertTrue(e.getMessage().contains("10.99.0.0/16"), e.getMessage());
      assertTrue(e.getMessage().contains("no port nope"), e.getMessage());
      assertEquals(held, client.installed(), "nothing of the failed batch");
      assertEquals(2, client.committedGeneration());

      mixed.remove(5_001);
      client.applyRoutes(mixed, 3);
      State after = client.installed();
      assertEquals(3, after.generation());
      assertEquals(20_000 - 5_000 + 1_000, after.routes().size());
      assertEquals("fd00:3::9", after.routes().get(v6(0).prefix()).via());

      // A restarted agent reads what the dataplane holds: the same state, nothing to re-add.
      try (DataplaneClient again =
          DataplaneClient.connect(dir, Duration.ofSeconds(10), Duration.ofSeconds(60))) {
        assertEquals(after, again.installed());
        assertEquals(3, again.committedGeneration());
      }
    } catch (AssertionError | RuntimeException e) {
      throw new AssertionError(
          e.getMessage() + "\ndataplane log:\n" + Files.readString(dir.resolve("dataplane.log")),
          e);
    } finally {
      dataplane.destroy();
      if (!dataplane.waitFor(20, TimeUnit.SECONDS)) {
        dataplane.destroyForcibly();
      }
    }
  }
}
