package io.flatnet.agent.cni;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.flatnet.agent.api.AgentClient;
import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.config.ConfigValidator;
import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.config.IpNet;
import io.flatnet.agent.config.MacAddress;
import io.flatnet.agent.ipam.Ipam;
import io.flatnet.agent.ipam.IpamException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The flatnet CNI plugin (CNI spec 1.0.0; also answers 0.3.0, 0.3.1 and 0.4.0 configs): {@code
 * CNI_COMMAND} ADD, DEL, CHECK or VERSION, the CNI_* environment, the network config JSON on stdin,
 * a result or error JSON on stdout (exit 0 or 1), diagnostics on stderr. Run by {@code
 * bin/flatnet-cni}.
 *
 * <ul>
 *   <li>ADD: allocates one address per family ({@link Ipam}, under {@code <ipamDir>/<name>/}); for
 *       a {@code netns} pod creates the veth pair and configures the pod end ({@link
 *       NetnsPlumber}), puts the host end on the shared pod bridge ({@link PodSegment}: isolated,
 *       and guarded by a static FDB entry and nftables rules that bind it to the pod's MAC and
 *       addresses; or, with {@code "attach": "port"}, leaves it for the router to attach as its own
 *       af_packet port), then asks the agent to route the pod; for a {@code vhost-user} pod asks
 *       the agent to serve a vhost-user socket. Anything that fails undoes what was done before it.
 *   <li>DEL: detaches the pod at the agent, deletes the veth pair and its guards, frees the
 *       addresses. Every step tolerates "already gone", so DEL of an unknown container succeeds; a
 *       missing agent socket (agent not running) is a warning, not an error.
 *   <li>CHECK: the addresses are still allocated and match prevResult, the agent has the pod and
 *       the router routes its addresses to it, and (netns) the pod interface holds them with a
 *       default route via each gateway, and the host end is up (on the bridge, isolated, with its
 *       guards: learning off, the static FDB entry, the nftables map element and chain).
 * </ul>
 */
public final class CniMain {

  /** The CNI versions this plugin speaks. */
  public static final List<String> SUPPORTED_VERSIONS = List.of("0.3.0", "0.3.1", "0.4.0", "1.0.0");

  private static final ObjectMapper JSON =
      JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

  private final NetnsPlumber plumber;

  public CniMain(NetnsPlumber plumber) {
    this.plumber = plumber;
  }

  public static void main(String[] args) {
    int code =
        new CniMain(IpCommandPlumber.system())
            .run(System.getenv(), System.in, System.out, System.err);
    System.out.flush();
    System.exit(code);
  }

  /** The CNI_* variables. */
  record Env(
      String command,
      String containerId,
      String netns,
      String ifname,
      Map<String, String> args,
      String path) {

    /** The pod's name for the agent: {@link CniMain#podName(Map, String)}. */
    String podName() {
      return CniMain.podName(args, containerId);
    }
  }

  /** What a pod name must look like for the agent (ConfigValidator's POD_NAME, one side). */
  private static final Pattern NAME_PART =
      Pattern.compile("[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?");

  /** The longest container name taken as a pod name (a Kubernetes object name's limit). */
  static final int MAX_NAME = 253;

  /**
   * The pod's name for the agent ("namespace/name"), from {@code CNI_ARGS}:
   *
   * <ol>
   *   <li>{@code K8S_POD_NAMESPACE/K8S_POD_NAME} when both are set (kubelet and the CRI runtimes);
   *   <li>{@code podman/K8S_POD_NAME} when only {@code K8S_POD_NAME} is set: podman's CNI backend
   *       (containers/common, also buildah) passes {@code IgnoreUnknown=1;K8S_POD_NAME=<container
   *       name>} and no namespace; used if the name is a valid pod name part (letters, digits,
   *       {@code -_.}, starting and ending with a letter or digit, at most {@value #MAX_NAME});
   *   <li>else {@code cni/CONTAINERID}.
   * </ol>
   */
  static String podName(Map<String, String> args, String containerId) {
    String ns = args.get("K8S_POD_NAMESPACE");
    String pod = args.get("K8S_POD_NAME");
    boolean hasNs = ns != null && !ns.isBlank();
    boolean hasPod = pod != null && !pod.isBlank();
    if (hasNs && hasPod) {
      return ns + "/" + pod;
    }
    if (hasPod && !hasNs && pod.length() <= MAX_NAME && NAME_PART.matcher(pod).matches()) {
      return "podman/" + pod;
    }
    return "cni/" + containerId;
  }

