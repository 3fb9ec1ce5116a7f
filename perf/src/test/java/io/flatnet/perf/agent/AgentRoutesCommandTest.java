package io.flatnet.perf.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.perf.BenchMain;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/** {@code ./flatnet bench agent-routes} is a benchmark of the launcher, and checks its mode. */
class AgentRoutesCommandTest {

  @Test
  void isListedAndExplainsItself() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code =
        BenchMain.run(new PrintWriter(out, true), new PrintWriter(err, true), "agent-routes", "-h");
    assertEquals(0, code, err.toString());
    String help = out.toString();
    for (String option : new String[] {"--rates", "--mode", "--clients", "--busy-worker"}) {
      assertTrue(help.contains(option), option + " in:\n" + help);
    }
  }

  @Test
  void anUnknownModeIsAUsageError() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code =
        BenchMain.run(
            new PrintWriter(out, true), new PrintWriter(err, true), "agent-routes", "--mode", "x");
    assertEquals(2, code);
    assertTrue(err.toString().contains("--mode is batch, single or agent"), err.toString());
  }
}
