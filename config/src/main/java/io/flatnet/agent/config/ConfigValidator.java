package io.flatnet.agent.config;

import io.flatnet.agent.config.policy.PolicyValidator;
import io.flatnet.control.Limits;
import io.flatnet.control.PodKinds;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Checks a parsed {@link NodeConfig} and returns <em>every</em> problem, each naming the key path
 * and the value. An empty list means the config may be applied; a config with any error must never
 * be applied. The checks are listed in docs/config.md ("Validation").
 *
 * <p>Gateways: a gateway must be inside one of the node's pod CIDRs of its family (then it is
 * neither the network nor the IPv4 broadcast address, and IPAM never hands it out), or link-local
 * (169.254.0.0/16 or fe80::/10, e.g. 169.254.1.1 and fe80::1, which every node can share). Every
 * family that has a pod CIDR needs exactly one gateway.
 */
public final class ConfigValidator {

  /** sun_path is 108 bytes including the terminating NUL. */
  public static final int MAX_SOCKET_PATH_BYTES = 107;

  /** IFNAMSIZ is 16 including the NUL. */
  public static final int MAX_IFNAME_BYTES = 15;

  /**
   * Ports plus pods one router can hold: each is a DPDK ethdev, and DPDK 22.11 as packaged is built
   * with RTE_MAX_ETHPORTS 32.
   */
  public static final int MAX_DEVICES = Limits.MAX_PORTS;

  public static final int MIN_MTU = Limits.MIN_MTU;
  public static final int MIN_MTU_V6 = 1280;
  public static final int MAX_MTU = Limits.MAX_MTU;

  public static final Set<String> ROLES = Set.of("uplink", "host");
  public static final Set<String> KINDS =
      Set.of(PodConfig.VHOST_USER, PodConfig.TAP, PodConfig.AF_PACKET, PodConfig.BRIDGE);

  /** The router's port on the shared pod bridge (bridge pods): no config port may take it. */
  public static final String SEGMENT_PORT = PodKinds.SEGMENT_PORT;

  /** FRR's {@code maximum-paths}: up to 16 equal paths per prefix (flatnet's groups hold 16). */
  public static final int MAX_BGP_PATHS = 16;

  /** FRR's neighbour description is at most 80 characters. */
  public static final int MAX_BGP_DESCRIPTION = 80;

  /** The longest socket name FRR makes in {@code bgp.frr.runDir}. */
  static final String LONGEST_FRR_SOCKET = "zserv.api";

  /** The FRR daemons flatnet runs from {@code bgp.frr.binDir}. */
  public static final List<String> FRR_DAEMONS = List.of("zebra", "bgpd");

  public static final Set<String> MODES = Set.of("client", "server");
  public static final Set<String> IDLE = Set.of(WorkersConfig.BUSY_SPIN, WorkersConfig.BACKOFF);

  private static final Pattern POD_NAME =
      Pattern.compile(
          "[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?");

  /**
   * Characters a name (port, pod, interface) may use; paths may use '/' too. These names reach DPDK
   * devargs ("net_af_packet0,iface=NAME"), where a ',' or '=' would smuggle in a devarg of the
   * writer's choosing.
   */
  static final String NAME_CHARACTERS = "A-Z a-z 0-9 . _ -";

  private final Set<Integer> onlineCpus;

  /**
   * @param onlineCpus the CPU ids {@code workers.cpus} may name
   */
  public ConfigValidator(Set<Integer> onlineCpus) {
    this.onlineCpus = Set.copyOf(onlineCpus);
  }

  /** A validator for the CPUs online on this machine. */
  public static ConfigValidator forThisMachine() {
    return new ConfigValidator(onlineCpus());
  }

  /**
   * The online CPU ids: /sys/devices/system/cpu/online ("0-3,6"), else 0..availableProcessors-1.
   */
  public static Set<Integer> onlineCpus() {
    try {
      String s = Files.readString(Path.of("/sys/devices/system/cpu/online")).trim();
      Set<Integer> cpus = parseCpuList(s);
      if (!cpus.isEmpty()) {
        return cpus;
      }
    } catch (IOException | RuntimeException e) {
      // fall through
    }
    Set<Integer> cpus = new TreeSet<>();
    for (int i = 0; i < Runtime.getRuntime().availableProcessors(); i++) {
      cpus.add(i);
    }
    return cpus;
  }

  /** Parses a kernel CPU list such as "0-3,6". */
  public static Set<Integer> parseCpuList(String s) {
    Set<Integer> cpus = new TreeSet<>();
    for (String part : s.split(",")) {
      if (part.isBlank()) {
        continue;
      }
      int dash = part.indexOf('-');
      if (dash < 0) {
        cpus.add(Integer.parseInt(part.trim()));
      } else {
        int a = Integer.parseInt(part.substring(0, dash).trim());
        int b = Integer.parseInt(part.substring(dash + 1).trim());
        for (int i = a; i <= b; i++) {
          cpus.add(i);
        }
      }
    }
    return cpus;
  }

