package io.flatnet.agent.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code ctl bgp} with a stand-in vtysh that prints its arguments. */
class BgpCommandTest {
  @TempDir Path tmp;

  private record Run(int code, String out, String err) {}

  private Run ctl(String... args) {
    CommandLine c = CtlMain.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    c.setOut(new PrintWriter(out));
    c.setErr(new PrintWriter(err));
    int code = c.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  private Path fakeVtysh(int exit) throws Exception {
    Path script = tmp.resolve("vtysh" + exit);
    Files.writeString(script, "#!/bin/sh\necho \"args: $*\"\nexit " + exit + "\n");
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    return script;
  }

  @Test
  void argv() {
    assertEquals(
        List.of("vtysh", "--vty_socket", "/run/f/frr", "-c", "show bgp summary"),
        BgpCommand.argv("vtysh", Path.of("/run/f/frr"), List.of()));
    assertEquals(
        List.of("vtysh", "--vty_socket", "/x", "-c", "show ip route bgp"),
        BgpCommand.argv("vtysh", Path.of("/x"), List.of("show", "ip", "route", "bgp")));
  }

  @Test
  void runsVtyshOnTheRunDirectorysFrrLink() throws Exception {
    Path frr = Files.createDirectories(tmp.resolve("var/frr"));
    Path run = Files.createDirectories(tmp.resolve("run"));
    Files.createSymbolicLink(run.resolve("frr"), frr);
    Run r = ctl("bgp", "--dir", run.toString(), "--vtysh", fakeVtysh(0).toString());
    assertEquals(0, r.code(), r.err());
    assertEquals("args: --vty_socket " + run.resolve("frr") + " -c show bgp summary\n", r.out());
    r =
        ctl(
            "bgp",
            "--frr-dir",
            frr.toString(),
            "--vtysh",
            fakeVtysh(0).toString(),
            "show",
            "bgp",
            "neighbors");
    assertEquals("args: --vty_socket " + frr + " -c show bgp neighbors\n", r.out());
    r = ctl("bgp", "--frr-dir", frr.toString(), "--vtysh", fakeVtysh(1).toString());
    assertEquals(1, r.code());
    assertTrue(r.err().contains("vtysh exited 1"), r.err());
  }

  @Test
  void noFrrOrNoVtysh() throws Exception {
    Run r = ctl("bgp", "--dir", tmp.toString());
    assertEquals(3, r.code());
    assertTrue(
        r.err().startsWith("flatnet ctl bgp: no FRR run directory at " + tmp.resolve("frr") + ": "),
        r.err());
    r = ctl("bgp", "--frr-dir", tmp.toString(), "--vtysh", tmp.resolve("none").toString());
    assertEquals(3, r.code());
    assertTrue(r.err().contains("(Debian: apt-get install frr)"), r.err());
  }
}
