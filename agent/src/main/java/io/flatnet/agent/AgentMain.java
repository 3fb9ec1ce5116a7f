package io.flatnet.agent;

import io.flatnet.agent.config.ConfigError;
import io.flatnet.agent.config.ConfigException;
import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.ConfigValidator;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.state.DesiredState;
import io.flatnet.agent.state.Planner;
import io.flatnet.control.State;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code flatnet-agent validate|plan --config FILE}: offline checks of a node config, without a
 * dataplane. {@code validate} prints every error (exit 1) or a summary (exit 0); {@code plan}
 * prints what a fresh dataplane would get. The running agent itself is started by the router, which
 * owns the {@link io.flatnet.control.DataplaneApi}.
 */
@Command(
    name = "flatnet-agent",
    mixinStandardHelpOptions = true,
    subcommands = {AgentMain.Validate.class, AgentMain.PlanCommand.class},
    description = "Checks flatnet node configs.")
public final class AgentMain implements Callable<Integer> {

  @Override
  public Integer call() {
    new CommandLine(this).usage(System.err);
    return 2;
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new AgentMain()).execute(args));
  }

  /** Loads and validates, printing every error; null if invalid. */
  static NodeConfig check(Path file) {
    NodeConfig config;
    try {
      config = ConfigLoader.load(file);
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      return null;
    }
    List<ConfigError> errors = ConfigValidator.forThisMachine().validate(config);
    if (!errors.isEmpty()) {
      System.err.println(new ConfigException(file.toString(), errors).getMessage());
      return null;
    }
    return config;
  }

  @Command(
      name = "validate",
      mixinStandardHelpOptions = true,
      description = "Validates a node config.")
  static final class Validate implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "The node config YAML.")
    Path config;

    @Override
    public Integer call() {
      NodeConfig c = check(config);
      if (c == null) {
        return 1;
      }
      State s = DesiredState.from(c, List.of());
      for (ConfigError w : ConfigValidator.warnings(c, List.of())) {
        System.err.println("warning: " + w);
      }
      // Whether FRR is installed is a property of the machine, not the config: flatnet run
      // refuses to start without it, validate (perhaps on another machine) only warns.
      for (ConfigError w : ConfigValidator.frrInstalled(c)) {
        System.err.println("warning: " + w + " (on this machine; flatnet run stops on it)");
      }
      System.out.printf(
          "%s: ok (node %s: %d ports, %d pods, %d routes, %d pod policies)%n",
          config,
          c.node().name(),
          s.ports().size(),
          s.pods().size(),
          s.routes().size(),
          s.policies().size());
      return 0;
    }
  }

  @Command(
      name = "plan",
      mixinStandardHelpOptions = true,
      description = "Prints the plan for an empty dataplane.")
  static final class PlanCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "The node config YAML.")
    Path config;

    @Override
    public Integer call() {
      NodeConfig c = check(config);
      if (c == null) {
        return 1;
      }
      System.out.println(Planner.plan(State.EMPTY, DesiredState.from(c, List.of()), 1));
      return 0;
    }
  }
}
