package io.flatnet.agent.process;

import io.flatnet.agent.bgp.FrrConfigWriter;
import io.flatnet.agent.bgp.FrrProcesses;
import io.flatnet.agent.config.ConfigError;
import io.flatnet.agent.config.ConfigException;
import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.ConfigValidator;
import io.flatnet.agent.config.NodeConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * FRR as {@code flatnet run}'s third child, beside the dataplane and the agent: with {@code bgp:}
 * and {@code bgp.frr.manage} (the default) it runs {@link FrrProcesses} for the node config, keeps
 * them running, and follows the config file: on SIGHUP, and when the file's text changes, a valid
 * config that changes FRR's config is written and applied ({@link FrrProcesses#reconfigure}: in
 * place, or by restarting bgpd); a removed section (or {@code manage: false}) stops FRR, an added
 * one starts it. An invalid config changes nothing (the agent reports its errors). The supervisor
 * owns FRR rather than the agent so that an agent restart, which is hitless for forwarding, is
 * hitless for BGP too: the sessions stay up and zebra's FPM client connects to the new agent by
 * itself.
 *
 * <p>It links {@code <run dir>/frr} to FRR's run directory, where {@code flatnet ctl bgp} finds the
 * vty sockets. Not thread-safe: the supervisor's loop calls {@link #tick} and its stop calls {@link
 * #close}, under one lock.
 */
final class NodeFrr implements AutoCloseable {
  /** The link in the run directory ({@code --dir}) to FRR's run directory. */
  static final String LINK = "frr";

  private static final long FILE_CHECK_NANOS = 2_000_000_000L;

  private final Path configFile;
  private final Path runDir;
  private final Path stateDir;
  private final PrintStream out;
  private final ConfigValidator validator;

  private FrrProcesses frr;
  private String lastText;
  private long lastFileCheck = System.nanoTime();
  private volatile boolean reloadRequested;

  NodeFrr(Path configFile, Path runDir, Path stateDir, PrintStream out, ConfigValidator validator) {
    this.configFile = configFile;
    this.runDir = runDir;
    this.stateDir = stateDir;
    this.out = out;
    this.validator = validator;
  }

  private void say(String line) {
    out.println("flatnet run: " + line);
    out.flush();
  }

  /** Whether {@code node} asks flatnet run to run FRR. */
  static boolean managed(NodeConfig node) {
    return node.bgpEnabled() && node.bgp().frr().manage();
  }

  /**
   * At the supervisor's start: FRR's daemons must be there when the config asks for them; a
   * non-empty result is a config error (exit 2).
   */
  static List<ConfigError> checkInstalled(NodeConfig node) {
    return ConfigValidator.frrInstalled(node);
  }

  /** Starts FRR if {@code node} asks for it and is valid. */
  void start(NodeConfig node) throws IOException, InterruptedException {
    lastText = readConfigText();
    apply(node);
  }

  /** SIGHUP: look at the config file at the next {@link #tick}. */
  void requestReload() {
    reloadRequested = true;
  }

  /** Restarts a daemon that exited, follows the config file; call it every 100 ms or so. */
  void tick() throws IOException, InterruptedException {
    if (frr != null) {
      frr.check();
    }
    long now = System.nanoTime();
    if (!reloadRequested && now - lastFileCheck < FILE_CHECK_NANOS) {
      return;
    }
    lastFileCheck = now;
    boolean hangUp = reloadRequested;
    reloadRequested = false;
    String text = readConfigText();
    if (!hangUp && Objects.equals(text, lastText)) {
      return;
    }
    lastText = text;
    NodeConfig node;
    try {
      node = ConfigLoader.load(configFile);
    } catch (ConfigException e) {
      say("bgp: FRR left as it is: " + e.getMessage());
      return;
    }
    apply(node);
  }

  private String readConfigText() {
    try {
      return Files.readString(configFile);
    } catch (IOException e) {
      return null;
    }
  }

  private void apply(NodeConfig node) throws IOException, InterruptedException {
    if (!managed(node)) {
      if (frr != null) {
        say(
            "bgp: "
                + (node.bgpEnabled() ? "bgp.frr.manage is false" : "no bgp section")
                + ": stopping FRR");
        stopFrr();
      } else if (node.bgpEnabled()) {
        say("bgp: bgp.frr.manage is false: run FRR yourself (docs/routing.md)");
      }
      return;
    }
    List<ConfigError> errors = validator.validate(node);
    if (!errors.isEmpty()) {
      say(
          "bgp: FRR left as it is: the config has "
              + errors.size()
              + " errors (the agent reports them)");
      return;
    }
    List<ConfigError> missing = checkInstalled(node);
    if (!missing.isEmpty()) {
      say("bgp: FRR not started: " + missing.get(0));
      return;
    }
    FrrProcesses.Layout layout = FrrProcesses.Layout.of(node, stateDir);
    if (frr != null && !frr.layout().equals(layout)) {
      say("bgp: FRR's directories or namespace changed: starting it again");
      stopFrr();
    }
    try {
      if (frr == null) {
        frr = new FrrProcesses(layout, FrrConfigWriter.write(node), this::say);
        frr.start();
        link(layout.runDir());
        say("bgp: FRR runs in " + layout.runDir() + " (flatnet ctl bgp --dir " + runDir + ")");
      } else {
        String done = frr.reconfigure(node);
        if (!done.equals("unchanged")) {
          say("bgp: FRR's config changed: " + done);
        }
      }
    } catch (IOException e) {
      // e.g. the run directory cannot be written: say so, keep the node running; a reload retries
      say("bgp: FRR not running: " + e);
      stopFrr();
    }
  }

  private void link(Path target) {
    Path link = runDir.resolve(LINK);
    try {
      if (Files.isSymbolicLink(link) || !Files.exists(link, LinkOption.NOFOLLOW_LINKS)) {
        Files.deleteIfExists(link);
        Files.createSymbolicLink(link, target.toAbsolutePath());
      }
    } catch (IOException | UnsupportedOperationException e) {
      say("bgp: cannot link " + link + " to " + target + ": " + e);
    }
  }

  private void stopFrr() {
    if (frr != null) {
      frr.close();
      frr = null;
    }
  }

  /** Stops bgpd (the neighbours withdraw the node's routes), then zebra. */
  @Override
  public void close() {
    stopFrr();
  }
}