  /**
   * Runs one command.
   *
   * @return the exit code: 0, or 1 after printing an error result
   */
  public int run(
      Map<String, String> env, InputStream stdin, PrintStream stdout, PrintStream stderr) {
    String version = "1.0.0";
    try {
      String command = env.get("CNI_COMMAND");
      if (command == null || command.isBlank()) {
        throw new CniError(CniError.INVALID_ENV, "CNI_COMMAND is not set");
      }
      byte[] input;
      try {
        input = stdin.readAllBytes();
      } catch (IOException e) {
        throw new CniError(
            CniError.IO_FAILURE, "cannot read the network config from stdin", e.toString());
      }
      if (command.equals("VERSION")) {
        stdout.println(print(versionResult(input)));
        return 0;
      }
      JsonNode root;
      try {
        root = JSON.readTree(input);
      } catch (JacksonException e) {
        throw new CniError(
            CniError.DECODE_FAILURE,
            "the network config on stdin is not valid JSON",
            e.getOriginalMessage());
      } catch (IOException e) {
        throw new CniError(CniError.IO_FAILURE, "cannot read the network config", e.toString());
      }
      if (root != null && SUPPORTED_VERSIONS.contains(root.path("cniVersion").asText())) {
        version = root.path("cniVersion").asText();
      }
      CniConfig config = CniConfig.parse(root);
      Env e = env(env, command);
      switch (command) {
        case "ADD" -> stdout.println(print(add(config, e, stderr)));
        case "DEL" -> del(config, e, stderr);
        case "CHECK" -> check(config, e);
        default -> throw new IllegalStateException(command);
      }
      return 0;
    } catch (CniError e) {
      ObjectNode err = JSON.createObjectNode();
      err.put("cniVersion", version);
      err.put("code", e.code());
      err.put("msg", e.getMessage());
      if (e.details() != null) {
        err.put("details", e.details());
      }
      stdout.println(print(err));
      stderr.println(
          "flatnet-cni: error "
              + e.code()
              + ": "
              + e.getMessage()
              + (e.details() == null ? "" : " (" + e.details() + ")"));
      return 1;
    } catch (RuntimeException e) {
      ObjectNode err = JSON.createObjectNode();
      err.put("cniVersion", version);
      err.put("code", CniError.IO_FAILURE);
      err.put("msg", "internal error: " + e);
      stdout.println(print(err));
      e.printStackTrace(stderr);
      return 1;
    }
  }

  private static ObjectNode versionResult(byte[] input) {
    String asked = null;
    try {
      JsonNode root = JSON.readTree(input);
      if (root != null) {
        asked = root.path("cniVersion").asText(null);
      }
    } catch (IOException e) {
      // VERSION answers whatever stdin holds
    }
    ObjectNode out = JSON.createObjectNode();
    out.put("cniVersion", asked != null && SUPPORTED_VERSIONS.contains(asked) ? asked : "1.0.0");
    ArrayNode versions = out.putArray("supportedVersions");
    SUPPORTED_VERSIONS.forEach(versions::add);
    return out;
  }

  static Env env(Map<String, String> env, String command) throws CniError {
    if (!Set.of("ADD", "DEL", "CHECK").contains(command)) {
      throw new CniError(
          CniError.INVALID_ENV,
          "unknown CNI_COMMAND \"" + command + "\"",
          "expected ADD, DEL, CHECK or VERSION");
    }
    String containerId = required(env, "CNI_CONTAINERID");
    if (!containerId.matches("[A-Za-z0-9][A-Za-z0-9_.\\-]*")) {
      throw new CniError(
          CniError.INVALID_ENV,
          "invalid CNI_CONTAINERID \"" + containerId + "\"",
          "letters, digits, '_', '.', '-'; starting with a letter or digit");
    }
    String ifname = required(env, "CNI_IFNAME");
    if (ifname.getBytes(StandardCharsets.UTF_8).length > ConfigValidator.MAX_IFNAME_BYTES
        || !ifname.matches("[^/:\\s]+")
        || ifname.equals(".")
        || ifname.equals("..")) {
      throw new CniError(CniError.INVALID_ENV, "invalid CNI_IFNAME \"" + ifname + "\"");
    }
    String netns = env.get("CNI_NETNS");
    if (!command.equals("DEL") && (netns == null || netns.isBlank())) {
      throw new CniError(CniError.INVALID_ENV, "CNI_NETNS is not set");
    }
    Map<String, String> args = new LinkedHashMap<>();
    String raw = env.getOrDefault("CNI_ARGS", "");
    for (String pair : raw.split(";")) {
      if (pair.isBlank()) {
        continue;
      }
      int eq = pair.indexOf('=');
      if (eq <= 0) {
        throw new CniError(
            CniError.INVALID_ENV, "invalid CNI_ARGS \"" + raw + "\"", "expected K=V;K2=V2");
      }
      args.put(pair.substring(0, eq).trim(), pair.substring(eq + 1).trim());
    }
    return new Env(command, containerId, netns, ifname, args, env.get("CNI_PATH"));
  }

