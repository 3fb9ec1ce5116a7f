package io.flatnet.agent.cni;

import com.fasterxml.jackson.databind.JsonNode;
import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.config.IpNet;
import io.flatnet.control.Limits;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The network config flatnet reads from stdin: the CNI keys ({@code cniVersion}, {@code name},
 * {@code type}, {@code dns}, {@code prevResult}) and flatnet's own (see docs/agent.md):
 *
 * <ul>
 *   <li>{@code agentSocket} (default /run/flatnet/agent.sock), {@code agentTimeoutMs} (10000);
 *   <li>{@code ipamDir} (default /var/lib/flatnet/ipam; the store is {@code <ipamDir>/<name>/});
 *   <li>{@code podCIDRs}, {@code gateways}: optional; if absent, asked from the agent (node-info);
 *   <li>{@code kind}: {@code netns} (default: a veth pair) or {@code vhost-user} (the router serves
 *       a vhost-user socket for a DPDK app in the pod);
 *   <li>{@code attach} (netns pods): {@code shared} (default: the host end joins the pod bridge,
 *       which the router reaches through one port, see {@link PodSegment}) or {@code port} (the
 *       router attaches the host end as its own af_packet port: at most ~31 pods a node);
 *   <li>{@code vhostSocketDir} (default /run/flatnet/vhost), {@code mtu} (1500).
 * </ul>
 *
 * An {@code ipam} section is refused (code 2): flatnet does its own IPAM.
 */
record CniConfig(
    String cniVersion,
    String name,
    String type,
    Path agentSocket,
    long agentTimeoutMs,
    Path ipamDir,
    List<IpNet> podCIDRs,
    List<IpAddress> gateways,
    String kind,
    String attach,
    Path vhostSocketDir,
    int mtu,
    JsonNode dns,
    JsonNode prevResult) {

  /** A netns pod on the shared pod bridge (not a DPDK port of its own). */
  boolean shared() {
    return kind.equals(NETNS) && attach.equals(SHARED);
  }

  static final String NETNS = "netns";
  static final String VHOST_USER = "vhost-user";
  static final String SHARED = "shared";
  static final String PORT = "port";
  static final Path DEFAULT_IPAM_DIR = Path.of("/var/lib/flatnet/ipam");
  static final Path DEFAULT_VHOST_DIR = Path.of("/run/flatnet/vhost");

  static CniConfig parse(JsonNode root) throws CniError {
    if (root == null || !root.isObject()) {
      throw new CniError(
          CniError.DECODE_FAILURE, "the network config on stdin is not a JSON object");
    }
    String cniVersion = text(root, "cniVersion", true);
    if (!CniMain.SUPPORTED_VERSIONS.contains(cniVersion)) {
      throw new CniError(
          CniError.INCOMPATIBLE_VERSION,
          "cniVersion " + cniVersion + " is not supported",
          "supported: " + String.join(", ", CniMain.SUPPORTED_VERSIONS));
    }
    String name = text(root, "name", true);
    if (!name.matches("[A-Za-z0-9][A-Za-z0-9_.\\-]*")) {
      throw new CniError(CniError.INVALID_CONFIG, "invalid network name \"" + name + "\"");
    }
    String type = text(root, "type", true);
    if (root.has("ipam") && !root.get("ipam").isNull()) {
      throw new CniError(
          CniError.UNSUPPORTED_FIELD,
          "the ipam section is not supported",
          "flatnet allocates addresses itself from podCIDRs; remove \"ipam\"");
    }
    Path agentSocket = Path.of(orDefault(root, "agentSocket", AgentProtocol.DEFAULT_SOCKET));
    long timeout = number(root, "agentTimeoutMs", 10_000);
    Path ipamDir = Path.of(orDefault(root, "ipamDir", DEFAULT_IPAM_DIR.toString()));
    List<IpNet> podCIDRs = new ArrayList<>();
    for (String s : list(root, "podCIDRs")) {
      try {
        podCIDRs.add(IpNet.parse(s));
      } catch (IllegalArgumentException e) {
        throw new CniError(CniError.INVALID_CONFIG, "podCIDRs: " + e.getMessage());
      }
    }
    List<IpAddress> gateways = new ArrayList<>();
    for (String s : list(root, "gateways")) {
      try {
        gateways.add(IpAddress.parse(s));
      } catch (IllegalArgumentException e) {
        throw new CniError(CniError.INVALID_CONFIG, "gateways: " + e.getMessage());
      }
    }
    String kind = orDefault(root, "kind", NETNS);
    if (!kind.equals(NETNS) && !kind.equals(VHOST_USER)) {
      throw new CniError(
          CniError.INVALID_CONFIG,
          "kind must be \"netns\" or \"vhost-user\", not \"" + kind + "\"");
    }
    String attach = orDefault(root, "attach", SHARED);
    if (!attach.equals(SHARED) && !attach.equals(PORT)) {
      throw new CniError(
          CniError.INVALID_CONFIG, "attach must be \"shared\" or \"port\", not \"" + attach + "\"");
    }
    Path vhostDir = Path.of(orDefault(root, "vhostSocketDir", DEFAULT_VHOST_DIR.toString()));
    int mtu = (int) number(root, "mtu", 1500);
    String mtuProblem = Limits.mtuProblem(mtu);
    if (mtuProblem != null) {
      throw new CniError(CniError.INVALID_CONFIG, mtuProblem);
    }
    return new CniConfig(
        cniVersion,
        name,
        type,
        agentSocket,
        timeout,
        ipamDir,
        podCIDRs,
        gateways,
        kind,
        attach,
        vhostDir,
        mtu,
        root.get("dns"),
        root.get("prevResult"));
  }

  private static String text(JsonNode root, String key, boolean required) throws CniError {
    JsonNode n = root.get(key);
    if (n == null || n.isNull()) {
      if (required) {
        throw new CniError(CniError.INVALID_CONFIG, "the network config has no \"" + key + "\"");
      }
      return null;
    }
    if (!n.isTextual() || n.asText().isBlank()) {
      throw new CniError(CniError.INVALID_CONFIG, "\"" + key + "\" must be a non-empty string");
    }
    return n.asText();
  }

  private static String orDefault(JsonNode root, String key, String def) throws CniError {
    String s = text(root, key, false);
    return s == null ? def : s;
  }

  private static long number(JsonNode root, String key, long def) throws CniError {
    JsonNode n = root.get(key);
    if (n == null || n.isNull()) {
      return def;
    }
    if (!n.canConvertToLong() || !n.isIntegralNumber() || n.asLong() <= 0) {
      throw new CniError(CniError.INVALID_CONFIG, "\"" + key + "\" must be a positive integer");
    }
    return n.asLong();
  }

  private static List<String> list(JsonNode root, String key) throws CniError {
    JsonNode n = root.get(key);
    List<String> out = new ArrayList<>();
    if (n == null || n.isNull()) {
      return out;
    }
    if (!n.isArray()) {
      throw new CniError(CniError.INVALID_CONFIG, "\"" + key + "\" must be a list of strings");
    }
    for (JsonNode e : n) {
      if (!e.isTextual()) {
        throw new CniError(CniError.INVALID_CONFIG, "\"" + key + "\" must be a list of strings");
      }
      out.add(e.asText().trim());
    }
    return out;
  }
}