  /** Every problem of {@code config}; empty if it may be applied. */
  public List<ConfigError> validate(NodeConfig config) {
    return validate(config, List.of());
  }

  /**
   * Every problem of {@code config} together with pods the CNI plugin added at run time (their
   * paths are {@code cniPods[namespace/name]}); empty if the combination may be applied.
   */
  public List<ConfigError> validate(NodeConfig config, Collection<PodConfig> runtimePods) {
    Run r = new Run();
    r.node(config.node());
    r.ports(config.ports());
    r.overlaps();
    List<Map.Entry<String, PodConfig>> pods = new ArrayList<>();
    for (int i = 0; i < config.pods().size(); i++) {
      pods.add(Map.entry("pods[" + i + "]", nullSafe(config.pods().get(i))));
    }
    for (PodConfig p : runtimePods) {
      pods.add(Map.entry("cniPods[" + p.name() + "]", p));
    }
    r.pods(pods);
    // Each port and each pod is a DPDK ethdev, except bridge pods: they share one (pods0).
    long bridged = pods.stream().filter(e -> PodConfig.BRIDGE.equals(e.getValue().kind())).count();
    int own = (int) (pods.size() - bridged);
    int devices = config.ports().size() + own + (bridged > 0 ? 1 : 0);
    if (devices > MAX_DEVICES) {
      r.error(
          pods.isEmpty() ? "ports" : "pods",
          null,
          "too many ports: "
              + config.ports().size()
              + " ports and "
              + own
              + " pods with a port of their own"
              + (bridged > 0 ? " (and the shared pod bridge port for " + bridged + " more)" : "")
              + " need "
              + devices
              + " DPDK ports; a router has at most "
              + MAX_DEVICES
              + " (RTE_MAX_ETHPORTS); attach netns pods to the shared bridge instead"
              + " (CNI \"attach\": \"shared\", pod kind bridge)");
    }
    r.peers(config.peers());
    r.routes(config.routes());
    if (config.bgp() != null) {
      r.bgp(config);
    }
    r.workers(config.workers());
    r.kubernetes(config.kubernetes());
    r.agent(config.agent());
    r.errors.addAll(PolicyValidator.validate(config.policy()));
    return List.copyOf(r.errors);
  }

  /**
   * With {@code bgp.frr.manage}: an error for each FRR daemon ({@link #FRR_DAEMONS}) that is not an
   * executable file in {@code bgp.frr.binDir}. Not part of {@link #validate}, which checks a config
   * for any machine: the process that runs FRR (flatnet run) checks this at its start.
   */
  public static List<ConfigError> frrInstalled(NodeConfig config) {
    return frrInstalled(config, p -> Files.isRegularFile(p) && Files.isExecutable(p));
  }

  static List<ConfigError> frrInstalled(
      NodeConfig config, java.util.function.Predicate<Path> executable) {
    if (config.bgp() == null || !config.bgp().frr().manage()) {
      return List.of();
    }
    String bin = config.bgp().frr().binDir();
    List<String> missing =
        FRR_DAEMONS.stream().filter(d -> !executable.test(Path.of(bin, d))).toList();
    if (missing.isEmpty()) {
      return List.of();
    }
    return List.of(
        new ConfigError(
            "bgp.frr.binDir",
            bin,
            "no "
                + String.join(" or ", missing)
                + " there: install FRR (Debian: apt-get install frr), point bgp.frr.binDir at its"
                + " daemons, or run FRR yourself with bgp.frr.manage: false"));
  }

  /**
   * What in {@code config} may not work as meant but is no error (see {@link
   * PolicyValidator#warnings}); print or log these, but apply the config.
   */
  public static List<ConfigError> warnings(NodeConfig config, Collection<PodConfig> runtimePods) {
    List<String> attached = new ArrayList<>();
    config.pods().stream().filter(p -> p != null).forEach(p -> attached.add(p.name()));
    runtimePods.forEach(p -> attached.add(p.name()));
    return PolicyValidator.warnings(config.policy(), attached);
  }