  private static String required(Map<String, String> env, String key) throws CniError {
    String v = env.get(key);
    if (v == null || v.isBlank()) {
      throw new CniError(CniError.INVALID_ENV, key + " is not set");
    }
    return v;
  }

  // ---------------------------------------------------------------- ADD

  private ObjectNode add(CniConfig cfg, Env env, PrintStream stderr) throws CniError {
    List<IpNet> ranges = cfg.podCIDRs();
    List<IpAddress> gateways = cfg.gateways();
    if (ranges.isEmpty()) {
      AgentProtocol.Response info = callAgent(cfg, AgentProtocol.Request.nodeInfo());
      ranges = new ArrayList<>();
      gateways = new ArrayList<>();
      for (String s : info.podCIDRs() == null ? List.<String>of() : info.podCIDRs()) {
        ranges.add(IpNet.parse(s));
      }
      for (String s : info.gateways() == null ? List.<String>of() : info.gateways()) {
        gateways.add(IpAddress.parse(s));
      }
      if (ranges.isEmpty()) {
        throw new CniError(
            CniError.INVALID_CONFIG, "no podCIDRs in the config and none from the agent");
      }
    }
    for (IpNet r : ranges) {
      if (gateways.stream().noneMatch(g -> g.family() == r.family())) {
        throw new CniError(
            CniError.INVALID_CONFIG, "no IPv" + r.family() + " gateway for the pod CIDR " + r);
      }
    }
    if (cfg.kind().equals(CniConfig.NETNS) && !Files.exists(Path.of(env.netns()))) {
      throw new CniError(
          CniError.UNKNOWN_CONTAINER, "the network namespace " + env.netns() + " does not exist");
    }
    Ipam ipam = new Ipam(cfg.ipamDir(), cfg.name(), ranges, gateways);
    List<IpAddress> ips = allocate(ipam, env);
    List<IpAddress> gws = new ArrayList<>();
    for (IpAddress a : ips) {
      gateways.stream().filter(g -> g.family() == a.family()).findFirst().ifPresent(gws::add);
    }
    String mac = MacAddress.derive(env.containerId() + "/" + env.ifname());
    String hostIface = hostIfaceName(env.containerId(), env.ifname());
    boolean plumbed = false;
    try {
      AgentProtocol.Request request;
      String socket = null;
      if (cfg.kind().equals(CniConfig.NETNS)) {
        try {
          plumber.add(env.netns(), env.ifname(), hostIface, mac, ips, gws, cfg.mtu(), cfg.shared());
          plumbed = true;
        } catch (NetnsPlumber.PlumbingException e) {
          throw new CniError(
              CniError.PLUMBING_FAILED, "setting up " + env.ifname() + " failed", e.getMessage());
        }
        request =
            new AgentProtocol.Request(
                AgentProtocol.POD_ADD,
                env.podName(),
                env.containerId(),
                cfg.shared() ? "bridge" : "af_packet",
                strings(ips),
                mac,
                null,
                env.netns(),
                hostIface);
      } else {
        socket = vhostSocket(cfg, env).toString();
        request =
            new AgentProtocol.Request(
                AgentProtocol.POD_ADD,
                env.podName(),
                env.containerId(),
                "vhost-user",
                strings(ips),
                mac,
                socket,
                env.netns(),
                null);
      }
      AgentProtocol.Response r = callAgent(cfg, request);
      if (r.socket() != null) {
        socket = r.socket();
      }
      if (r.mac() != null) {
        mac = r.mac();
      }
      return result(cfg, env, ips, gws, mac, hostIface, socket);
    } catch (CniError | RuntimeException e) {
      if (plumbed) {
        try {
          plumber.del(hostIface);
        } catch (NetnsPlumber.PlumbingException e2) {
          stderr.println("flatnet-cni: undoing " + hostIface + " failed: " + e2.getMessage());
        }
      }
      try {
        ipam.release(env.containerId(), env.ifname());
      } catch (IpamException e2) {
        stderr.println("flatnet-cni: freeing " + ips + " failed: " + e2.getMessage());
      }
      throw e;
    }
  }

