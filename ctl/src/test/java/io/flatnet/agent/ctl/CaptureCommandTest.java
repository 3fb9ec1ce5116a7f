package io.flatnet.agent.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.control.CaptureFile;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ctl capture and trace --live on their own: usage, and what they say without a dataplane. */
class CaptureCommandTest {
  @TempDir Path dir;

  record Run(int exit, String out, String err) {}

  static Run ctl(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    var cl = CtlMain.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int exit = cl.execute(args);
    return new Run(exit, out.toString(), err.toString());
  }

  @Test
  void withoutADataplaneItSaysWhereItLooked() {
    Run r = ctl("capture", "-w", dir.resolve("x.pcapng").toString(), "--dir", dir.toString());
    assertEquals(CtlMain.UNAVAILABLE, r.exit(), r.toString());
    assertTrue(r.err().contains("no capture file " + dir.resolve(CaptureFile.FILE)), r.err());
    Run t = ctl("trace", "--live", "--dir", dir.toString());
    assertEquals(CtlMain.UNAVAILABLE, t.exit(), t.toString());
  }

  @Test
  void usage() {
    assertEquals(CtlMain.USAGE, ctl("capture", "--dir", dir.toString()).exit(), "-w is required");
    Run trace = ctl("trace", "--dir", dir.toString());
    assertEquals(CtlMain.USAGE, trace.exit(), trace.toString());
    assertTrue(trace.err().contains("needs SRC and DST (or --live)"), trace.err());
    Run help = ctl("capture", "--help");
    assertEquals(0, help.exit());
    for (String option :
        List.of(
            "--pod",
            "--port",
            "--direction",
            "--drops",
            "--count",
            "--snaplen",
            "--filter",
            "-w")) {
      assertTrue(help.out().contains(option), option + " in\n" + help.out());
    }
    assertTrue(ctl("--help").out().contains("capture"), "listed among the commands");
  }

  @Test
  void describesFrames() {
    byte[] echo = PcapngWriterTest.echo(new int[] {10, 244, 1, 2}, new int[] {10, 244, 2, 3}, 8);
    assertEquals(
        "10.244.1.2 > 10.244.2.3 icmp echo request, 50 bytes",
        LiveCapture.describe(echo, echo.length));
    List<String> labels = new ArrayList<>(List.of("not-ip", "no-route"));
    assertEquals("no-route", LiveCapture.reason(labels, 1));
    assertEquals("reason-7", LiveCapture.reason(labels, 7));
  }
}
