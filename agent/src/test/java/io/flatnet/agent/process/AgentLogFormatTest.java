package io.flatnet.agent.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;

class AgentLogFormatTest {
  private final AgentLogFormat format = new AgentLogFormat();

  @Test
  void aRecordIsOneLineLikeTheAgentsStatusLines() {
    LogRecord r = new LogRecord(Level.INFO, "applying generation {0}: {1} operations");
    r.setParameters(new Object[] {4, 2});
    assertEquals(
        "flatnet agent: INFO applying generation 4: 2 operations" + System.lineSeparator(),
        format.format(r));
  }

  @Test
  void levelsAreSystemLoggersNamesAndAThrowableFollows() {
    assertEquals("ERROR", AgentLogFormat.levelName(Level.SEVERE));
    assertEquals("WARN", AgentLogFormat.levelName(Level.WARNING));
    assertEquals("INFO", AgentLogFormat.levelName(Level.INFO));
    assertEquals("DEBUG", AgentLogFormat.levelName(Level.FINE));
    assertEquals("TRACE", AgentLogFormat.levelName(Level.FINER));
    LogRecord r = new LogRecord(Level.SEVERE, "apply failed");
    r.setThrown(new IllegalStateException("dataplane gone"));
    String text = format.format(r);
    assertTrue(text.startsWith("flatnet agent: ERROR apply failed"), text);
    assertTrue(text.contains("java.lang.IllegalStateException: dataplane gone"), text);
  }
}
