package io.flatnet.agent;

import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.config.ConfigError;
import io.flatnet.agent.config.ConfigException;
import io.flatnet.agent.config.ConfigValidator;
import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.config.PeerConfig;
import io.flatnet.agent.config.RouteConfig;
import io.flatnet.agent.config.policy.PolicySection;
import io.flatnet.agent.config.policy.PolicyValidator;
import io.flatnet.agent.state.DesiredState;
import io.flatnet.control.DataplaneApi;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.State;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The node agent: loads the node config, validates it, diffs the desired state against what the
 * dataplane has installed, and applies only the difference as one numbered generation.
 *
 * <ul>
 *   <li>A config that fails to parse or validate is never applied: every error is logged, {@link
 *       ApplyResult.Rejected} is returned and the old state keeps running.
 *   <li>The desired state is always diffed against {@link DataplaneApi#installed()}, so after an
 *       agent restart an unchanged config applies nothing, and a reload repairs drift.
 *   <li>If applying fails part-way, the agent restores the last good state (a new plan from what is
 *       installed then).
 *   <li>{@link #watch()} reloads when the config file's directory changes (debounced, and only if
 *       the file's bytes changed, so ConfigMap symlink swaps work); {@link #reload()} reloads
 *       unconditionally (wire it to SIGHUP).
 *   <li>With a {@code bgp} section, it listens for zebra's FPM connection and adds the routes FRR
 *       selected (origin bgp) for prefixes no other source gives ({@link BgpFollower}, debounced
 *       like the peers; docs/routing.md).
 *   <li>It is the {@link AgentProtocol.Handler} of the control socket: the CNI plugin's pods are
 *       added to the desired state, validated together with the config, and kept under {@code
 *       <stateDir>/pods/} across restarts.
 * </ul>
 *
 * It wires the parts: {@link ConfigFile} and {@link ConfigWatcher} (the file), {@link
 * EffectiveConfig} (what is in use), {@link PeerMerger} (the peer source), {@link BgpFollower}
 * (zebra's routes), {@link CniPods} and {@link RuntimeRoutes} (the control socket's changes),
 * {@link Reconciler} (the dataplane) and {@link IpamCollector}. All state changes are serialised on
 * this object's monitor: the parts are not thread-safe, and their threads call back through it.
 */
public final class Agent implements AgentProtocol.Handler, AutoCloseable {

  /**
   * Where things are.
   *
   * @param configFile the node config YAML (default /etc/flatnet/node.yaml)
   * @param stateDir the agent's persistent state (default /var/lib/flatnet/agent)
   * @param vhostSocketDir where vhost-user sockets of CNI pods go when the request names none
   *     (default /run/flatnet/vhost)
   * @param validator config checks (default: this machine's online CPUs)
   * @param debounce how long the config directory must be quiet before a watch reload (200 ms);
   *     also how long peer changes are gathered into one generation
   * @param peerSource peers from outside the config, e.g. Kubernetes Nodes (default none)
   * @param ipamDir the CNI plugin's IPAM stores, whose addresses of containers that are no CNI pod
   *     any more are freed at start and every {@link #IPAM_GC_INTERVAL}; null (the default): none
   */
  public record Options(
      Path configFile,
      Path stateDir,
      Path vhostSocketDir,
      ConfigValidator validator,
      Duration debounce,
      PeerSource peerSource,
      Path ipamDir) {

    /** How often the IPAM stores are collected (with {@code ipamDir}). */
    public static final Duration IPAM_GC_INTERVAL = Duration.ofMinutes(10);

    /**
     * Addresses younger than this are never collected: an ADD allocates before it tells the agent.
     */
    public static final Duration IPAM_GC_MIN_AGE = Duration.ofMinutes(10);

    public static final Path DEFAULT_CONFIG = Path.of("/etc/flatnet/node.yaml");
    public static final Path DEFAULT_STATE_DIR = Path.of("/var/lib/flatnet/agent");
    public static final Path DEFAULT_VHOST_DIR = Path.of("/run/flatnet/vhost");

    public static Options defaults(Path configFile) {
      return new Options(
          configFile,
          DEFAULT_STATE_DIR,
          DEFAULT_VHOST_DIR,
          ConfigValidator.forThisMachine(),
          Duration.ofMillis(200),
          PeerSource.NONE,
          null);
    }

    public Options withStateDir(Path dir) {
      return new Options(configFile, dir, vhostSocketDir, validator, debounce, peerSource, ipamDir);
    }

    public Options withVhostSocketDir(Path dir) {
      return new Options(configFile, stateDir, dir, validator, debounce, peerSource, ipamDir);
    }

    public Options withValidator(ConfigValidator v) {
      return new Options(configFile, stateDir, vhostSocketDir, v, debounce, peerSource, ipamDir);
    }

    public Options withDebounce(Duration d) {
      return new Options(configFile, stateDir, vhostSocketDir, validator, d, peerSource, ipamDir);
    }

    public Options withIpamDir(Path dir) {
      return new Options(
          configFile, stateDir, vhostSocketDir, validator, debounce, peerSource, dir);
    }

    public Options withPeerSource(PeerSource source) {
      return new Options(
          configFile, stateDir, vhostSocketDir, validator, debounce, source, ipamDir);
    }
  }

  private static final System.Logger LOG = System.getLogger(Agent.class.getName());

  private final Options options;
  private final ConfigFile configFile;
  private final RuntimePods runtimePods;
  private final EffectiveConfig config;
  private final Reconciler reconciler;
  private final PeerMerger peers;
  private final BgpFollower bgp;
  private final CniPods cniPods;
  private final RuntimeRoutes runtimeRoutes;
  private final IpamCollector ipam;
  private final DataplaneApi dataplane;
  private ConfigWatcher watcher;
  private boolean closed;

  /**
   * @throws IOException if the state directory cannot be created or read
   */
  public Agent(Options options, DataplaneApi dataplane) throws IOException {
    this.options = options;
    this.dataplane = dataplane;
    Path stateDir = options.stateDir();
    ConfigValidator validator = options.validator();
    this.configFile = new ConfigFile(options.configFile());
    this.runtimePods = new RuntimePods(stateDir);
    this.config = new EffectiveConfig(RuntimeRoutes.load(stateDir));
    this.reconciler = new Reconciler(dataplane);
    this.peers = new PeerMerger(validator, options.debounce());
    this.bgp = new BgpFollower(options.debounce(), this::refreshBgp);
    this.cniPods =
        new CniPods(
            options.configFile(),
            options.vhostSocketDir(),
            config,
            runtimePods,
            validator,
            reconciler,
            dataplane);
    this.runtimeRoutes =
        new RuntimeRoutes(
            stateDir, options.configFile(), config, runtimePods, validator, reconciler);
    this.ipam =
        new IpamCollector(options.ipamDir(), stateDir, runtimePods, Options.IPAM_GC_MIN_AGE);
  }

  /**
   * Initial reconcile: the same as {@link #reload()}; then follows the {@link Options#peerSource()}
   * (its changes are applied {@link Options#debounce()} after the first of a burst). Routes of
   * origin bgp that the dataplane holds (an agent restart) stay until zebra re-sends its table.
   */
  public ApplyResult start() {
    boolean subscribe;
    synchronized (this) {
      subscribe = peers.follow(options.peerSource());
    }
    if (subscribe) {
      // Not under this monitor: a source may call back at once, from its own thread.
      options.peerSource().subscribe(this::peersPublished);
    }
    // A restarted agent keeps the BGP routes it finds installed until zebra re-sends them.
    try {
      bgp.inherit(
          dataplane.installed().routes().values().stream()
              .filter(route -> RouteSpec.ORIGIN_BGP.equals(route.origin()))
              .toList());
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "bgp: cannot read the dataplane's routes: " + e);
    }
    ApplyResult r = reload();
    startIpamGc();
    return r;
  }

  private synchronized void startIpamGc() {
    if (!closed) {
      ipam.start(Options.IPAM_GC_INTERVAL, this::collectIpam);
    }
  }

  /**
   * Frees IPAM addresses (every network under {@link Options#ipamDir()}) of containers that are no
   * CNI pod of this agent, if older than {@link Options#IPAM_GC_MIN_AGE}: ADDs whose plugin died
   * before DEL, DELs that never came. Skipped while a pod record is unreadable, since then a live
   * pod could look gone.
   *
   * @return the addresses freed, by network
   */
  public synchronized Map<String, List<IpAddress>> collectIpam() {
    return ipam.collect();
  }

  private synchronized void peersPublished(List<PeerConfig> published) {
    peers.published(published, this::refreshPeers); // after close the merger has no timer
  }

  /**
   * Applies the peer source's latest list now: with the last good config, its valid peers replace
   * the ones in use. Nothing happens before the first good config (its reload takes them in).
   */
  public synchronized ApplyResult refreshPeers() {
    peers.refreshing();
    if (!config.hasFile() || closed) {
      return reconciler.lastResult();
    }
    NodeConfig base = config.withRuntimeRoutes(config.file());
    List<PeerConfig> use = peers.select(base, runtimePods.configs(), config.sourcePeers());
    if (use.equals(config.sourcePeers())) {
      return new ApplyResult.Unchanged(reconciler.generation());
    }
    State desired =
        DesiredState.from(
            EffectiveConfig.withPeers(base, use), runtimePods.configs(), config.bgpRoutes());
    LOG.log(
        System.Logger.Level.INFO,
        "peers changed: "
            + use.stream().map(PeerConfig::name).toList()
            + " (config peers: "
            + base.peers().size()
            + ")");
    ApplyResult r = reconciler.apply(desired);
    if (r.ok()) {
      config.useSourcePeers(use);
      reconciler.accept(desired);
    }
    return reconciler.record(r);
  }

  /**
   * Takes a policy section from the Kubernetes watch in place of the config file's and applies it
   * with the last good config (before the first good config, that config's reload takes it in). A
   * section that does not validate is logged and refused; the policies in use stay.
   */
  public synchronized ApplyResult usePolicySource(PolicySection section) {
    List<ConfigError> errors = PolicyValidator.validate(section);
    if (!errors.isEmpty()) {
      LOG.log(
          System.Logger.Level.ERROR,
          "kubernetes network policy inputs not applied, "
              + errors.size()
              + " errors (keeping the policies in use)");
      errors.forEach(e -> LOG.log(System.Logger.Level.ERROR, "  " + e));
      return reconciler.record(new ApplyResult.Rejected(errors));
    }
    PolicySection before = config.sourcePolicy();
    config.useSourcePolicy(section);
    if (!config.hasFile() || closed) {
      return reconciler.lastResult();
    }
    NodeConfig effective = config.withRuntimeRoutes(config.file());
    errors = options.validator().validate(effective, runtimePods.configs());
    if (!errors.isEmpty()) {
      config.useSourcePolicy(before);
      return rejected(errors);
    }
    State desired =
        DesiredState.from(
            EffectiveConfig.withPeers(effective, config.sourcePeers()),
            runtimePods.configs(),
            config.bgpRoutes());
    ApplyResult r = reconciler.apply(desired);
    if (r.ok()) {
      reconciler.accept(desired);
    } else {
      config.useSourcePolicy(before);
    }
    return reconciler.record(r);
  }

  /** The peers from the {@link PeerSource} in use (valid with the config), in order. */
  public synchronized List<PeerConfig> sourcePeers() {
    return config.sourcePeers();
  }

  /** Peers from the {@link PeerSource} left out, by name: why (the validator's errors). */
  public synchronized Map<String, String> peerProblems() {
    return peers.problems();
  }

  /** Loads, validates and applies the config file now (SIGHUP). */
  public synchronized ApplyResult reload() {
    NodeConfig loaded;
    try {
      loaded = configFile.load();
    } catch (ConfigException e) {
      return rejected(e.errors());
    }
    NodeConfig effective = config.withRuntimeRoutes(loaded);
    List<ConfigError> errors = options.validator().validate(effective, runtimePods.configs());
    if (!errors.isEmpty()) {
      return rejected(errors);
    }
    for (ConfigError w : ConfigValidator.warnings(effective, runtimePods.configs())) {
      LOG.log(System.Logger.Level.WARNING, options.configFile() + ": " + w);
    }
    List<PeerConfig> use = peers.select(effective, runtimePods.configs(), config.sourcePeers());
    NodeConfig withPeers = EffectiveConfig.withPeers(effective, use);
    List<RouteSpec> bgpRoutes = bgp.routesFor(withPeers);
    State desired = DesiredState.from(withPeers, runtimePods.configs(), bgpRoutes);
    ApplyResult r = reconciler.apply(desired);
    if (r.ok()) {
      config.useFile(loaded);
      reconciler.accept(desired);
      config.useSourcePeers(use);
      config.useBgpRoutes(bgpRoutes);
      bgp.reportShadowed(bgpRoutes, desired);
      if (!closed) {
        bgp.follow(loaded);
      }
    }
    return reconciler.record(r);
  }

  /**
   * Applies zebra's latest routes now (the FPM server's changes call this, debounced), with the
   * config in effect. Nothing happens before the first good config or without a {@code bgp}
   * section.
   */
  public synchronized ApplyResult refreshBgp() {
    bgp.refreshing();
    if (!config.hasFile() || closed) {
      return reconciler.lastResult();
    }
    NodeConfig current = config.current();
    List<RouteSpec> bgpRoutes = bgp.routesFor(current);
    if (bgpRoutes.equals(config.bgpRoutes())) {
      return new ApplyResult.Unchanged(reconciler.generation());
    }
    State desired = DesiredState.from(current, runtimePods.configs(), bgpRoutes);
    ApplyResult r = reconciler.apply(desired);
    if (r.ok()) {
      config.useBgpRoutes(bgpRoutes);
      reconciler.accept(desired);
      bgp.reportShadowed(bgpRoutes, desired);
    }
    return reconciler.record(r);
  }

  /** zebra's routes in use, before precedence (those another source gives are not installed). */
  public synchronized List<RouteSpec> bgpRoutes() {
    return config.bgpRoutes();
  }

  /** Where the agent listens for zebra's FPM connection (the real port), or null. */
  public InetSocketAddress fpmAddress() {
    return bgp.listening();
  }

  /** Whether zebra is connected to the agent's FPM server now. */
  public boolean zebraConnected() {
    return bgp.zebraConnected();
  }

  private ApplyResult rejected(List<ConfigError> errors) {
    LOG.log(
        System.Logger.Level.ERROR,
        options.configFile()
            + ": not applied, "
            + errors.size()
            + (errors.size() == 1 ? " error" : " errors")
            + (config.hasFile()
                ? " (keeping generation " + reconciler.generation() + ")"
                : " (no valid config applied yet)"));
    for (ConfigError e : errors) {
      LOG.log(System.Logger.Level.ERROR, "  " + e);
    }
    return reconciler.record(new ApplyResult.Rejected(errors));
  }

  /** The last config that was applied, if any. */
  public synchronized Optional<NodeConfig> lastGoodConfig() {
    return Optional.ofNullable(config.file());
  }

  /** The state of the last good config plus runtime pods (empty before any). */
  public synchronized State lastGoodState() {
    State s = reconciler.lastGood();
    return s == null ? State.EMPTY : s.withGeneration(reconciler.generation());
  }

  /** The highest generation applied (or found installed). */
  public synchronized long generation() {
    return reconciler.generation();
  }

  /** The result of the last reload or pod change. */
  public synchronized ApplyResult lastResult() {
    return reconciler.lastResult();
  }

  // ---------------------------------------------------------------- control socket

  @Override
  public AgentProtocol.Response handle(AgentProtocol.Request request) {
    String op = request.op() == null ? "" : request.op();
    if (op.equals(AgentProtocol.ROUTE_ADD) || op.equals(AgentProtocol.ROUTE_DEL)) {
      return routeRequest(request);
    }
    synchronized (this) {
      return switch (op) {
        case AgentProtocol.NODE_INFO -> cniPods.nodeInfo();
        case AgentProtocol.POD_ADD -> cniPods.add(request);
        case AgentProtocol.POD_DEL -> cniPods.del(request);
        case AgentProtocol.POD_CHECK -> cniPods.check(request);
        default -> AgentProtocol.Response.failure("unknown op \"" + op + "\"");
      };
    }
  }

  /** A route request waiting for the agent, and its answer once applied. */
  private record PendingRoute(
      AgentProtocol.Request request,
      java.util.concurrent.CompletableFuture<AgentProtocol.Response> answer) {}

  private final java.util.concurrent.ConcurrentLinkedQueue<PendingRoute> routeRequests =
      new java.util.concurrent.ConcurrentLinkedQueue<>();

  /** How long a route request waits for the leader before it looks again. */
  private static final long ROUTE_WAIT_MILLIS = 50;

  /** Held by the one thread applying queued route requests (the others wait for their answer). */
  private final java.util.concurrent.locks.ReentrantLock routeLeader =
      new java.util.concurrent.locks.ReentrantLock();

  /**
   * A {@code ctl route add|del}: queued; one thread at a time applies every route request queued by
   * then as one change (one plan, one route batch, one write of routes.json), so concurrent clients
   * share the cost (a group commit), while the others wait for their answers. Alone, a request is
   * applied by itself.
   */
  private AgentProtocol.Response routeRequest(AgentProtocol.Request request) {
    PendingRoute mine = new PendingRoute(request, new java.util.concurrent.CompletableFuture<>());
    routeRequests.add(mine);
    while (true) {
      if (routeLeader.tryLock()) {
        try {
          while (!routeRequests.isEmpty()) {
            applyQueuedRoutes();
          }
        } finally {
          routeLeader.unlock();
        }
        // A request queued after the last look, whose thread then found the lock held, waits for
        // a leader: whoever unlocks looks again (that thread's queue write precedes its failed
        // tryLock, which precedes the unlock, which precedes this read).
        if (!routeRequests.isEmpty()) {
          continue;
        }
      }
      if (mine.answer().isDone()) {
        break;
      }
      // The leader answers it, or the thread that unlocks leads again (above). The timeout only
      // bounds a leader that died; a 1 ms one woke every waiter a thousand times a second, on the
      // CPU a worker may share.
      try {
        mine.answer().get(ROUTE_WAIT_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        // look again
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return AgentProtocol.Response.failure("interrupted waiting for the agent");
      } catch (java.util.concurrent.ExecutionException e) {
        return AgentProtocol.Response.failure("route change failed: " + e.getCause());
      }
    }
    return mine.answer().join();
  }

  private void applyQueuedRoutes() {
    List<PendingRoute> batch = new ArrayList<>();
    for (PendingRoute p = routeRequests.poll(); p != null; p = routeRequests.poll()) {
      batch.add(p);
    }
    if (batch.isEmpty()) {
      return;
    }
    List<AgentProtocol.Response> answers;
    try {
      synchronized (this) {
        answers = runtimeRoutes.apply(batch.stream().map(PendingRoute::request).toList());
      }
    } catch (RuntimeException e) {
      for (PendingRoute p : batch) {
        p.answer().complete(AgentProtocol.Response.failure("route change failed: " + e));
      }
      return;
    }
    for (int i = 0; i < batch.size(); i++) {
      batch.get(i).answer().complete(answers.get(i));
    }
  }

  /** The routes added at run time (ctl route add), in order. */
  public synchronized List<RouteConfig> runtimeRoutes() {
    return config.runtimeRoutes();
  }

  /** The socket path for a CNI vhost-user pod that did not name one. */
  Path defaultSocket(String podName) {
    return cniPods.defaultSocket(podName);
  }

  // ---------------------------------------------------------------- watching

  /**
   * Starts a daemon thread that reloads when the config file's directory changes: events are
   * debounced ({@link Options#debounce()} of quiet), and nothing happens if the file's bytes are
   * the same as last time.
   *
   * @throws IOException if the directory cannot be watched
   */
  public synchronized void watch() throws IOException {
    if (watcher == null) {
      watcher = new ConfigWatcher(options.configFile(), options.debounce(), this::reloadSafely);
    }
  }

  /**
   * A reload that cannot end the watch: whatever goes wrong (a loader or dataplane bug, a file
   * nested deep enough to overflow the parser's stack) is logged, and the next change is read.
   */
  void reloadSafely() {
    try {
      reloadIfChanged();
    } catch (RuntimeException | StackOverflowError e) {
      synchronized (this) {
        // Retry these bytes on the next event, in case it was transient.
        configFile.forgetLastSeen();
      }
      LOG.log(
          System.Logger.Level.ERROR,
          "reloading " + options.configFile() + " failed; still watching for changes",
          e);
    }
  }

  private synchronized void reloadIfChanged() {
    if (configFile.changed()) {
      LOG.log(System.Logger.Level.INFO, options.configFile() + " changed; reloading");
      reload();
    }
  }

  /** Stops watching. The dataplane state is left as it is. */
  @Override
  public void close() throws IOException {
    ConfigWatcher w;
    synchronized (this) {
      closed = true;
      peers.close();
      bgp.close();
      ipam.close();
      runtimeRoutes.close();
      w = watcher;
      watcher = null;
      if (w != null) {
        w.stop();
      }
    }
    if (w != null) {
      w.awaitExit(); // not under this monitor: the watcher may be waiting for it
    }
  }
}
