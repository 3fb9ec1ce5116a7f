package io.flatnet.agent.bgp;

import io.flatnet.agent.config.BgpConfig;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.config.PortConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Runs a node's FRR: {@code zebra} (with {@code dplane_fpm_nl}, which streams the selected routes
 * to the agent's FPM server) and {@code bgpd}, on the config {@link FrrConfigWriter} writes into
 * the run directory. Everything of one instance is in that directory: config, pid files, the zserv
 * socket, the vty sockets ({@code vtysh --vty_socket DIR}) and the logs, so several instances run
 * on one machine, each in its own network namespace (the command {@code prefix}, e.g. {@code ip
 * netns exec NS}).
 *
 * <p>{@code flatnet run} owns it ({@code NodeSupervisor}), not the agent: an agent restart leaves
 * the BGP sessions up, and zebra's FPM client connects to the new agent by itself. A daemon that
 * exits is started again after a backoff (200 ms, doubling up to 10 s while it keeps exiting within
 * 10 s); when zebra exits, bgpd is restarted with it. A changed config is applied in place where
 * FRR can ({@link #reconfigure}). Not thread-safe: one thread calls {@link #start}, {@link #check},
 * {@link #reconfigure} and {@link #close}.
 */
public final class FrrProcesses implements AutoCloseable {

  /** The daemons, in start order. */
  public static final List<String> DAEMONS = List.of("zebra", "bgpd");

  /** zebra's module that speaks FPM (netlink messages over TCP). */
  public static final String FPM_MODULE = "dplane_fpm_nl";

  /** The zserv socket (zebra's API, bgpd connects to it), in the run directory. */
  public static final String ZSERV = "zserv.api";

  /** Open files each daemon may use: FRR sizes its tables from the limit (the JVM's is 1M). */
  static final int LIMIT_FDS = 1024;

  private static final long MIN_BACKOFF_MILLIS = 200;
  private static final long MAX_BACKOFF_MILLIS = 10_000;
  private static final long FLAPPING_NANOS = 10_000_000_000L;

  /** Where FRR lives and how it is started. */
  public record Layout(Path binDir, Path runDir, List<String> prefix, String group) {
    public Layout {
      prefix = List.copyOf(prefix);
    }

    /**
     * From the node config: {@code bgp.frr.binDir}, {@code bgp.frr.runDir} (default {@code
     * <stateDir>/frr}), and the network namespace of the host port's kernel end ({@code
     * ports[].kernel.namespace}), where the node's addresses are.
     */
    public static Layout of(NodeConfig node, Path stateDir) {
      BgpConfig.FrrConfig frr = node.bgp().frr();
      Path run = frr.runDir() != null ? Path.of(frr.runDir()) : stateDir.resolve("frr");
      return new Layout(Path.of(frr.binDir()), run, netnsPrefix(node), frrGroup());
    }
  }

  private final Layout layout;
  private final Consumer<String> log;
  private FrrConfigWriter.Files files;
  private final Daemon[] daemons;
  private boolean closed;

  /** One daemon's process and its restart state. */
  private final class Daemon {
    final String name;
    Process process;
    long startedNanos;
    long backoffMillis = MIN_BACKOFF_MILLIS;
    long restartAtNanos = Long.MIN_VALUE;
    int restarts;

    Daemon(String name) {
      this.name = name;
    }

    boolean alive() {
      return process != null && process.isAlive();
    }
  }

  /**
   * @param layout where FRR is and where its files go
   * @param files the config to start with
   * @param log takes a line about each start and exit ({@code zebra pid 1234 (log ...)})
   */
  public FrrProcesses(Layout layout, FrrConfigWriter.Files files, Consumer<String> log) {
    this.layout = layout;
    this.files = files;
    this.log = log;
    this.daemons = new Daemon[] {new Daemon("zebra"), new Daemon("bgpd")};
  }

  public Layout layout() {
    return layout;
  }

  /** The pids of zebra and bgpd (-1 if not running), for tests and the supervisor's log. */
  public long pid(String daemon) {
    Daemon d = daemon(daemon);
    return d.alive() ? d.process.pid() : -1;
  }

  /** How often {@code daemon} was started again after it exited. */
  public int restarts(String daemon) {
    return daemon(daemon).restarts;
  }

  private Daemon daemon(String name) {
    for (Daemon d : daemons) {
      if (d.name.equals(name)) {
        return d;
      }
    }
    throw new IllegalArgumentException("no FRR daemon " + name);
  }

  private void say(String line) {
    log.accept(line);
  }

  /** zebra's command line (without the prefix). */
  public static List<String> zebraCommand(Layout l) {
    List<String> c = common(l, "zebra");
    c.addAll(List.of("-M", FPM_MODULE));
    return c;
  }

  /** bgpd's command line (without the prefix). */
  public static List<String> bgpdCommand(Layout l) {
    return common(l, "bgpd");
  }

  private static List<String> common(Layout l, String daemon) {
    Path run = l.runDir();
    return new ArrayList<>(
        List.of(
            l.binDir().resolve(daemon).toString(),
            "-f",
            run.resolve(daemon + ".conf").toString(),
            "-i",
            run.resolve(daemon + ".pid").toString(),
            "-z",
            run.resolve(ZSERV).toString(),
            "--vty_socket",
            run.toString(),
            "-P",
            "0",
            "-u",
            "root",
            "-g",
            l.group(),
            "--log",
            "stdout",
            "--log-level",
            "info",
            "--limit-fds",
            Integer.toString(LIMIT_FDS)));
  }

  /** {@code ip netns exec NS} for the host port's kernel namespace, else nothing. */
  static List<String> netnsPrefix(NodeConfig node) {
    for (PortConfig p : node.ports()) {
      if ("host".equals(p.role()) && p.kernel() != null && p.kernel().namespace() != null) {
        return List.of("ip", "netns", "exec", p.kernel().namespace());
      }
    }
    return List.of();
  }

  /**
   * The group FRR's daemons run as: {@code frrvty} if it exists, else {@code root}. FRR refuses to
   * start ("privs_init: user(root) is not part of vty group specified(frrvty)") when the vty group
   * it was built with exists and the user is not in it; the group given with {@code -g} counts.
   */
  public static String frrGroup() {
    try {
      for (String line : Files.readAllLines(Path.of("/etc/group"))) {
        if (line.startsWith("frrvty:")) {
          return "frrvty";
        }
      }
    } catch (IOException e) {
      // no /etc/group: root
    }
    return "root";
  }

  /** Writes the config and starts zebra, then bgpd once zebra serves its zserv socket. */
  public void start() throws IOException, InterruptedException {
    Files.createDirectories(layout.runDir());
    writeConfig(files);
    for (Daemon d : daemons) {
      stopStale(d.name);
    }
    startZebraAndBgpd();
  }

  private void startZebraAndBgpd() throws IOException, InterruptedException {
    Files.deleteIfExists(layout.runDir().resolve(ZSERV));
    launch(daemon("zebra"));
    awaitZserv();
    launch(daemon("bgpd"));
  }

  private void writeConfig(FrrConfigWriter.Files f) throws IOException {
    write(FrrConfigWriter.Files.ZEBRA, f.zebra());
    write(FrrConfigWriter.Files.BGPD, f.bgpd());
  }

  private void write(String name, String text) throws IOException {
    Path target = layout.runDir().resolve(name);
    Path tmp = layout.runDir().resolve(name + ".tmp");
    Files.writeString(tmp, text, StandardCharsets.UTF_8);
    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private void launch(Daemon d) throws IOException {
    List<String> command = new ArrayList<>(layout.prefix());
    command.addAll(d.name.equals("zebra") ? zebraCommand(layout) : bgpdCommand(layout));
    Path logFile = layout.runDir().resolve(d.name + ".log");
    d.process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .start();
    d.startedNanos = System.nanoTime();
    say(d.name + " pid " + d.process.pid() + " (log " + logFile + ")");
  }

  /** Waits up to 10 s for zebra's zserv socket, so bgpd finds zebra at once. */
  private void awaitZserv() throws InterruptedException {
    Path zserv = layout.runDir().resolve(ZSERV);
    Daemon zebra = daemon("zebra");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline && zebra.alive() && !Files.exists(zserv)) {
      TimeUnit.MILLISECONDS.sleep(20);
    }
  }

  /**
   * A daemon of this run directory that outlived its owner (a supervisor killed with SIGKILL) holds
   * the pid file's lock, and a new one would refuse to start: stop it.
   */
  private void stopStale(String daemon) throws InterruptedException {
    Path pidFile = layout.runDir().resolve(daemon + ".pid");
    long pid;
    try {
      pid = Long.parseLong(Files.readString(pidFile).strip());
    } catch (IOException | NumberFormatException e) {
      return;
    }
    Optional<ProcessHandle> h = ProcessHandle.of(pid);
    if (h.isEmpty()
        || !h.get().info().command().map(c -> c.endsWith("/" + daemon)).orElse(false)
        || !h.get()
            .info()
            .arguments()
            .map(a -> List.of(a).contains(pidFile.toString()))
            .orElse(false)) {
      return;
    }
    say("stopping a " + daemon + " left running (pid " + pid + ")");
    stop(h.get());
  }

  private static void stop(ProcessHandle p) throws InterruptedException {
    p.destroy();
    try {
      p.onExit().get(5, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      p.destroyForcibly();
      try {
        p.onExit().get(5, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e2) {
        // gone or stuck: nothing more to do
      }
    }
  }

  private void stop(Daemon d) throws InterruptedException {
    if (d.process != null && d.process.isAlive()) {
      stop(d.process.toHandle());
    }
    d.process = null;
  }

  /**
   * Starts again what exited, once its backoff has passed; call it often (the supervisor's loop
   * does, every 100 ms). Returns at once while a backoff runs.
   */
  public void check() throws IOException, InterruptedException {
    if (closed) {
      return;
    }
    long now = System.nanoTime();
    Daemon zebra = daemon("zebra");
    Daemon bgpd = daemon("bgpd");
    boolean zebraExited = noteExit(zebra, now);
    noteExit(bgpd, now);
    if (zebraExited) {
      // bgpd follows zebra: a clean start gets its routes into the new zebra.
      stop(bgpd);
    }
    if (zebra.process == null) {
      if (now >= zebra.restartAtNanos) {
        zebra.restarts++;
        bgpd.restarts++;
        startZebraAndBgpd();
      }
    } else if (bgpd.process == null && now >= bgpd.restartAtNanos) {
      bgpd.restarts++;
      launch(bgpd);
    }
  }

  /** True if {@code d} has just exited: logs it and schedules its restart after a backoff. */
  private boolean noteExit(Daemon d, long now) {
    if (d.process == null || d.process.isAlive()) {
      return false;
    }
    boolean flapping = now - d.startedNanos < FLAPPING_NANOS;
    d.backoffMillis =
        flapping ? Math.min(d.backoffMillis * 2, MAX_BACKOFF_MILLIS) : MIN_BACKOFF_MILLIS;
    d.restartAtNanos = now + TimeUnit.MILLISECONDS.toNanos(d.backoffMillis);
    say(
        d.name
            + " exited ("
            + d.process.exitValue()
            + "); starting it again in "
            + d.backoffMillis
            + " ms (log "
            + layout.runDir().resolve(d.name + ".log")
            + ")");
    d.process = null;
    return true;
  }

  /**
   * Takes a changed node config: rewrites FRR's config and applies it.
   *
   * <ul>
   *   <li>A new {@code zebra.conf} (the FPM address) restarts both daemons.
   *   <li>A new {@code bgpd.conf} is applied to the running bgpd by FRR's {@code frr-reload.py}
   *       (Debian's frr-pythontools, in {@code binDir}) when it is there: only the difference is
   *       configured, the other sessions stay up. Without it, if it fails, or when the timers
   *       change (FRR applies new timers only to new sessions), bgpd is restarted: its sessions
   *       start again.
   * </ul>
   *
   * Returns what was done, or "unchanged".
   */
  public String reconfigure(NodeConfig node) throws IOException, InterruptedException {
    FrrConfigWriter.Files next = FrrConfigWriter.write(node);
    if (next.equals(files)) {
      return "unchanged";
    }
    FrrConfigWriter.Files before = files;
    boolean zebraChanged = !next.zebra().equals(before.zebra());
    files = next;
    writeConfig(next);
    if (closed) {
      return "config written";
    }
    Daemon zebra = daemon("zebra");
    Daemon bgpd = daemon("bgpd");
    if (zebraChanged) {
      stop(bgpd);
      stop(zebra);
      startZebraAndBgpd();
      return "zebra and bgpd restarted";
    }
    String whyRestart;
    if (!timers(before.bgpd()).equals(timers(next.bgpd()))) {
      whyRestart = "new timers";
    } else if (!zebra.alive() || !bgpd.alive()) {
      whyRestart = "it was not running";
    } else {
      String failed = reloadBgpd();
      if (failed == null) {
        return "bgpd reloaded (frr-reload.py: only the difference)";
      }
      whyRestart = failed;
    }
    stop(bgpd);
    if (zebra.alive()) {
      launch(bgpd);
    }
    return "bgpd restarted (" + whyRestart + ")";
  }

  private static String timers(String bgpd) {
    return bgpd.lines().filter(l -> l.startsWith(" timers bgp ")).findFirst().orElse("");
  }

  /** The path of FRR's reload script, beside the daemons. */
  Path reloadScript() {
    return layout.binDir().resolve("frr-reload.py");
  }

  /**
   * Applies {@code bgpd.conf} to the running bgpd with frr-reload.py; null if it did, else why not.
   */
  private String reloadBgpd() throws IOException, InterruptedException {
    Path script = reloadScript();
    if (!Files.isExecutable(script)) {
      return "no " + script + " (Debian: frr-pythontools) for a reload in place";
    }
    Path vtysh = Path.of("/usr/bin/vtysh");
    Path vtyshDir = Files.isExecutable(vtysh) ? vtysh.getParent() : layout.binDir();
    Path run = layout.runDir();
    // vtysh (run by the script) reads <confdir>/vtysh.conf: an empty one, not /etc/frr's
    Path vtyshConf = run.resolve("vtysh.conf");
    if (!Files.exists(vtyshConf)) {
      Files.writeString(vtyshConf, "");
    }
    List<String> command = new ArrayList<>(layout.prefix());
    command.addAll(
        List.of(
            script.toString(),
            "--reload",
            "--stdout",
            "--daemon",
            "bgpd",
            "--vty_socket",
            run.toString(),
            "--rundir",
            run.toString(),
            "--confdir",
            run.toString(),
            "--bindir",
            vtyshDir.toString(),
            run.resolve(FrrConfigWriter.Files.BGPD).toString()));
    Path out = run.resolve("reload.log");
    Process p;
    try {
      p =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile()))
              .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
              .start();
    } catch (IOException e) {
      return "cannot run " + script + " (python3?): " + e.getMessage();
    }
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return "frr-reload.py took more than 60 s (" + out + ")";
    }
    return p.exitValue() == 0 ? null : "frr-reload.py exited " + p.exitValue() + " (" + out + ")";
  }

  /** Stops bgpd (its sessions close: the neighbours withdraw the node's routes), then zebra. */
  @Override
  public void close() {
    closed = true;
    try {
      stop(daemon("bgpd"));
      stop(daemon("zebra"));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      for (Daemon d : daemons) {
        if (d.process != null) {
          d.process.destroyForcibly();
        }
      }
    }
  }
}
