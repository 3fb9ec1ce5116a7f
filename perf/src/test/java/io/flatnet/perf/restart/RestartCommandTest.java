package io.flatnet.perf.restart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.perf.BenchMain;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * {@code ./flatnet bench restart} is listed, explains itself and refuses an unknown kind before it
 * starts anything. Its figures come from running it (docs/benchmarking.md, "Restart times").
 */
class RestartCommandTest {

  @Test
  void isListedAndExplainsItself() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code =
        BenchMain.run(new PrintWriter(out, true), new PrintWriter(err, true), "restart", "-h");
    assertEquals(0, code, err.toString());
    for (String option : new String[] {"--restarts", "--kinds", "--worker-cpu", "--json"}) {
      assertTrue(out.toString().contains(option), option + " in:\n" + out);
    }
  }

  @Test
  void anUnknownKindIsAUsageError() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code =
        BenchMain.run(
            new PrintWriter(out, true), new PrintWriter(err, true), "restart", "--kinds", "reboot");
    assertEquals(2, code);
    assertTrue(err.toString().contains("--kinds: reboot is not one of"), err.toString());
  }

  @Test
  void theNodeHasTwoClientModePodsOnTheGivenWorker() {
    String yaml = RestartCommand.nodeConfig(Path.of("/tmp/x"), 3);
    assertTrue(yaml.contains("socket: /tmp/x/a.sock\n    mode: client"), yaml);
    assertTrue(yaml.contains("socket: /tmp/x/b.sock\n    mode: client"), yaml);
    assertTrue(yaml.contains("cpus: [3]"), yaml);
  }
}