  private static List<IpAddress> allocate(Ipam ipam, Env env) throws CniError {
    try {
      return ipam.allocate(env.containerId(), env.ifname());
    } catch (IpamException e) {
      if (e.reason() == IpamException.Reason.EXHAUSTED) {
        throw new CniError(CniError.RANGE_EXHAUSTED, "pod address range exhausted", e.getMessage());
      }
      throw new CniError(CniError.IO_FAILURE, "IPAM store failure", e.getMessage());
    }
  }

  private static List<String> strings(List<IpAddress> ips) {
    return ips.stream().map(IpAddress::toString).toList();
  }

  private static ObjectNode result(
      CniConfig cfg,
      Env env,
      List<IpAddress> ips,
      List<IpAddress> gws,
      String mac,
      String hostIface,
      String socket) {
    ObjectNode out = JSON.createObjectNode();
    out.put("cniVersion", cfg.cniVersion());
    ArrayNode ifaces = out.putArray("interfaces");
    ObjectNode pod = ifaces.addObject();
    pod.put("name", env.ifname());
    pod.put("mac", mac);
    pod.put("sandbox", env.netns());
    if (socket != null) {
      pod.put("socketPath", socket);
    }
    if (cfg.kind().equals(CniConfig.NETNS)) {
      ifaces.addObject().put("name", hostIface);
    }
    boolean legacy = !cfg.cniVersion().equals("1.0.0");
    ArrayNode ipArray = out.putArray("ips");
    ArrayNode routes = out.putArray("routes");
    for (IpAddress a : ips) {
      ObjectNode ip = ipArray.addObject();
      if (legacy) {
        ip.put("version", a.isV4() ? "4" : "6");
      }
      ip.put("address", a + (a.isV4() ? "/32" : "/128"));
      IpAddress gw = gws.stream().filter(g -> g.family() == a.family()).findFirst().orElse(null);
      if (gw != null) {
        ip.put("gateway", gw.toString());
        ObjectNode route = routes.addObject();
        route.put("dst", a.isV4() ? "0.0.0.0/0" : "::/0");
        route.put("gw", gw.toString());
      }
      ip.put("interface", 0);
    }
    if (cfg.dns() != null && cfg.dns().isObject()) {
      out.set("dns", cfg.dns().deepCopy());
    } else {
      out.putObject("dns");
    }
    return out;
  }

