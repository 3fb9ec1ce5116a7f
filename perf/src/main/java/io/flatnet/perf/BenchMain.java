package io.flatnet.perf;

import io.flatnet.perf.fib.LpmCommand;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ./flatnet bench <what> [args]}: the benchmark launcher, one picocli subcommand per
 * benchmark. Naming an unknown benchmark fails with a clear message and the usage (exit 2).
 */
@Command(
    name = "./flatnet bench",
    synopsisSubcommandLabel = "<what>",
    description = "flatnet benchmarks.",
    subcommands = {
      LpmCommand.class,
      io.flatnet.perf.e2e.E2eCommand.class,
      JmhCommand.class,
      io.flatnet.perf.agent.AgentRoutesCommand.class,
      io.flatnet.perf.restart.RestartCommand.class
    },
    footer = {"", "Run ./flatnet bench <what> --help for a benchmark's options."})
public final class BenchMain implements Callable<Integer> {

  /** Exit code for a usage error, as the launcher's. */
  static final int E_USAGE = 2;

  @Spec private CommandSpec spec;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "This help.")
  private boolean help;

  @Override
  public Integer call() {
    spec.commandLine()
        .getErr()
        .println(
            "./flatnet bench: which benchmark? ("
                + String.join(", ", spec.commandLine().getSubcommands().keySet())
                + ")");
    spec.commandLine().usage(spec.commandLine().getErr());
    return E_USAGE;
  }

  public static void main(String[] args) {
    System.exit(
        run(
            new PrintWriter(System.out, true, Charset.defaultCharset()),
            new PrintWriter(System.err, true, Charset.defaultCharset()),
            args));
  }

  /** Runs {@code args} as {@link #main} does, writing to {@code out} and {@code err}. */
  public static int run(PrintWriter out, PrintWriter err, String... args) {
    CommandLine cl = new CommandLine(new BenchMain()).setOut(out).setErr(err);
    if (args.length > 0 && !args[0].startsWith("-") && !cl.getSubcommands().containsKey(args[0])) {
      cl.getErr().println("./flatnet bench: unknown benchmark '" + args[0] + "'");
      cl.usage(cl.getErr());
      return E_USAGE;
    }
    return cl.execute(args);
  }
}
