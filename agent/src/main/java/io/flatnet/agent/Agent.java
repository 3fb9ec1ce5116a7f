package io.flatnet.agent;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.config.ConfigError;
import io.flatnet.agent.config.ConfigException;
import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.ConfigValidator;
import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.config.IpNet;
import io.flatnet.agent.config.MacAddress;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.config.PeerConfig;
import io.flatnet.agent.config.PodConfig;
import io.flatnet.agent.config.RouteConfig;
import io.flatnet.agent.ipam.Ipam;
import io.flatnet.agent.ipam.IpamException;
import io.flatnet.agent.state.DesiredState;
import io.flatnet.agent.state.Plan;
import io.flatnet.agent.state.PlanApplyException;
import io.flatnet.agent.state.Planner;
import io.flatnet.control.DataplaneApi;
import io.flatnet.control.PodSpec;
import io.flatnet.control.State;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

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
 *   <li>It is the {@link AgentProtocol.Handler} of the control socket: the CNI plugin's pods are
 *       added to the desired state, validated together with the config, and kept under {@code
 *       <stateDir>/pods/} across restarts.
 * </ul>
 *
 * All state changes are serialised on this object's monitor.
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
  private final DataplaneApi dataplane;
  private final RuntimePods runtimePods;
  private final Path runtimeRoutesFile;
  private List<RouteConfig> runtimeRoutes;

  private NodeConfig lastGood;
  private State lastGoodState;
  private long generation;
  private byte[] lastSeenBytes;
  private ApplyResult lastResult;

  private WatchService watchService;
  private Thread watcher;

  /** The peer source's latest list (all of it: validation picks from it). */
  private List<PeerConfig> publishedPeers = List.of();

  /** The published peers in use: valid together with the config; the rest are in peerProblems. */
  private List<PeerConfig> sourcePeers = List.of();

  /** Published peers left out, by name: their errors (logged when they change). */
  private Map<String, String> peerProblems = Map.of();

  private boolean subscribed;
  private ScheduledFuture<?> peerRefresh;
  private ScheduledExecutorService peerTimer;
  private ScheduledExecutorService ipamTimer;
  private boolean closed;

  /**
   * @throws IOException if the state directory cannot be created or read
   */
  public Agent(Options options, DataplaneApi dataplane) throws IOException {
    this.options = options;
    this.dataplane = dataplane;
    this.runtimePods = new RuntimePods(options.stateDir());
    this.runtimeRoutesFile = options.stateDir().resolve("routes.json");
    this.runtimeRoutes =
        Files.exists(runtimeRoutesFile)
            ? List.of(ROUTES_JSON.readValue(runtimeRoutesFile.toFile(), RouteConfig[].class))
            : List.of();
  }

  private static final ObjectMapper ROUTES_JSON =
      JsonMapper.builder().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

  /** The config plus the routes added at run time (ctl route add), which follow its own. */
  private NodeConfig withRuntimeRoutes(NodeConfig config) {
    return withRoutes(config, runtimeRoutes);
  }

  private static NodeConfig withRoutes(NodeConfig config, List<RouteConfig> extra) {
    if (extra.isEmpty()) {
      return config;
    }
    List<RouteConfig> routes = new ArrayList<>(config.routes());
    routes.addAll(extra);
    return config.withRoutes(routes);
  }

  private static NodeConfig withPeers(NodeConfig config, List<PeerConfig> extra) {
    if (extra.isEmpty()) {
      return config;
    }
    List<PeerConfig> peers = new ArrayList<>(config.peers());
    peers.addAll(extra);
    return config.withPeers(peers);
  }

  /** The last good config with {@code routes} as the runtime routes and the peers in use. */
  private NodeConfig current(List<RouteConfig> routes) {
    return withPeers(withRoutes(lastGood, routes), sourcePeers);
  }

  /**
   * Initial reconcile: the same as {@link #reload()}; then follows the {@link Options#peerSource()}
   * (its changes are applied {@link Options#debounce()} after the first of a burst).
   */
  public ApplyResult start() {
    boolean subscribe;
    synchronized (this) {
      subscribe = !subscribed && options.peerSource() != PeerSource.NONE;
      if (subscribe) {
        subscribed = true;
        peerTimer =
            Executors.newSingleThreadScheduledExecutor(
                r -> {
                  Thread t = new Thread(r, "flatnet-agent-peers");
                  t.setDaemon(true);
                  return t;
                });
      }
    }
    if (subscribe) {
      // Not under this monitor: a source may call back at once, from its own thread.
      options.peerSource().subscribe(this::peersPublished);
    }
    ApplyResult r = reload();
    startIpamGc();
    return r;
  }

  private synchronized void startIpamGc() {
    if (options.ipamDir() == null || ipamTimer != null || closed) {
      return;
    }
    collectIpam();
    ipamTimer =
        Executors.newSingleThreadScheduledExecutor(
            t -> {
              Thread th = new Thread(t, "flatnet-agent-ipam-gc");
              th.setDaemon(true);
              return th;
            });
    long every = Options.IPAM_GC_INTERVAL.toMillis();
    ipamTimer.scheduleWithFixedDelay(this::collectIpam, every, every, TimeUnit.MILLISECONDS);
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
    if (options.ipamDir() == null) {
      return Map.of();
    }
    try {
      Optional<Set<String>> live = runtimePods.containerIdsIfComplete();
      if (live.isEmpty()) {
        LOG.log(
            System.Logger.Level.WARNING,
            "IPAM addresses not collected: a CNI pod record in "
                + options.stateDir()
                + "/pods is unreadable (.bad) or has no container ID");
        return Map.of();
      }
      Map<String, List<IpAddress>> freed =
          Ipam.gcAll(options.ipamDir(), live.get(), Options.IPAM_GC_MIN_AGE);
      freed.forEach(
          (network, addresses) ->
              LOG.log(
                  System.Logger.Level.INFO,
                  "IPAM "
                      + network
                      + ": freed "
                      + addresses
                      + " (their containers are no CNI pod any more)"));
      return freed;
    } catch (IOException | IpamException | RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "IPAM collection failed; trying again later", e);
      return Map.of();
    }
  }

  private synchronized void peersPublished(List<PeerConfig> peers) {
    publishedPeers = List.copyOf(peers);
    if (closed || peerTimer == null || peerRefresh != null) {
      return; // a refresh is already due: it will read the latest list
    }
    peerRefresh =
        peerTimer.schedule(
            this::refreshPeers, options.debounce().toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * Applies the peer source's latest list now: with the last good config, its valid peers replace
   * the ones in use. Nothing happens before the first good config (its reload takes them in).
   */
  public synchronized ApplyResult refreshPeers() {
    peerRefresh = null;
    if (lastGood == null || closed) {
      return lastResult;
    }
    NodeConfig base = withRuntimeRoutes(lastGood);
    List<PeerConfig> use = selectSourcePeers(base, runtimePods.configs());
    if (use.equals(sourcePeers)) {
      return new ApplyResult.Unchanged(generation);
    }
    State desired = DesiredState.from(withPeers(base, use), runtimePods.configs());
    LOG.log(
        System.Logger.Level.INFO,
        "peers changed: "
            + use.stream().map(PeerConfig::name).toList()
            + " (config peers: "
            + base.peers().size()
            + ")");
    ApplyResult r = reconcile(desired);
    if (r.ok()) {
      sourcePeers = use;
      lastGoodState = desired;
    }
    lastResult = r;
    return r;
  }

  /** The peers from the {@link PeerSource} in use (valid with the config), in order. */
  public synchronized List<PeerConfig> sourcePeers() {
    return sourcePeers;
  }

  /** Peers from the {@link PeerSource} left out, by name: why (the validator's errors). */
  public synchronized Map<String, String> peerProblems() {
    return peerProblems;
  }

  /**
   * The published peers that may be used with {@code base} (a valid config) and {@code pods}: all
   * of them if they validate together; else the ones with errors of their own are left out (a later
   * peer is the one that overlaps an earlier: those in use already, unchanged, come first), and if
   * errors remain elsewhere (a route of the config that a peer's pod CIDR duplicates), each peer is
   * tried on its own. Problems are logged when they change.
   */
  private List<PeerConfig> selectSourcePeers(NodeConfig base, Collection<PodConfig> pods) {
    String self = base.node().name();
    int first = base.peers().size();
    List<PeerConfig> trial = new ArrayList<>();
    for (PeerConfig p : publishedPeers) {
      if (p != null && !Objects.equals(p.name(), self)) {
        trial.add(p);
      }
    }
    trial.sort(
        Comparator.comparing((PeerConfig p) -> !sourcePeers.contains(p))
            .thenComparing(PeerConfig::name, Comparator.nullsFirst(Comparator.naturalOrder())));
    Map<String, String> problems = new TreeMap<>();
    List<PeerConfig> use = null;
    while (use == null) {
      List<ConfigError> errors = options.validator().validate(withPeers(base, trial), pods);
      if (errors.isEmpty()) {
        use = trial;
        break;
      }
      Map<Integer, List<ConfigError>> own = new TreeMap<>();
      for (ConfigError e : errors) {
        Matcher m = PEER_PATH.matcher(e.path());
        if (m.lookingAt() && Integer.parseInt(m.group(1)) >= first) {
          own.computeIfAbsent(Integer.parseInt(m.group(1)) - first, i -> new ArrayList<>()).add(e);
        }
      }
      if (own.isEmpty()) {
        use = new ArrayList<>();
        for (PeerConfig p : trial) {
          List<PeerConfig> with = new ArrayList<>(use);
          with.add(p);
          List<ConfigError> alone = options.validator().validate(withPeers(base, with), pods);
          if (alone.isEmpty()) {
            use.add(p);
          } else {
            problems.put(p.name(), describe(alone, first, with));
          }
        }
        break;
      }
      List<PeerConfig> next = new ArrayList<>();
      for (int i = 0; i < trial.size(); i++) {
        List<ConfigError> mine = own.get(i);
        if (mine == null) {
          next.add(trial.get(i));
        } else {
          problems.put(String.valueOf(trial.get(i).name()), describe(mine, first, trial));
        }
      }
      trial = next;
    }
    for (Map.Entry<String, String> e : problems.entrySet()) {
      if (!e.getValue().equals(peerProblems.get(e.getKey()))) {
        LOG.log(
            System.Logger.Level.WARNING,
            "peer node " + e.getKey() + ": left out (the other peers apply): " + e.getValue());
      }
    }
    for (String name : peerProblems.keySet()) {
      if (!problems.containsKey(name)) {
        LOG.log(
            System.Logger.Level.INFO, "peer node " + name + ": no longer left out (fixed or gone)");
      }
    }
    peerProblems = Collections.unmodifiableMap(problems);
    use.sort(
        Comparator.comparing(PeerConfig::name, Comparator.nullsFirst(Comparator.naturalOrder())));
    return List.copyOf(use);
  }

  private static final Pattern PEER_PATH = Pattern.compile("peers\\[(\\d+)\\]");

  /**
   * The errors as one line, with {@code peers[i]} of a source peer renamed {@code nodes[name]}
   * ({@code sources} are the source peers at indexes from {@code first} on).
   */
  private static String describe(List<ConfigError> errors, int first, List<PeerConfig> sources) {
    return errors.stream()
        .map(e -> renamePeers(e.toString(), first, sources))
        .collect(Collectors.joining("; "));
  }

  private static String renamePeers(String text, int first, List<PeerConfig> sources) {
    return PEER_PATH
        .matcher(text)
        .replaceAll(
            m -> {
              int i = Integer.parseInt(m.group(1)) - first;
              return i >= 0 && i < sources.size()
                  ? Matcher.quoteReplacement("nodes[" + sources.get(i).name() + "]")
                  : Matcher.quoteReplacement(m.group());
            });
  }

  /** An error list as one line, naming source peers by name. */
  private String joined(List<ConfigError> errors) {
    return describe(errors, lastGood == null ? 0 : lastGood.peers().size(), sourcePeers);
  }

  /** Loads, validates and applies the config file now (SIGHUP). */
  public synchronized ApplyResult reload() {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(options.configFile());
    } catch (IOException e) {
      return rejected(
          List.of(new ConfigError("(file)", options.configFile().toString(), "cannot read: " + e)));
    }
    lastSeenBytes = bytes;
    NodeConfig config;
    try {
      config =
          ConfigLoader.parse(
              new String(bytes, StandardCharsets.UTF_8), options.configFile().toString());
    } catch (ConfigException e) {
      return rejected(e.errors());
    }
    NodeConfig effective = withRuntimeRoutes(config);
    List<ConfigError> errors = options.validator().validate(effective, runtimePods.configs());
    if (!errors.isEmpty()) {
      return rejected(errors);
    }
    List<PeerConfig> use = selectSourcePeers(effective, runtimePods.configs());
    State desired = DesiredState.from(withPeers(effective, use), runtimePods.configs());
    ApplyResult r = reconcile(desired);
    if (r.ok()) {
      lastGood = config;
      lastGoodState = desired;
      sourcePeers = use;
    }
    lastResult = r;
    return r;
  }

  private ApplyResult rejected(List<ConfigError> errors) {
    LOG.log(
        System.Logger.Level.ERROR,
        options.configFile()
            + ": not applied, "
            + errors.size()
            + (errors.size() == 1 ? " error" : " errors")
            + (lastGood == null
                ? " (no valid config applied yet)"
                : " (keeping generation " + generation + ")"));
    for (ConfigError e : errors) {
      LOG.log(System.Logger.Level.ERROR, "  " + e);
    }
    lastResult = new ApplyResult.Rejected(errors);
    return lastResult;
  }

  /** Diffs {@code desired} against the dataplane and applies the plan; rolls back on failure. */
  private ApplyResult reconcile(State desired) {
    State installed = dataplane.installed();
    generation = Math.max(generation, installed.generation());
    Plan plan = Planner.plan(installed, desired, generation + 1);
    if (plan.isEmpty()) {
      LOG.log(
          System.Logger.Level.DEBUG, "generation " + generation + " is current; nothing to apply");
      return new ApplyResult.Unchanged(generation);
    }
    LOG.log(System.Logger.Level.INFO, "applying " + plan);
    try {
      plan.applyTo(dataplane);
      generation = plan.generation();
      return new ApplyResult.Applied(plan);
    } catch (PlanApplyException e) {
      LOG.log(System.Logger.Level.ERROR, e.getMessage(), e);
      generation = Math.max(plan.generation(), dataplane.installed().generation());
      boolean rolledBack = false;
      if (lastGoodState != null) {
        Plan back = Planner.plan(dataplane.installed(), lastGoodState, generation + 1);
        try {
          LOG.log(System.Logger.Level.WARNING, "restoring the last good state: " + back);
          back.applyTo(dataplane);
          generation = back.generation();
          rolledBack = true;
        } catch (PlanApplyException e2) {
          LOG.log(
              System.Logger.Level.ERROR,
              "restoring the last good state failed too: " + e2.getMessage(),
              e2);
        }
      }
      return new ApplyResult.Failed(e.getMessage(), plan, rolledBack);
    }
  }

  /** The last config that was applied, if any. */
  public synchronized Optional<NodeConfig> lastGoodConfig() {
    return Optional.ofNullable(lastGood);
  }

  /** The state of the last good config plus runtime pods (empty before any). */
  public synchronized State lastGoodState() {
    return lastGoodState == null ? State.EMPTY : lastGoodState.withGeneration(generation);
  }

  /** The highest generation applied (or found installed). */
  public synchronized long generation() {
    return generation;
  }

  /** The result of the last reload or pod change. */
  public synchronized ApplyResult lastResult() {
    return lastResult;
  }

  // ---------------------------------------------------------------- control socket

  @Override
  public synchronized AgentProtocol.Response handle(AgentProtocol.Request request) {
    String op = request.op() == null ? "" : request.op();
    return switch (op) {
      case AgentProtocol.NODE_INFO -> nodeInfo();
      case AgentProtocol.POD_ADD -> podAdd(request);
      case AgentProtocol.POD_DEL -> podDel(request);
      case AgentProtocol.POD_CHECK -> podCheck(request);
      case AgentProtocol.ROUTE_ADD -> routeAdd(request);
      case AgentProtocol.ROUTE_DEL -> routeDel(request);
      default -> AgentProtocol.Response.failure("unknown op \"" + op + "\"");
    };
  }

  private AgentProtocol.Response nodeInfo() {
    if (lastGood == null) {
      return AgentProtocol.Response.retryLater("the agent has no valid node config yet");
    }
    return AgentProtocol.Response.nodeInfo(
        lastGood.node().podCIDRs().stream().map(s -> IpNet.parse(s.trim()).toString()).toList(),
        lastGood.node().gateways().stream()
            .map(s -> IpAddress.parse(s.trim()).toString())
            .toList());
  }

  private boolean isConfigPod(String name) {
    return lastGood != null
        && lastGood.pods().stream().anyMatch(p -> p != null && name.equals(p.name()));
  }

  private AgentProtocol.Response podAdd(AgentProtocol.Request r) {
    if (lastGood == null) {
      return AgentProtocol.Response.retryLater("the agent has no valid node config yet");
    }
    if (r.name() == null || r.name().isBlank()) {
      return AgentProtocol.Response.failure("pod-add: name is required");
    }
    if (isConfigPod(r.name())) {
      return AgentProtocol.Response.failure(
          "pod-add: "
              + r.name()
              + " is defined in "
              + options.configFile()
              + "; it cannot be added by CNI");
    }
    String kind = r.kind() == null ? "" : r.kind();
    String mac = r.mac() != null ? MacAddress.canonical(r.mac()) : MacAddress.derive(r.name());
    PodConfig pod;
    switch (kind) {
      case PodConfig.VHOST_USER -> {
        String socket = r.socket() != null ? r.socket() : defaultSocket(r.name()).toString();
        pod = new PodConfig(r.name(), kind, socket, "server", null, r.ips(), mac);
      }
      case PodConfig.AF_PACKET, PodConfig.TAP, PodConfig.BRIDGE ->
          pod = new PodConfig(r.name(), kind, null, null, r.ifname(), r.ips(), mac);
      default -> {
        return AgentProtocol.Response.failure(
            "pod-add: kind must be vhost-user, af_packet, tap or bridge, not \"" + kind + "\"");
      }
    }
    Collection<PodConfig> candidate = runtimePods.configsWith(r.name(), pod);
    List<ConfigError> errors = options.validator().validate(current(runtimeRoutes), candidate);
    if (!errors.isEmpty()) {
      String msg = joined(errors);
      LOG.log(System.Logger.Level.ERROR, "pod-add " + r.name() + " rejected: " + msg);
      return AgentProtocol.Response.failure(msg);
    }
    RuntimePods.Entry previous = runtimePods.get(r.name());
    ApplyResult result;
    State desired = DesiredState.from(current(runtimeRoutes), candidate);
    try {
      runtimePods.put(new RuntimePods.Entry(r.containerId(), pod));
      try {
        result = reconcile(desired);
      } catch (RuntimeException e) {
        runtimePods.restore(r.name(), previous);
        throw e;
      }
      if (!result.ok()) {
        runtimePods.restore(r.name(), previous);
      }
    } catch (IOException e) {
      return AgentProtocol.Response.failure("pod-add: cannot persist pod state: " + e);
    }
    lastResult = result;
    if (result instanceof ApplyResult.Failed f) {
      return AgentProtocol.Response.failure("pod-add: " + f.error());
    }
    lastGoodState = desired;
    return AgentProtocol.Response.success(pod.socket(), mac);
  }

  private AgentProtocol.Response podDel(AgentProtocol.Request r) {
    if (r.name() == null || r.name().isBlank()) {
      return AgentProtocol.Response.failure("pod-del: name is required");
    }
    if (isConfigPod(r.name())) {
      return AgentProtocol.Response.failure(
          "pod-del: " + r.name() + " is defined in " + options.configFile() + "; remove it there");
    }
    RuntimePods.Entry entry = runtimePods.get(r.name());
    if (entry == null) {
      return AgentProtocol.Response.success(); // unknown: already gone
    }
    if (r.containerId() != null
        && entry.containerId() != null
        && !r.containerId().equals(entry.containerId())) {
      LOG.log(
          System.Logger.Level.INFO,
          "pod-del "
              + r.name()
              + " for container "
              + r.containerId()
              + " ignored: the pod now belongs to "
              + entry.containerId());
      return AgentProtocol.Response.success();
    }
    Collection<PodConfig> candidate = runtimePods.configsWith(r.name(), null);
    State desired;
    if (lastGood != null) {
      desired = DesiredState.from(current(runtimeRoutes), candidate);
    } else {
      State installed = dataplane.installed();
      java.util.SortedMap<String, PodSpec> pods = new java.util.TreeMap<>(installed.pods());
      pods.remove(r.name());
      desired = new State(0, installed.ports(), pods, installed.routes());
    }
    ApplyResult result = reconcile(desired);
    lastResult = result;
    if (result instanceof ApplyResult.Failed f) {
      return AgentProtocol.Response.failure("pod-del: " + f.error());
    }
    try {
      runtimePods.remove(r.name());
    } catch (IOException e) {
      return AgentProtocol.Response.failure("pod-del: cannot persist pod state: " + e);
    }
    if (lastGood != null) {
      lastGoodState = desired;
    }
    return AgentProtocol.Response.success();
  }

  private AgentProtocol.Response podCheck(AgentProtocol.Request r) {
    if (r.name() == null) {
      return AgentProtocol.Response.failure("pod-check: name is required");
    }
    if (lastGoodState == null) {
      return AgentProtocol.Response.retryLater("the agent has no valid node config yet");
    }
    RuntimePods.Entry entry = runtimePods.get(r.name());
    if (entry == null && !isConfigPod(r.name())) {
      return AgentProtocol.Response.failure("pod-check: unknown pod " + r.name());
    }
    if (entry != null
        && r.containerId() != null
        && entry.containerId() != null
        && !r.containerId().equals(entry.containerId())) {
      return AgentProtocol.Response.failure(
          "pod-check: "
              + r.name()
              + " belongs to container "
              + entry.containerId()
              + ", not "
              + r.containerId());
    }
    PodSpec want = lastGoodState.pods().get(r.name());
    PodSpec have = dataplane.installed().pods().get(r.name());
    if (have == null) {
      return AgentProtocol.Response.failure(
          "pod-check: " + r.name() + " is not installed in the dataplane");
    }
    if (!have.equals(want)) {
      return AgentProtocol.Response.failure(
          "pod-check: " + r.name() + " is installed as " + have + " but should be " + want);
    }
    List<String> problems = dataplane.podProblems(r.name());
    if (!problems.isEmpty()) {
      return AgentProtocol.Response.failure(
          "pod-check: " + r.name() + ": " + String.join("; ", problems));
    }
    return AgentProtocol.Response.success(have.socket(), have.mac());
  }

  /** The routes added at run time (ctl route add), in order. */
  public synchronized List<RouteConfig> runtimeRoutes() {
    return runtimeRoutes;
  }

  private AgentProtocol.Response routeAdd(AgentProtocol.Request r) {
    if (lastGood == null) {
      return AgentProtocol.Response.retryLater("the agent has no valid node config yet");
    }
    if (r.prefix() == null || r.port() == null) {
      return AgentProtocol.Response.failure("route-add: prefix and port are required");
    }
    List<RouteConfig> candidate = new ArrayList<>();
    for (RouteConfig route : runtimeRoutes) {
      if (!samePrefix(route.prefix(), r.prefix())) {
        candidate.add(route);
      }
    }
    candidate.add(new RouteConfig(r.prefix().trim(), r.via(), r.port()));
    return changeRoutes("route-add", candidate);
  }

  private AgentProtocol.Response routeDel(AgentProtocol.Request r) {
    if (lastGood == null) {
      return AgentProtocol.Response.retryLater("the agent has no valid node config yet");
    }
    if (r.prefix() == null) {
      return AgentProtocol.Response.failure("route-del: prefix is required");
    }
    List<RouteConfig> candidate = new ArrayList<>(runtimeRoutes);
    if (!candidate.removeIf(route -> samePrefix(route.prefix(), r.prefix()))) {
      boolean configured =
          lastGood.routes().stream().anyMatch(route -> samePrefix(route.prefix(), r.prefix()));
      return configured
          ? AgentProtocol.Response.failure(
              "route-del: "
                  + r.prefix()
                  + " is defined in "
                  + options.configFile()
                  + "; remove it there")
          : AgentProtocol.Response.success(); // unknown: already gone
    }
    return changeRoutes("route-del", candidate);
  }

  private static boolean samePrefix(String a, String b) {
    try {
      return IpNet.parse(a.trim()).equals(IpNet.parse(b.trim()));
    } catch (IllegalArgumentException e) {
      return a.trim().equals(b.trim());
    }
  }

  /** Validates, applies and persists {@code candidate} as the runtime routes. */
  private AgentProtocol.Response changeRoutes(String op, List<RouteConfig> candidate) {
    NodeConfig effective = current(candidate);
    List<ConfigError> errors = options.validator().validate(effective, runtimePods.configs());
    if (!errors.isEmpty()) {
      return AgentProtocol.Response.failure(op + ": " + joined(errors));
    }
    State desired = DesiredState.from(effective, runtimePods.configs());
    ApplyResult result = reconcile(desired);
    lastResult = result;
    if (result instanceof ApplyResult.Failed f) {
      return AgentProtocol.Response.failure(op + ": " + f.error());
    }
    try {
      Path tmp = runtimeRoutesFile.resolveSibling("routes.json.tmp");
      ROUTES_JSON.writeValue(tmp.toFile(), candidate);
      Files.move(
          tmp,
          runtimeRoutesFile,
          StandardCopyOption.REPLACE_EXISTING,
          StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      return AgentProtocol.Response.failure(op + ": cannot persist the routes: " + e);
    }
    runtimeRoutes = List.copyOf(candidate);
    lastGoodState = desired;
    return AgentProtocol.Response.success();
  }

  /** The socket path for a CNI vhost-user pod that did not name one. */
  Path defaultSocket(String podName) {
    String readable = podName.replaceAll("[^A-Za-z0-9_.-]", "_") + ".sock";
    Path p = options.vhostSocketDir().resolve(readable);
    if (p.toString().getBytes(StandardCharsets.UTF_8).length
        <= ConfigValidator.MAX_SOCKET_PATH_BYTES) {
      return p;
    }
    String hash = MacAddress.derive(podName).substring(3).replace(":", "");
    return options.vhostSocketDir().resolve("pod-" + hash + ".sock");
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
    if (watcher != null) {
      return;
    }
    Path dir = options.configFile().toAbsolutePath().getParent();
    watchService = FileSystems.getDefault().newWatchService();
    dir.register(
        watchService,
        StandardWatchEventKinds.ENTRY_CREATE,
        StandardWatchEventKinds.ENTRY_MODIFY,
        StandardWatchEventKinds.ENTRY_DELETE);
    WatchService ws = watchService;
    watcher = new Thread(() -> watchLoop(ws), "flatnet-agent-watch");
    watcher.setDaemon(true);
    watcher.start();
  }

  private void watchLoop(WatchService ws) {
    try {
      while (true) {
        WatchKey key = ws.take();
        drain(key);
        WatchKey more;
        while ((more = ws.poll(options.debounce().toMillis(), TimeUnit.MILLISECONDS)) != null) {
          drain(more);
        }
        reloadSafely();
      }
    } catch (InterruptedException | ClosedWatchServiceException e) {
      // closing
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
        lastSeenBytes = null; // retry these bytes on the next event, in case it was transient
      }
      LOG.log(
          System.Logger.Level.ERROR,
          "reloading " + options.configFile() + " failed; still watching for changes",
          e);
    }
  }

  private static void drain(WatchKey key) {
    key.pollEvents();
    key.reset();
  }

  private synchronized void reloadIfChanged() {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(options.configFile());
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "cannot read " + options.configFile() + ": " + e);
      return;
    }
    if (lastSeenBytes != null && Arrays.equals(bytes, lastSeenBytes)) {
      return;
    }
    LOG.log(System.Logger.Level.INFO, options.configFile() + " changed; reloading");
    reload();
  }

  /** Stops watching. The dataplane state is left as it is. */
  @Override
  public void close() throws IOException {
    Thread t;
    synchronized (this) {
      closed = true;
      if (peerTimer != null) {
        peerTimer.shutdownNow();
        peerTimer = null;
      }
      if (ipamTimer != null) {
        ipamTimer.shutdownNow();
        ipamTimer = null;
      }
      t = watcher;
      watcher = null;
      if (watchService != null) {
        watchService.close();
        watchService = null;
      }
    }
    if (t != null) {
      t.interrupt();
      try {
        t.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