  /** "fn" + 12 hex digits of SHA-256(containerId/ifname): 14 bytes, within IFNAMSIZ. */
  static String hostIfaceName(String containerId, String ifname) {
    try {
      byte[] h =
          MessageDigest.getInstance("SHA-256")
              .digest((containerId + "/" + ifname).getBytes(StandardCharsets.UTF_8));
      return "fn" + HexFormat.of().formatHex(h, 0, 6);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static Path vhostSocket(CniConfig cfg, Env env) throws CniError {
    String id =
        env.containerId().length() > 12 ? env.containerId().substring(0, 12) : env.containerId();
    Path p = cfg.vhostSocketDir().resolve(id + "-" + env.ifname() + ".sock");
    if (p.toString().getBytes(StandardCharsets.UTF_8).length
        > ConfigValidator.MAX_SOCKET_PATH_BYTES) {
      throw new CniError(
          CniError.INVALID_CONFIG,
          "vhost-user socket path "
              + p
              + " is longer than "
              + ConfigValidator.MAX_SOCKET_PATH_BYTES
              + " bytes",
          "use a shorter vhostSocketDir");
    }
    return p;
  }

  // ---------------------------------------------------------------- DEL

  private void del(CniConfig cfg, Env env, PrintStream stderr) throws CniError {
    try {
      callAgent(cfg, AgentProtocol.Request.podDel(env.podName(), env.containerId()));
    } catch (AgentSocketMissing e) {
      stderr.println("flatnet-cni: DEL: " + e.getMessage() + "; cleaning up locally only");
    }
    if (cfg.kind().equals(CniConfig.NETNS)) {
      try {
        plumber.del(hostIfaceName(env.containerId(), env.ifname()));
      } catch (NetnsPlumber.PlumbingException e) {
        throw new CniError(
            CniError.PLUMBING_FAILED, "deleting the veth pair failed", e.getMessage());
      }
    }
    Ipam ipam = new Ipam(cfg.ipamDir(), cfg.name(), List.of(), List.of());
    try {
      ipam.release(env.containerId(), env.ifname());
    } catch (IpamException e) {
      throw new CniError(CniError.IO_FAILURE, "IPAM store failure", e.getMessage());
    }
  }

  // ---------------------------------------------------------------- CHECK

  private void check(CniConfig cfg, Env env) throws CniError {
    if (cfg.cniVersion().startsWith("0.3.")) {
      throw new CniError(CniError.INCOMPATIBLE_VERSION, "CHECK needs cniVersion 0.4.0 or later");
    }
    JsonNode prev = cfg.prevResult();
    if (prev == null || !prev.isObject()) {
      throw new CniError(CniError.INVALID_CONFIG, "CHECK needs prevResult in the network config");
    }
    Ipam ipam = new Ipam(cfg.ipamDir(), cfg.name(), List.of(), List.of());
    List<IpAddress> have;
    try {
      have = ipam.get(env.containerId(), env.ifname());
    } catch (IpamException e) {
      throw new CniError(CniError.IO_FAILURE, "IPAM store failure", e.getMessage());
    }
    if (have.isEmpty()) {
      throw new CniError(
          CniError.UNKNOWN_CONTAINER,
          "no addresses are allocated to container " + env.containerId() + " on " + env.ifname());
    }
    Set<IpAddress> previous = new HashSet<>();
    List<IpAddress> gws = new ArrayList<>();
    for (JsonNode ip : prev.path("ips")) {
      String text = ip.path("address").asText("");
      int slash = text.indexOf('/');
      try {
        previous.add(IpAddress.parse(slash < 0 ? text : text.substring(0, slash)));
        if (!ip.path("gateway").asText("").isEmpty()) {
          gws.add(IpAddress.parse(ip.path("gateway").asText()));
        }
      } catch (IllegalArgumentException e) {
        throw new CniError(CniError.INVALID_CONFIG, "prevResult: " + e.getMessage());
      }
    }
    if (!previous.equals(new HashSet<>(have))) {
      throw new CniError(
          CniError.CHECK_FAILED,
          "allocated addresses " + have + " differ from prevResult " + previous);
    }
    AgentProtocol.Response r;
    try {
      r = callAgent(cfg, AgentProtocol.Request.podCheck(env.podName(), env.containerId()));
    } catch (CniError e) {
      if (e.code() == CniError.AGENT_REJECTED) {
        throw new CniError(CniError.CHECK_FAILED, e.getMessage(), e.details());
      }
      throw e;
    }
    if (cfg.kind().equals(CniConfig.NETNS)) {
      try {
        plumber.check(
            env.netns(),
            env.ifname(),
            hostIfaceName(env.containerId(), env.ifname()),
            have,
            gws,
            cfg.shared());
      } catch (NetnsPlumber.PlumbingException e) {
        throw new CniError(
            CniError.CHECK_FAILED, "the pod interface is not as it should be", e.getMessage());
      }
    } else if (r.socket() != null && !Files.exists(Path.of(r.socket()))) {
      throw new CniError(
          CniError.CHECK_FAILED, "the vhost-user socket " + r.socket() + " does not exist");
    }
  }

  // ---------------------------------------------------------------- agent

  /** The agent socket does not exist: the agent is not running. */
  private static final class AgentSocketMissing extends CniError {
    private static final long serialVersionUID = 1L;

    AgentSocketMissing(String msg) {
      super(CniError.TRY_AGAIN_LATER, msg, null);
    }
  }

  private static AgentProtocol.Response callAgent(CniConfig cfg, AgentProtocol.Request request)
      throws CniError {
    AgentClient client =
        new AgentClient(cfg.agentSocket(), Duration.ofMillis(cfg.agentTimeoutMs()));
    AgentProtocol.Response r;
    try {
      r = client.call(request);
    } catch (AgentClient.UnavailableException e) {
      if (e.socketMissing()) {
        throw new AgentSocketMissing(e.getMessage());
      }
      throw new CniError(
          CniError.TRY_AGAIN_LATER, "the flatnet agent is unavailable", e.getMessage());
    } catch (IOException e) {
      throw new CniError(CniError.IO_FAILURE, "bad answer from the flatnet agent", e.toString());
    }
    if (!r.ok()) {
      if (r.wantsRetry()) {
        throw new CniError(CniError.TRY_AGAIN_LATER, "the flatnet agent is not ready", r.error());
      }
      throw new CniError(
          CniError.AGENT_REJECTED, "the flatnet agent refused " + request.op(), r.error());
    }
    return r;
  }

  private static String print(JsonNode node) {
    try {
      return JSON.writeValueAsString(node);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
