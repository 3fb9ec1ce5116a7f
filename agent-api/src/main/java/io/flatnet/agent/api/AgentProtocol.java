package io.flatnet.agent.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.flatnet.control.QueryNames;
import java.util.List;
import java.util.Map;

/**
 * The agent's control socket protocol: JSON lines over a unix stream socket (default {@value
 * #DEFAULT_SOCKET}). The client writes one {@link Request} object on one line, the agent answers
 * with one {@link Response} object on one line; a connection may carry several exchanges in turn. A
 * request line is at most {@value #MAX_REQUEST_LINE} bytes (a longer one is answered with an error
 * and the connection closed); a response line may be up to {@value #MAX_RESPONSE_LINE} bytes
 * ({@code show routes} of a full table). Unknown fields are ignored (so either side may add
 * fields); absent fields are null.
 *
 * <pre>
 * → {"op":"pod-add","name":"default/web-1","containerId":"4f1c...","kind":"vhost-user",
 *    "ips":["10.244.1.5","fd00:244:1::5"],"socket":"/run/flatnet/vhost/4f1c2a3b4c5d-eth0.sock"}
 * ← {"ok":true,"socket":"/run/flatnet/vhost/4f1c2a3b4c5d-eth0.sock","mac":"02:5e:..."}
 * → {"op":"pod-del","name":"default/web-1","containerId":"4f1c..."}
 * ← {"ok":true}
 * → {"op":"pod-add","name":"default/x","kind":"af_packet","ips":["10.9.9.9"],"ifname":"fn1a2b3c"}
 * ← {"ok":false,"error":"cniPods[default/x].ips[0] \"10.9.9.9\": outside node.podCIDRs (...)"}
 * </pre>
 */
public final class AgentProtocol {

  public static final String DEFAULT_SOCKET = "/run/flatnet/agent.sock";

  /** Longest request line, in bytes (without the newline): requests are small and untrusted. */
  public static final int MAX_REQUEST_LINE = 64 * 1024;

  /**
   * Longest response line, in bytes (without the newline): {@code show routes} of a million-route
   * table is about 100 MB.
   */
  public static final int MAX_RESPONSE_LINE = 256 * 1024 * 1024;

  /** Attach a pod (or replace the pod of that name). */
  public static final String POD_ADD = "pod-add";

  /** Detach a pod; succeeds if the pod is unknown. */
  public static final String POD_DEL = "pod-del";

  /** Succeeds if the pod is installed in the dataplane as the agent wants it. */
  public static final String POD_CHECK = "pod-check";

  /** This node's pod CIDRs and gateways, for a CNI config that does not list them. */
  public static final String NODE_INFO = "node-info";

  /** ctl: add a runtime static route ({@code prefix}, {@code via}, {@code port}), kept on disk. */
  public static final String ROUTE_ADD = "route-add";

  /** ctl: remove a runtime static route ({@code prefix}); succeeds if there is none. */
  public static final String ROUTE_DEL = "route-del";

  /** ctl: the router's ports; {@link Response#data()} is a list of objects. */
  public static final String SHOW_PORTS = QueryNames.SHOW_PORTS;

  /** ctl: the pods the router serves (config and CNI). */
  public static final String SHOW_PODS = QueryNames.SHOW_PODS;

  /** ctl: every prefix in the router's FIBs and its next hop. */
  public static final String SHOW_ROUTES = QueryNames.SHOW_ROUTES;

  /** ctl: the next hops that are neighbours (resolved by ARP/NDP), with their state and MAC. */
  public static final String SHOW_NEIGHBORS = QueryNames.SHOW_NEIGHBORS;

  /** ctl: the compiled network policy of each pod it selects, with its counters. */
  public static final String SHOW_POLICIES = QueryNames.SHOW_POLICIES;

  /** ctl: how the live tables would forward {@code src -> dst} (optionally arriving on inPort). */
  public static final String TRACE = QueryNames.TRACE;

  /**
   * ctl: start a capture or live trace (arguments in {@link Request#flow()}); root or a writer
   * only, as it shows the packets' contents.
   */
  public static final String CAPTURE_START = QueryNames.CAPTURE_START;

  /** ctl: end a capture ({@code session} in {@link Request#flow()}). */
  public static final String CAPTURE_STOP = QueryNames.CAPTURE_STOP;

  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .serializationInclusion(JsonInclude.Include.NON_NULL)
          .build();

  private AgentProtocol() {}

