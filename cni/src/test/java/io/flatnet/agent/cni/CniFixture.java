package io.flatnet.agent.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.api.AgentSocketServer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A real {@link AgentSocketServer} whose handler records requests and answers like an agent would
 * (no DPDK): pods named "*reject*" are refused, "*later*" get "retry".
 */
final class CniFixture implements AutoCloseable {

  static final ObjectMapper JSON = JsonMapper.builder().build();

  final Path dir;
  final Path socket;
  final List<AgentProtocol.Request> requests = new CopyOnWriteArrayList<>();
  final AgentSocketServer server;

  CniFixture(Path dir) throws IOException {
    this.dir = dir;
    this.socket = dir.resolve("run/agent.sock");
    this.server = AgentSocketServer.start(socket, this::handle, 2);
  }

  private AgentProtocol.Response handle(AgentProtocol.Request r) {
    requests.add(r);
    String name = r.name() == null ? "" : r.name();
    if (name.contains("reject")) {
      return AgentProtocol.Response.failure("pod refused: " + name);
    }
    if (name.contains("later")) {
      return AgentProtocol.Response.retryLater("not ready");
    }
    return switch (r.op()) {
      case AgentProtocol.NODE_INFO ->
          AgentProtocol.Response.nodeInfo(List.of("10.250.0.0/24"), List.of("169.254.1.1"));
      case AgentProtocol.POD_ADD -> AgentProtocol.Response.success(r.socket(), r.mac());
      case AgentProtocol.POD_CHECK -> AgentProtocol.Response.success(null, null);
      default -> AgentProtocol.Response.success();
    };
  }

  /** A network config; extra JSON members may be appended (",\"k\":v"). */
  String conf(String version, String podCIDRs, String extra) {
    return "{\"cniVersion\":\""
        + version
        + "\",\"name\":\"flatnet\",\"type\":\"flatnet\",\"agentSocket\":\""
        + socket
        + "\",\"agentTimeoutMs\":5000,\"ipamDir\":\""
        + dir.resolve("ipam")
        + "\",\"vhostSocketDir\":\""
        + dir.resolve("vhost")
        + "\""
        + (podCIDRs == null
            ? ""
            : ",\"podCIDRs\":" + podCIDRs + ",\"gateways\":[\"169.254.1.1\",\"fe80::1\"]")
        + extra
        + "}";
  }

  Map<String, String> env(String command, String containerId) {
    Map<String, String> env = new HashMap<>();
    env.put("CNI_COMMAND", command);
    env.put("CNI_CONTAINERID", containerId);
    env.put("CNI_NETNS", dir.resolve("netns").toString());
    env.put("CNI_IFNAME", "eth0");
    env.put("CNI_PATH", "/opt/cni/bin");
    env.put(
        "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-" + containerId);
    return env;
  }

  static JsonNode parse(String s) throws IOException {
    return JSON.readTree(s);
  }

  @Override
  public void close() throws IOException {
    server.close();
  }
}
