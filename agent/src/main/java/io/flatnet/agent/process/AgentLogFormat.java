package io.flatnet.agent.process;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The agent's log lines, as its status lines: {@code flatnet agent: INFO applying generation 4:
 * ...}, on standard error. JUL's default format named the calling class and method, which it found
 * by walking the caller's stack for every record: with a log line per pod or route change, that
 * walk and the two-line format were a measurable part of the agent's CPU per change.
 */
public final class AgentLogFormat extends Formatter {

  /** Replaces the root logger's console format with this one (at the agent's start). */
  public static void install() {
    Logger root = Logger.getLogger("");
    for (Handler h : root.getHandlers()) {
      if (h instanceof ConsoleHandler) {
        h.setFormatter(new AgentLogFormat());
      }
    }
  }

  @Override
  public String format(LogRecord record) {
    StringBuilder line =
        new StringBuilder("flatnet agent: ")
            .append(levelName(record.getLevel()))
            .append(' ')
            .append(formatMessage(record))
            .append(System.lineSeparator());
    if (record.getThrown() != null) {
      StringWriter trace = new StringWriter();
      record.getThrown().printStackTrace(new PrintWriter(trace));
      line.append(trace);
    }
    return line.toString();
  }

  /** System.Logger's names for the levels it maps to JUL's. */
  static String levelName(Level level) {
    int v = level.intValue();
    if (v >= Level.SEVERE.intValue()) {
      return "ERROR";
    }
    if (v >= Level.WARNING.intValue()) {
      return "WARN";
    }
    if (v >= Level.INFO.intValue()) {
      return "INFO";
    }
    return v >= Level.FINE.intValue() ? "DEBUG" : "TRACE";
  }
}