  /**
   * A request.
   *
   * @param op pod-add, pod-del, pod-check or node-info
   * @param name the pod, "namespace/name"
   * @param containerId the container (sandbox) ID; a pod-del whose containerId differs from the one
   *     that added the pod is a stale delete and does nothing
   * @param kind "vhost-user" or "af_packet" (a netns pod: the host end of its veth)
   * @param ips the pod's addresses, one per family
   * @param mac the pod's MAC, or null for the agent to derive one
   * @param socket vhost-user: the socket path the router should create (server mode); null for the
   *     agent to choose one
   * @param netns the pod's network namespace path (informational)
   * @param ifname af_packet: the host-side interface the router attaches to
   * @param prefix route-add, route-del: the route's prefix
   * @param via route-add: the next hop (null: an on-link host route)
   * @param port route-add: the port name
   * @param src trace: the source address
   * @param dst trace: the destination address
   * @param inPort trace: the port the packet arrives on (null: any)
   * @param flow trace: the packet's protocol and ports, keys {@code proto} (tcp, udp, sctp, icmp or
   *     a number), {@code sport} and {@code dport}; null or empty: none given
   */
  public record Request(
      String op,
      String name,
      String containerId,
      String kind,
      List<String> ips,
      String mac,
      String socket,
      String netns,
      String ifname,
      String prefix,
      String via,
      String port,
      String src,
      String dst,
      String inPort,
      Map<String, String> flow) {

    /** A pod request (no route or trace fields). */
    public Request(
        String op,
        String name,
        String containerId,
        String kind,
        List<String> ips,
        String mac,
        String socket,
        String netns,
        String ifname) {
      this(
          op,
          name,
          containerId,
          kind,
          ips,
          mac,
          socket,
          netns,
          ifname,
          null,
          null,
          null,
          null,
          null,
          null,
          null);
    }

    /** A request with only an op (node-info, show-*). */
    public static Request of(String op) {
      return new Request(op, null, null, null, null, null, null, null, null);
    }

    public static Request routeAdd(String prefix, String via, String port) {
      return new Request(
          ROUTE_ADD, null, null, null, null, null, null, null, null, prefix, via, port, null, null,
          null, null);
    }

    public static Request routeDel(String prefix) {
      return new Request(
          ROUTE_DEL, null, null, null, null, null, null, null, null, prefix, null, null, null, null,
          null, null);
    }

    public static Request trace(String src, String dst, String inPort) {
      return trace(src, dst, inPort, null);
    }

    /** A trace of one flow: {@code flow} holds proto, sport, dport (any may be absent). */
    public static Request trace(String src, String dst, String inPort, Map<String, String> flow) {
      return new Request(
          TRACE, null, null, null, null, null, null, null, null, null, null, null, src, dst, inPort,
          flow);
    }

    /** An op whose arguments are a string map (capture-start, capture-stop). */
    public static Request withArgs(String op, Map<String, String> args) {
      return new Request(
          op, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
          args);
    }

    public static Request podDel(String name, String containerId) {
      return new Request(POD_DEL, name, containerId, null, null, null, null, null, null);
    }

    public static Request podCheck(String name, String containerId) {
      return new Request(POD_CHECK, name, containerId, null, null, null, null, null, null);
    }

    public static Request nodeInfo() {
      return new Request(NODE_INFO, null, null, null, null, null, null, null, null);
    }
  }

  /**
   * A response.
   *
   * @param ok whether the request succeeded
   * @param error what went wrong (ok == false)
   * @param socket pod-add of a vhost-user pod: the socket path the router serves
   * @param mac pod-add: the pod's MAC (the one given, or the one the agent derived)
   * @param retry true if the error is transient (e.g. the agent has no valid config yet)
   * @param podCIDRs node-info: the node's pod CIDRs
   * @param gateways node-info: the node's gateways
   * @param data show-* and trace: the answer (a list of objects, or one object)
   */
  public record Response(
      boolean ok,
      String error,
      String socket,
      String mac,
      Boolean retry,
      List<String> podCIDRs,
      List<String> gateways,
      JsonNode data) {

    public Response(
        boolean ok,
        String error,
        String socket,
        String mac,
        Boolean retry,
        List<String> podCIDRs,
        List<String> gateways) {
      this(ok, error, socket, mac, retry, podCIDRs, gateways, null);
    }

    public static Response data(JsonNode data) {
      return new Response(true, null, null, null, null, null, null, data);
    }

    public static Response success() {
      return new Response(true, null, null, null, null, null, null);
    }

    public static Response success(String socket, String mac) {
      return new Response(true, null, socket, mac, null, null, null);
    }

    public static Response failure(String error) {
      return new Response(false, error, null, null, null, null, null);
    }

    public static Response retryLater(String error) {
      return new Response(false, error, null, null, true, null, null);
    }

    public static Response nodeInfo(List<String> podCIDRs, List<String> gateways) {
      return new Response(true, null, null, null, null, podCIDRs, gateways);
    }

    /** True if the request may succeed later ({@code retry} is true). */
    public boolean wantsRetry() {
      return Boolean.TRUE.equals(retry);
    }
  }

  /** What the server calls for each request. Called from several threads at once. */
  @FunctionalInterface
  public interface Handler {
    Response handle(Request request);
  }

  /** One JSON line (without the newline). */
  public static String encode(Object message) {
    try {
      return JSON.writeValueAsString(message);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  public static Request decodeRequest(String line) throws JsonProcessingException {
    return JSON.readValue(line, Request.class);
  }

  /** The mapper of this protocol, for building {@link Response#data()}. */
  public static ObjectMapper json() {
    return JSON;
  }

  public static Response decodeResponse(String line) throws JsonProcessingException {
    return JSON.readValue(line, Response.class);
  }
}
