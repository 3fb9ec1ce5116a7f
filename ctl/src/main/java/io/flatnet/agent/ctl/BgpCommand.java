package io.flatnet.agent.ctl;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ./flatnet ctl bgp [COMMAND...]}: asks the node's FRR through {@code vtysh}, on the vty
 * sockets of the FRR that {@code flatnet run} runs ({@code <dir>/frr} links to its run directory,
 * {@code bgp.frr.runDir}). Without a command: {@code show bgp summary}, the sessions and how many
 * prefixes each brought.
 */
@Command(
    name = "bgp",
    mixinStandardHelpOptions = true,
    description = {
      "Runs a vtysh command on the node's FRR (default: show bgp summary).",
      "  ctl bgp                              the BGP sessions",
      "  ctl bgp show bgp ipv4 unicast        what FRR learnt and selected",
      "  ctl bgp show ip route bgp            what zebra installs (and streams to the agent)",
      "  ctl bgp show fpm counters            zebra's FPM connection to the agent"
    })
public final class BgpCommand implements Callable<Integer> {
  /** What {@code ctl bgp} asks without a command. */
  public static final String DEFAULT_COMMAND = "show bgp summary";

  @Option(
      names = "--dir",
      description =
          "The router's run directory; FRR's is its frr link (default "
              + CtlMain.DEFAULT_RUN_DIR
              + ").")
  Path dir = Path.of(CtlMain.DEFAULT_RUN_DIR);

  @Option(
      names = "--frr-dir",
      description =
          "FRR's run directory (bgp.frr.runDir), holding its vty sockets; default <dir>/frr.")
  Path frrDir;

  @Option(names = "--vtysh", description = "The vtysh to run (default vtysh, on the PATH).")
  String vtysh = "vtysh";

  @Parameters(paramLabel = "COMMAND", description = "A vtysh command, e.g. show bgp neighbors.")
  List<String> command = new ArrayList<>();

  @Spec CommandLine.Model.CommandSpec spec;

  /** vtysh's argument list for {@code command} on the vty sockets in {@code socketDir}. */
  static List<String> argv(String vtysh, Path socketDir, List<String> command) {
    String c = command.isEmpty() ? DEFAULT_COMMAND : String.join(" ", command);
    return List.of(vtysh, "--vty_socket", socketDir.toString(), "-c", c);
  }

  @Override
  public Integer call() throws InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Path sockets = frrDir != null ? frrDir : dir.resolve("frr");
    if (!Files.isDirectory(sockets)) {
      err.println(
          "flatnet ctl bgp: no FRR run directory at "
              + sockets
              + ": is the node run by flatnet run with a bgp section (bgp.frr.manage)? Otherwise"
              + " name FRR's directory with --frr-dir");
      err.flush();
      return CtlMain.UNAVAILABLE;
    }
    Process p;
    try {
      p =
          new ProcessBuilder(argv(vtysh, sockets, command))
              .redirectErrorStream(true)
              .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
              .start();
    } catch (IOException e) {
      err.println("flatnet ctl bgp: cannot run " + vtysh + " (Debian: apt-get install frr): " + e);
      err.flush();
      return CtlMain.UNAVAILABLE;
    }
    try (InputStream in = p.getInputStream()) {
      out.print(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      err.println("flatnet ctl bgp: " + e);
    }
    out.flush();
    int code = p.waitFor();
    if (code != 0) {
      err.println("flatnet ctl bgp: vtysh exited " + code);
      err.flush();
      return CtlMain.REFUSED;
    }
    return 0;
  }
}