  /**
   * Null if {@code value} uses only {@link #NAME_CHARACTERS} (and '/' if {@code slashAllowed}),
   * else which character is the first that does not.
   */
  static String unsafeCharacter(String value, boolean slashAllowed) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      boolean ok =
          (c >= 'A' && c <= 'Z')
              || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9')
              || c == '.'
              || c == '_'
              || c == '-'
              || (slashAllowed && c == '/');
      if (!ok) {
        String name =
            switch (c) {
              case ' ' -> "a space";
              case '\n' -> "a newline";
              case '\r' -> "a carriage return";
              case '\t' -> "a tab";
              default ->
                  c < 0x20 || c == 0x7f || Character.isWhitespace(c)
                      ? String.format("control character U+%04X", (int) c)
                      : "'" + c + "'";
            };
        return name + " at position " + (i + 1);
      }
    }
    return null;
  }

  private static PodConfig nullSafe(PodConfig p) {
    return p == null ? new PodConfig(null, null, null, null, null, null, null) : p;
  }

  /** A prefix with where it came from, for overlap messages. */
  private record Owned(String path, IpNet net) {}

  /** One validation run's state. */
  private final class Run {
    final List<ConfigError> errors = new ArrayList<>();
    final List<Owned> podNets = new ArrayList<>();
    final List<Owned> serviceNets = new ArrayList<>();
    final List<Owned> portNets = new ArrayList<>();
    final Map<IpAddress, String> ipUses = new HashMap<>();
    final Map<Long, String> macUses = new HashMap<>();
    final Map<String, String> socketUses = new HashMap<>();
    final Map<String, String> ifaceUses = new HashMap<>();
    final Map<Integer, IpAddress> gatewayByFamily = new HashMap<>();

    /** Port name -> its role and on-link subnets (ports with a name only). */
    final Map<String, PortConfig> portsByName = new LinkedHashMap<>();

    final Map<String, List<IfAddress>> portAddresses = new HashMap<>();

    /** Route prefixes (peer and static) -> path, for duplicates. */
    final Map<IpNet, String> routePrefixes = new HashMap<>();

    void error(String path, String value, String message) {
      errors.add(new ConfigError(path, value, message));
    }

    /** Reports a name or path with a character that could break out of DPDK devargs. */
    boolean safe(String path, String value, boolean isPath) {
      return safe(path, value, isPath, " (they are passed to DPDK as devargs)");
    }

    boolean safe(String path, String value, boolean isPath, String why) {
      String bad = unsafeCharacter(value, isPath);
      if (bad == null) {
        return true;
      }
      error(
          path,
          value,
          bad
              + " is not allowed: "
              + (isPath ? "paths" : "names")
              + " may only use "
              + NAME_CHARACTERS
              + (isPath ? " and /" : "")
              + why);
      return false;
    }

    IpNet net(String path, String text) {
      if (text == null || text.isBlank()) {
        error(path, text, "empty prefix");
        return null;
      }
      try {
        return IpNet.parse(text.trim());
      } catch (IllegalArgumentException e) {
        error(path, text, e.getMessage());
        return null;
      }
    }

    IpAddress address(String path, String text) {
      if (text == null || text.isBlank()) {
        error(path, text, "empty address");
        return null;
      }
      try {
        return IpAddress.parse(text.trim());
      } catch (IllegalArgumentException e) {
        error(path, text, e.getMessage());
        return null;
      }
    }

    void useIp(String path, String text, IpAddress a) {
      String before = ipUses.putIfAbsent(a, path);
      if (before != null) {
        error(path, text, "duplicate address: also " + before);
      }
    }

    Long mac(String path, String text) {
      try {
        long mac = MacAddress.parse(text);
        if (mac == 0) {
          error(path, text, "the all-zero MAC is not a valid unicast address");
          return null;
        }
        if (MacAddress.isMulticast(mac)) {
          error(path, text, "multicast/broadcast MAC (low bit of the first octet set)");
          return null;
        }
        String before = macUses.putIfAbsent(mac, path);
        if (before != null) {
          error(path, text, "duplicate MAC: also " + before);
        }
        return mac;
      } catch (IllegalArgumentException e) {
        error(path, text, e.getMessage());
        return null;
      }
    }

    void node(NodeSection node) {
      if (node == null) {
        error("node", null, "required section missing (name, podCIDRs, gateways, ...)");
        return;
      }
      if (node.name() == null || node.name().isBlank()) {
        error("node.name", node.name(), "required");
      }
      if (node.podCIDRs().isEmpty()) {
        error("node.podCIDRs", null, "at least one pod CIDR is required");
      }
      for (int i = 0; i < node.podCIDRs().size(); i++) {
        String path = "node.podCIDRs[" + i + "]";
        IpNet n = net(path, node.podCIDRs().get(i));
        if (n != null) {
          podNets.add(new Owned(path, n));
        }
      }
      for (int i = 0; i < node.serviceCIDRs().size(); i++) {
        String path = "node.serviceCIDRs[" + i + "]";
        IpNet n = net(path, node.serviceCIDRs().get(i));
        if (n != null) {
          serviceNets.add(new Owned(path, n));
        }
      }
      if (node.routerMac() != null) {
        mac("node.routerMac", node.routerMac());
      }
      for (int i = 0; i < node.gateways().size(); i++) {
        String path = "node.gateways[" + i + "]";
        String text = node.gateways().get(i);
        IpAddress gw = address(path, text);
        if (gw == null) {
          continue;
        }
        IpAddress other = gatewayByFamily.putIfAbsent(gw.family(), gw);
        if (other != null) {
          error(
              path,
              text,
              "a second IPv"
                  + gw.family()
                  + " gateway ("
                  + other
                  + " is already one); one per family");
          continue;
        }
        Owned inside = podNets.stream().filter(o -> o.net.contains(gw)).findFirst().orElse(null);
        if (inside != null) {
          if (gw.equals(inside.net.network())
              || (gw.isV4() && inside.net.length() < 31 && gw.equals(inside.net.last()))) {
            error(
                path,
                text,
                "is the network or broadcast address of " + inside.path + " (" + inside.net + ")");
          }
        } else if (!gw.isLinkLocal()) {
          error(
              path,
              text,
              "not inside node.podCIDRs ("
                  + podNets.stream().map(o -> o.net.toString()).collect(Collectors.joining(", "))
                  + ") and not link-local (169.254.0.0/16, fe80::/10)");
        }
        useIp(path, text, gw);
      }
      Set<Integer> reported = new TreeSet<>();
      for (Owned o : podNets) {
        int family = o.net.family();
        boolean unparsedOfFamily =
            node.gateways().stream()
                .anyMatch(
                    g ->
                        g != null
                            && (g.indexOf(':') >= 0 ? 6 : 4) == family
                            && !gatewayByFamily.containsKey(family));
        if (!gatewayByFamily.containsKey(family) && !unparsedOfFamily && reported.add(family)) {
          error(
              "node.gateways",
              null,
              "no IPv"
                  + family
                  + " gateway for the IPv"
                  + family
                  + " pod CIDR "
                  + o.net
                  + " (e.g. "
                  + (family == 4 ? "169.254.1.1" : "fe80::1")
                  + ")");
        }
      }
    }

    void ports(List<PortConfig> ports) {
      for (int i = 0; i < ports.size(); i++) {
        String p = "ports[" + i + "]";
        PortConfig port = ports.get(i);
        if (port == null) {
          error(p, null, "empty port entry");
          continue;
        }
        if (port.name() == null || port.name().isBlank()) {
          error(p + ".name", port.name(), "required");
        } else if (!safe(p + ".name", port.name(), false)) {
          // reported
        } else if (port.name().equals(SEGMENT_PORT)) {
          error(p + ".name", port.name(), "reserved for the router's port on the pod bridge");
        } else if (portsByName.putIfAbsent(port.name(), port) != null) {
          error(p + ".name", port.name(), "duplicate port name");
        }
        if (port.device() == null || port.device().isBlank()) {
          error(p + ".device", port.device(), "required (DPDK devargs or a PCI address)");
        }
        if (port.role() == null || !ROLES.contains(port.role())) {
          error(p + ".role", port.role(), "must be uplink or host");
        }
        kernel(p, port);
        int mtu = port.mtu();
        if (mtu < MIN_MTU || mtu > MAX_MTU) {
          error(p + ".mtu", Integer.toString(mtu), "out of range " + MIN_MTU + ".." + MAX_MTU);
        }
        List<IfAddress> addrs = new ArrayList<>();
        boolean mtuV6Reported = false;
        for (int j = 0; j < port.addresses().size(); j++) {
          String path = p + ".addresses[" + j + "]";
          String text = port.addresses().get(j);
          IfAddress a;
          try {
            a = IfAddress.parse(text == null ? null : text.trim());
          } catch (IllegalArgumentException e) {
            error(path, text, e.getMessage());
            continue;
          }
          IpNet subnet = a.subnet();
          if (a.address().isV4()
              && a.length() < 31
              && (a.address().equals(subnet.network()) || a.address().equals(subnet.last()))) {
            error(path, text, "is the network or broadcast address of " + subnet);
            continue;
          }
          if (!a.address().isV4() && mtu >= MIN_MTU && mtu < MIN_MTU_V6 && !mtuV6Reported) {
            mtuV6Reported = true;
            error(p + ".mtu", Integer.toString(mtu), "IPv6 needs an MTU of at least " + MIN_MTU_V6);
          }
          useIp(path, text, a.address());
          portNets.add(new Owned(path, subnet));
          addrs.add(a);
        }
        if (port.name() != null) {
          portAddresses.putIfAbsent(port.name(), addrs);
        }
      }
    }

    void kernel(String p, PortConfig port) {
      HostKernel kernel = port.kernel();
      if (kernel == null) {
        return;
      }
      if (!"host".equals(port.role())) {
        error(p + ".kernel", null, "only a host port has a kernel end to configure");
        return;
      }
      if (kernel.configure() && HostKernel.tapName(port.device()) == null) {
        error(
            p + ".kernel.configure",
            "true",
            "needs a TAP with its kernel name in the device (net_tapN,iface=NAME), got "
                + port.device());
      }
      if (kernel.namespace() != null) {
        safe(p + ".kernel.namespace", kernel.namespace(), false, " (a name under ip netns)");
      }
    }

    void overlaps() {
      List<Owned> all = new ArrayList<>();
      all.addAll(podNets);
      all.addAll(serviceNets);
      all.addAll(portNets);
      for (int i = 0; i < all.size(); i++) {
        for (int j = 0; j < i; j++) {
          Owned a = all.get(i);
          Owned b = all.get(j);
          if (a.net.overlaps(b.net)) {
            error(a.path, a.net.toString(), "overlaps " + b.path + " (" + b.net + ")");
          }
        }
      }
    }

    void pods(List<Map.Entry<String, PodConfig>> pods) {
      Map<String, String> names = new HashMap<>();
      for (Map.Entry<String, PodConfig> e : pods) {
        String p = e.getKey();
        PodConfig pod = e.getValue();
        if (pod.name() == null || pod.name().isBlank()) {
          error(p + ".name", pod.name(), "required (namespace/name)");
        } else {
          if (!safe(p + ".name", pod.name(), true)) {
            // reported
          } else if (!POD_NAME.matcher(pod.name()).matches()) {
            error(p + ".name", pod.name(), "expected namespace/name");
          }
          String before = names.putIfAbsent(pod.name(), p);
          if (before != null) {
            error(p + ".name", pod.name(), "duplicate pod name: also " + before);
          }
        }
        if (pod.kind() == null || !KINDS.contains(pod.kind())) {
          error(p + ".kind", pod.kind(), "must be vhost-user, tap, af_packet or bridge");
        } else if (pod.kind().equals(PodConfig.VHOST_USER)) {
          vhostUser(p, pod);
        } else {
          kernelInterface(p, pod);
        }
        if (pod.ips().isEmpty()) {
          error(p + ".ips", null, "at least one address is required");
        }
        Set<Integer> families = new TreeSet<>();
        for (int i = 0; i < pod.ips().size(); i++) {
          String path = p + ".ips[" + i + "]";
          String text = pod.ips().get(i);
          IpAddress a = address(path, text);
          if (a == null) {
            continue;
          }
          if (!families.add(a.family())) {
            error(path, text, "a second IPv" + a.family() + " address; one per family");
          }
          Owned inside = podNets.stream().filter(o -> o.net.contains(a)).findFirst().orElse(null);
          if (inside == null) {
            error(
                path,
                text,
                "outside node.podCIDRs ("
                    + podNets.stream().map(o -> o.net.toString()).collect(Collectors.joining(", "))
                    + ")");
          } else if (a.equals(inside.net.network())
              || (a.isV4() && inside.net.length() < 31 && a.equals(inside.net.last()))) {
            error(path, text, "is the network or broadcast address of " + inside.net);
          }
          useIp(path, text, a);
        }
        if (pod.mac() != null) {
          mac(p + ".mac", pod.mac());
        }
      }
    }

    void vhostUser(String p, PodConfig pod) {
      String s = pod.socket();
      if (s == null || s.isBlank()) {
        error(p + ".socket", s, "required for a vhost-user pod (the vhost-user socket path)");
      } else {
        int bytes = s.getBytes(StandardCharsets.UTF_8).length;
        safe(p + ".socket", s, true);
        if (!s.startsWith("/")) {
          error(p + ".socket", s, "must be an absolute path");
        }
        if (bytes > MAX_SOCKET_PATH_BYTES) {
          error(
              p + ".socket",
              s,
              bytes + " bytes; a unix socket path is at most " + MAX_SOCKET_PATH_BYTES + " bytes");
        }
        String before = socketUses.putIfAbsent(s, p + ".socket");
        if (before != null) {
          error(p + ".socket", s, "duplicate socket path: also " + before);
        }
      }
      if (pod.mode() != null && !MODES.contains(pod.mode())) {
        error(p + ".mode", pod.mode(), "must be client or server");
      }
      if (pod.iface() != null) {
        error(p + ".interface", pod.iface(), "only for tap, af_packet and bridge pods");
      }
    }

    void kernelInterface(String p, PodConfig pod) {
      String i = pod.iface();
      if (i == null || i.isBlank()) {
        error(
            p + ".interface",
            i,
            "required for a " + pod.kind() + " pod (host-side interface name)");
      } else if (safe(p + ".interface", i, false)) {
        if (i.getBytes(StandardCharsets.UTF_8).length > MAX_IFNAME_BYTES
            || !i.matches("[^/:\\s]+")
            || i.equals(".")
            || i.equals("..")) {
          error(
              p + ".interface",
              i,
              "not a valid interface name (1-15 bytes, no '/', ':' or spaces)");
        }
        String before = ifaceUses.putIfAbsent(i, p + ".interface");
        if (before != null) {
          error(p + ".interface", i, "duplicate interface: also " + before);
        }
      }
      if (pod.socket() != null) {
        error(p + ".socket", pod.socket(), "only for vhost-user pods");
      }
      if (pod.mode() != null) {
        error(p + ".mode", pod.mode(), "only for vhost-user pods");
      }
    }

    void agent(AgentSection agent) {
      for (int i = 0; i < agent.writers().size(); i++) {
        String w = agent.writers().get(i);
        if (w == null || w.isBlank()) {
          error("agent.writers[" + i + "]", w, "empty (a user name or a uid)");
        } else {
          safe("agent.writers[" + i + "]", w, false, "");
        }
      }
      if (agent.socketGroup() != null) {
        if (agent.socketGroup().isBlank()) {
          error("agent.socketGroup", agent.socketGroup(), "empty (a group name or a gid)");
        } else {
          safe("agent.socketGroup", agent.socketGroup(), false, "");
        }
      }
    }

    /** The uplink port name whose subnet holds {@code a}, or null. */
    String onLinkUplink(IpAddress a) {
      for (Map.Entry<String, PortConfig> e : portsByName.entrySet()) {
        if (!"uplink".equals(e.getValue().role())) {
          continue;
        }
        for (IfAddress ia : portAddresses.getOrDefault(e.getKey(), List.of())) {
          if (ia.subnet().contains(a)) {
            return e.getKey();
          }
        }
      }
      return null;
    }

    String uplinkSubnets() {
      List<String> s = new ArrayList<>();
      portsByName.forEach(
          (name, port) -> {
            if ("uplink".equals(port.role())) {
              for (IfAddress ia : portAddresses.getOrDefault(name, List.of())) {
                s.add(name + " " + ia.subnet());
              }
            }
          });
      return s.isEmpty() ? "none configured" : String.join(", ", s);
    }

    void peers(List<PeerConfig> peers) {
      Map<String, String> names = new HashMap<>();
      List<Owned> peerNets = new ArrayList<>();
      for (int i = 0; i < peers.size(); i++) {
        String p = "peers[" + i + "]";
        PeerConfig peer = peers.get(i);
        if (peer == null) {
          error(p, null, "empty peer entry");
          continue;
        }
        if (peer.name() == null || peer.name().isBlank()) {
          error(p + ".name", peer.name(), "required");
        } else if (names.putIfAbsent(peer.name(), p) != null) {
          error(p + ".name", peer.name(), "duplicate peer name: also " + names.get(peer.name()));
        }
        if (peer.nodeIPs().isEmpty()) {
          error(p + ".nodeIPs", null, "at least one node IP is required");
        }
        Map<Integer, IpAddress> nodeIpByFamily = new HashMap<>();
        for (int j = 0; j < peer.nodeIPs().size(); j++) {
          String path = p + ".nodeIPs[" + j + "]";
          String text = peer.nodeIPs().get(j);
          IpAddress a = address(path, text);
          if (a == null) {
            continue;
          }
          if (nodeIpByFamily.putIfAbsent(a.family(), a) != null) {
            error(path, text, "a second IPv" + a.family() + " node IP; one per family");
            continue;
          }
          if (onLinkUplink(a) == null) {
            error(
                path,
                text,
                "not on-link on any uplink port (uplink subnets: " + uplinkSubnets() + ")");
          }
          useIp(path, text, a);
        }
        if (peer.podCIDRs().isEmpty()) {
          error(p + ".podCIDRs", null, "at least one pod CIDR is required");
        }
        for (int j = 0; j < peer.podCIDRs().size(); j++) {
          String path = p + ".podCIDRs[" + j + "]";
          IpNet n = net(path, peer.podCIDRs().get(j));
          if (n == null) {
            continue;
          }
          if (!nodeIpByFamily.containsKey(n.family()) && !peer.nodeIPs().isEmpty()) {
            error(
                path,
                n.toString(),
                "no IPv" + n.family() + " node IP in " + p + ".nodeIPs to route it via");
          }
          for (Owned o : podNets) {
            if (n.overlaps(o.net)) {
              error(path, n.toString(), "overlaps our own " + o.path + " (" + o.net + ")");
            }
          }
          for (Owned o : serviceNets) {
            if (n.overlaps(o.net)) {
              error(path, n.toString(), "overlaps " + o.path + " (" + o.net + ")");
            }
          }
          for (Owned o : portNets) {
            if (n.overlaps(o.net)) {
              error(path, n.toString(), "overlaps the subnet of " + o.path + " (" + o.net + ")");
            }
          }
          for (Owned o : peerNets) {
            if (n.overlaps(o.net)) {
              error(path, n.toString(), "overlaps " + o.path + " (" + o.net + ")");
            }
          }
          peerNets.add(new Owned(path, n));
          routePrefixes.putIfAbsent(n, path);
        }
      }
    }

    void routes(List<RouteConfig> routes) {
      for (int i = 0; i < routes.size(); i++) {
        String p = "routes[" + i + "]";
        RouteConfig route = routes.get(i);
        if (route == null) {
          error(p, null, "empty route entry");
          continue;
        }
        IpNet prefix = net(p + ".prefix", route.prefix());
        if (prefix != null) {
          String before = routePrefixes.putIfAbsent(prefix, p + ".prefix");
          if (before != null) {
            error(
                p + ".prefix",
                route.prefix(),
                "duplicate route: " + before + " routes " + prefix + " too");
          }
          for (Owned o : podNets) {
            if (prefix.overlaps(o.net) && prefix.length() >= o.net.length()) {
              error(
                  p + ".prefix",
                  route.prefix(),
                  "inside our own "
                      + o.path
                      + " ("
                      + o.net
                      + "): pod addresses are routed to pods");
            }
          }
        }
        List<IfAddress> portAddrs = null;
        if (route.port() == null || route.port().isBlank()) {
          error(p + ".port", route.port(), "required (a port name)");
        } else if (!portsByName.containsKey(route.port())) {
          error(
              p + ".port",
              route.port(),
              "unknown port (ports: "
                  + (portsByName.isEmpty() ? "none" : String.join(", ", portsByName.keySet()))
                  + ")");
        } else {
          portAddrs = portAddresses.getOrDefault(route.port(), List.of());
        }
        if (route.via() != null) {
          IpAddress via = address(p + ".via", route.via());
          if (via == null) {
            continue;
          }
          if (prefix != null && via.family() != prefix.family()) {
            error(
                p + ".via",
                route.via(),
                "IPv" + via.family() + " next hop for an IPv" + prefix.family() + " prefix");
          } else if (portAddrs != null
              && portAddrs.stream().noneMatch(a -> a.subnet().contains(via))) {
            error(
                p + ".via",
                route.via(),
                "not on-link on port "
                    + route.port()
                    + " (its subnets: "
                    + (portAddrs.isEmpty()
                        ? "none"
                        : portAddrs.stream()
                            .map(a -> a.subnet().toString())
                            .collect(Collectors.joining(", ")))
                    + ")");
          } else if (portAddrs != null
              && portAddrs.stream().anyMatch(a -> a.address().equals(via))) {
            error(p + ".via", route.via(), "is this node's own address on port " + route.port());
          }
        }
      }
    }

    void bgp(NodeConfig config) {
      BgpConfig bgp = config.bgp();
      asn("bgp.asn", bgp.asn());
      if (bgp.routerId() != null) {
        IpAddress id = address("bgp.routerId", bgp.routerId());
        if (id != null && !id.isV4()) {
          error("bgp.routerId", bgp.routerId(), "must be an IPv4 address (BGP's router id)");
        }
      } else if (bgp.routerIdFor(config) == null) {
        error(
            "bgp.routerId",
            null,
            "required: the node has no IPv4 address in ports[].addresses to take it from");
      }
      if (bgp.neighbors().isEmpty()) {
        error(
            "bgp.neighbors", null, "at least one neighbour is required (the top-of-rack switches)");
      }
      Map<IpAddress, String> neighbors = new HashMap<>();
      for (int i = 0; i < bgp.neighbors().size(); i++) {
        String p = "bgp.neighbors[" + i + "]";
        BgpConfig.BgpNeighbor n = bgp.neighbors().get(i);
        if (n == null) {
          error(p, null, "empty neighbour entry");
          continue;
        }
        IpAddress a = address(p + ".address", n.address());
        if (a != null) {
          String before = neighbors.putIfAbsent(a, p);
          if (before != null) {
            error(p + ".address", n.address(), "duplicate neighbour: also " + before);
          } else if (a.isLinkLocal()) {
            error(
                p + ".address",
                n.address(),
                "link-local neighbours are not supported: flatnet cannot use link-local next"
                    + " hops; use the neighbour's address on the uplink subnet");
          } else if (onLinkUplink(a) == null) {
            error(
                p + ".address",
                n.address(),
                "not on-link on any uplink port (uplink subnets: " + uplinkSubnets() + ")");
          } else if (ownAddress(a) != null) {
            error(
                p + ".address", n.address(), "is this node's own address (" + ownAddress(a) + ")");
          }
        }
        asn(p + ".asn", n.asn());
        String d = n.description();
        if (d != null) {
          if (d.isBlank()) {
            error(p + ".description", d, "empty (leave it out)");
          } else if (d.length() > MAX_BGP_DESCRIPTION
              || d.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            error(
                p + ".description",
                d,
                "at most "
                    + MAX_BGP_DESCRIPTION
                    + " characters on one line, no control characters (it is a line of FRR's"
                    + " config)");
          }
        }
      }
      Map<IpNet, String> advertised = new HashMap<>();
      for (int i = 0; i < bgp.advertise().size(); i++) {
        String p = "bgp.advertise[" + i + "]";
        String text = bgp.advertise().get(i);
        IpNet n = net(p, text);
        if (n == null) {
          continue;
        }
        if (!n.toString().equals(text.trim())) {
          error(p, text, "not in canonical form: write " + n);
        }
        String before = advertised.putIfAbsent(n, p);
        if (before != null) {
          error(p, text, "duplicate prefix: also " + before);
        }
      }
      int paths = bgp.maximumPaths();
      if (paths < 1 || paths > MAX_BGP_PATHS) {
        error("bgp.maximumPaths", Integer.toString(paths), "out of range 1.." + MAX_BGP_PATHS);
      }
      int keepalive = bgp.keepalive();
      int hold = bgp.hold();
      if (keepalive < 1 || keepalive > 65535) {
        error("bgp.keepalive", Integer.toString(keepalive), "out of range 1..65535 (seconds)");
      }
      if (hold != 0 && (hold < 3 || hold > 65535)) {
        error(
            "bgp.hold",
            Integer.toString(hold),
            "must be 0 (no hold timer) or 3..65535 seconds (RFC 4271)");
      } else if (hold != 0 && hold <= keepalive) {
        error(
            "bgp.hold",
            Integer.toString(hold),
            "must be more than bgp.keepalive ("
                + keepalive
                + "); usually three times it, e.g. "
                + (3 * keepalive));
      }
      address("bgp.fpm.address", bgp.fpm().address());
      int port = bgp.fpm().port();
      if (port < 1 || port > 65535) {
        error("bgp.fpm.port", Integer.toString(port), "out of range 1..65535");
      }
      BgpConfig.FrrConfig frr = bgp.frr();
      if (frr.binDir().isBlank() || !frr.binDir().startsWith("/")) {
        error("bgp.frr.binDir", frr.binDir(), "must be an absolute path");
      } else {
        safe("bgp.frr.binDir", frr.binDir(), true, " (it is on FRR's command lines)");
      }
      String run = frr.runDir();
      if (run != null) {
        if (run.isBlank() || !run.startsWith("/")) {
          error("bgp.frr.runDir", run, "must be an absolute path");
        } else if (safe("bgp.frr.runDir", run, true, " (it is on FRR's command lines)")) {
          int bytes = (run + "/" + LONGEST_FRR_SOCKET).getBytes(StandardCharsets.UTF_8).length;
          if (bytes > MAX_SOCKET_PATH_BYTES) {
            error(
                "bgp.frr.runDir",
                run,
                "too long: FRR's sockets there ("
                    + LONGEST_FRR_SOCKET
                    + ") would take "
                    + bytes
                    + " bytes; a unix socket path is at most "
                    + MAX_SOCKET_PATH_BYTES);
          }
        }
      }
    }

    void asn(String path, Long asn) {
      if (asn == null) {
        error(path, null, "required (an AS number, 1.." + BgpConfig.MAX_ASN + ")");
      } else if (asn < 1 || asn > BgpConfig.MAX_ASN) {
        error(path, asn.toString(), "out of range 1.." + BgpConfig.MAX_ASN);
      }
    }

    /** The path of the port address that is {@code a}, or null. */
    String ownAddress(IpAddress a) {
      String use = ipUses.get(a);
      return use != null && use.startsWith("ports[") ? use : null;
    }

    void kubernetes(KubernetesConfig k) {
      String path = k.kubeconfig();
      if (path != null && (path.isBlank() || !path.startsWith("/"))) {
        error(
            "kubernetes.kubeconfig",
            path,
            "must be an absolute path (leave it out for in-cluster or ~/.kube/config)");
      }
    }

    void workers(WorkersConfig w) {
      Set<Integer> seen = new TreeSet<>();
      for (int i = 0; i < w.cpus().size(); i++) {
        Integer cpu = w.cpus().get(i);
        String path = "workers.cpus[" + i + "]";
        if (cpu == null) {
          error(path, null, "empty CPU entry");
          continue;
        }
        if (!onlineCpus.contains(cpu)) {
          error(
              path, cpu.toString(), "CPU not available (online CPUs: " + cpuList(onlineCpus) + ")");
        }
        if (!seen.add(cpu)) {
          error(path, cpu.toString(), "duplicate CPU");
        }
      }
      if (w.burst() != WorkersConfig.BURST) {
        error(
            "workers.burst",
            Integer.toString(w.burst()),
            (w.burst() < 1 || w.burst() > 64 ? "out of range 1..64; " : "")
                + "the dataplane's burst is fixed at "
                + WorkersConfig.BURST
                + " for now, so only "
                + WorkersConfig.BURST
                + " is accepted");
      }
      if (!IDLE.contains(w.idle())) {
        error("workers.idle", w.idle(), "must be busy-spin or backoff");
      }
    }
  }

  /** "0-3,6" for {0,1,2,3,6}. */
  static String cpuList(Set<Integer> cpus) {
    List<String> parts = new ArrayList<>();
    Integer start = null;
    Integer prev = null;
    for (int c : new TreeSet<>(cpus)) {
      if (start == null) {
        start = c;
      } else if (c != prev + 1) {
        parts.add(start.equals(prev) ? start.toString() : start + "-" + prev);
        start = c;
      }
      prev = c;
    }
    if (start != null) {
      parts.add(start.equals(prev) ? start.toString() : start + "-" + prev);
    }
    return parts.isEmpty() ? "none" : String.join(",", parts);
  }
}
