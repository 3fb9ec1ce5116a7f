package io.flatnet.agent.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One network policy conformance case (resource {@code netpol/cases.yaml}), translated from
 * Kubernetes' own e2e suite ({@code test/e2e/network/netpol/network_policy.go}): steps, each a
 * complete desired state (the NetworkPolicies in force, label changes) and the reachability
 * expected after it, as upstream's truth tables: a default and ordered exceptions.
 *
 * <p>The model is upstream's: namespaces x, y, z (label {@code ns: <name>}), pods a, b, c in each
 * (label {@code pod: <name>}), every pod serving TCP and UDP on 80 and 81 (container ports {@code
 * serve-80-tcp}, {@code serve-81-udp}, ...). Loopback (a pod to itself) is not probed, as upstream
 * ignores it.
 */
record NetpolCase(String name, String upstream, String note, boolean twoNodes, List<Step> steps) {

  static final List<String> NAMESPACES = List.of("x", "y", "z");
  static final List<String> POD_NAMES = List.of("a", "b", "c");

  /** Every pod, "x/a" .. "z/c", in upstream's order. */
  static final List<String> PODS =
      NAMESPACES.stream().flatMap(ns -> POD_NAMES.stream().map(p -> ns + "/" + p)).toList();

  static final List<Integer> PORTS = List.of(80, 81);
  static final List<String> PROTOCOLS = List.of("TCP", "UDP");

  /**
   * One state: {@code policies} (NetworkPolicy objects without apiVersion/kind; strings may hold
   * {@code ${ip:x/b}}, the pod's IPv4 address, or {@code ${cidr4:x/b}}, the /4 around it, as
   * upstream's makeLargeCIDRForIP), label changes on top of the model's labels, and what to probe.
   */
  record Step(
      String what,
      ArrayNode policies,
      Map<String, Map<String, String>> namespaceLabels,
      Map<String, Map<String, String>> podLabels,
      List<Probe> probes) {}

  /** A port and protocol ("80/TCP") probed between every pair, and the truth table expected. */
  record Probe(int port, String protocol, Truth expect) {
    String label() {
      return port + "/" + protocol;
    }
  }

  static ArrayNode emptyPolicies() {
    return JsonNodeFactory.instance.arrayNode();
  }

  /** Loads the cases from the class path. */
  static List<NetpolCase> load(String resource) throws IOException {
    JsonNode root;
    try (InputStream in = NetpolCase.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IOException("no resource " + resource);
      }
      root = YAMLMapper.builder().build().readTree(in);
    }
    List<NetpolCase> cases = new ArrayList<>();
    for (JsonNode c : root.path("cases")) {
      String name = text(c, "name", "a case");
      try {
        List<Step> steps = new ArrayList<>();
        for (JsonNode s : c.path("steps")) {
          steps.add(step(s));
        }
        if (steps.isEmpty()) {
          throw new IllegalArgumentException("no steps");
        }
        cases.add(
            new NetpolCase(
                name,
                c.path("upstream").asText(""),
                c.path("note").asText(""),
                c.path("twoNodes").asBoolean(false),
                steps));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException(
            resource + ": case \"" + name + "\": " + e.getMessage(), e);
      }
    }
    return cases;
  }

  private static Step step(JsonNode s) {
    ArrayNode policies = JsonNodeFactory.instance.arrayNode();
    for (JsonNode p : s.path("policies")) {
      text(p.path("metadata"), "namespace", "a policy's metadata");
      text(p.path("metadata"), "name", "a policy's metadata");
      policies.add(p);
    }
    List<Probe> probes = new ArrayList<>();
    for (JsonNode p : s.path("probes")) {
      String on = text(p, "port", "a probe");
      String[] portProto = on.split("/");
      int port = Integer.parseInt(portProto[0]);
      String proto = portProto[1].toUpperCase(Locale.ROOT);
      if (!PORTS.contains(port) || !PROTOCOLS.contains(proto)) {
        throw new IllegalArgumentException(
            "probe " + on + ": the pods serve " + PORTS + " " + PROTOCOLS);
      }
      Truth t = new Truth(!"deny".equals(p.path("default").asText("allow")));
      for (JsonNode rule : p.path("expect")) {
        t.apply(rule.asText());
      }
      probes.add(new Probe(port, proto, t));
    }
    if (probes.isEmpty()) {
      throw new IllegalArgumentException("a step without probes");
    }
    return new Step(
        s.path("what").asText(""),
        policies,
        labels(s.path("namespaceLabels"), NAMESPACES),
        labels(s.path("podLabels"), PODS),
        probes);
  }

  private static Map<String, Map<String, String>> labels(JsonNode node, List<String> known) {
    Map<String, Map<String, String>> out = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> e : node.properties()) {
      if (!known.contains(e.getKey())) {
        throw new IllegalArgumentException(
            "labels for unknown " + e.getKey() + " (known: " + known + ")");
      }
      Map<String, String> labels = new LinkedHashMap<>();
      e.getValue().properties().forEach(l -> labels.put(l.getKey(), l.getValue().asText()));
      out.put(e.getKey(), labels);
    }
    return out;
  }

  private static String text(JsonNode node, String field, String what) {
    String v = node.path(field).asText("");
    if (v.isEmpty()) {
      throw new IllegalArgumentException(what + " needs " + field);
    }
    return v;
  }

  /** The policies with {@code ${ip:POD}} and {@code ${cidr4:POD}} replaced. */
  static JsonNode resolve(JsonNode node, Map<String, String> ipv4) {
    if (node.isTextual()) {
      String s = node.asText();
      for (Map.Entry<String, String> e : ipv4.entrySet()) {
        s = s.replace("${ip:" + e.getKey() + "}", e.getValue());
        s = s.replace("${cidr4:" + e.getKey() + "}", cidr4(e.getValue()));
      }
      if (s.contains("${")) {
        throw new IllegalArgumentException("unresolved placeholder in " + s);
      }
      return JsonNodeFactory.instance.textNode(s);
    }
    if (node.isArray()) {
      ArrayNode out = JsonNodeFactory.instance.arrayNode();
      node.forEach(n -> out.add(resolve(n, ipv4)));
      return out;
    }
    if (node.isObject()) {
      ObjectNode out = JsonNodeFactory.instance.objectNode();
      node.properties().forEach(e -> out.set(e.getKey(), resolve(e.getValue(), ipv4)));
      return out;
    }
    return node;
  }

  /** The /4 holding {@code ip} (upstream's makeLargeCIDRForIP). */
  static String cidr4(String ip) {
    int first = Integer.parseInt(ip.substring(0, ip.indexOf('.')));
    return (first & 0xf0) + ".0.0.0/4";
  }

  /**
   * A truth table over {@link #PODS} x {@link #PODS}: true where the connection from the row's pod
   * to the column's pod is expected (or was observed) to work.
   */
  static final class Truth {
    final boolean[][] cells = new boolean[PODS.size()][PODS.size()];

    Truth(boolean reachable) {
      for (boolean[] row : cells) {
        java.util.Arrays.fill(row, reachable);
      }
    }

    /**
     * Applies one exception, "allow FROM -> TO" or "deny FROM -> TO"; FROM and TO are {@code *},
     * {@code x/*}, {@code * /a} (any namespace's a) or {@code x/a} (upstream's ExpectPeer,
     * ExpectAllIngress, ExpectAllEgress and Expect).
     */
    void apply(String rule) {
      String[] words = rule.trim().split("\\s+");
      if (words.length != 4 || !words[2].equals("->")) {
        throw new IllegalArgumentException(
            "expect \"allow|deny FROM -> TO\", not \"" + rule + "\"");
      }
      boolean allow =
          switch (words[0]) {
            case "allow" -> true;
            case "deny" -> false;
            default -> throw new IllegalArgumentException("allow or deny, not " + words[0]);
          };
      int matched = 0;
      for (int f = 0; f < PODS.size(); f++) {
        for (int t = 0; t < PODS.size(); t++) {
          if (matches(words[1], PODS.get(f)) && matches(words[3], PODS.get(t))) {
            cells[f][t] = allow;
            matched++;
          }
        }
      }
      if (matched == 0) {
        throw new IllegalArgumentException("\"" + rule + "\" matches no pair");
      }
    }

    static boolean matches(String pattern, String pod) {
      if (pattern.equals("*")) {
        return true;
      }
      String[] p = pattern.split("/");
      String[] q = pod.split("/");
      if (p.length != 2) {
        throw new IllegalArgumentException("a pod pattern is *, ns/*, */pod or ns/pod: " + pattern);
      }
      return (p[0].equals("*") || p[0].equals(q[0])) && (p[1].equals("*") || p[1].equals(q[1]));
    }

    boolean get(String from, String to) {
      return cells[PODS.indexOf(from)][PODS.indexOf(to)];
    }

    void set(String from, String to, boolean reachable) {
      cells[PODS.indexOf(from)][PODS.indexOf(to)] = reachable;
    }

    /**
     * Upstream's matrix: rows are clients, columns servers, {@code .} reachable, {@code X} not,
     * {@code -} loopback (not probed); with {@code expected}, a wrong cell is {@code !.} / {@code
     * !X} (what was observed).
     */
    String render(Truth expected) {
      StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-5s", "from\\to"));
      for (String to : PODS) {
        sb.append(String.format(Locale.ROOT, "%5s", to));
      }
      sb.append('\n');
      for (String from : PODS) {
        sb.append(String.format(Locale.ROOT, "%-7s", from));
        for (String to : PODS) {
          String cell;
          if (from.equals(to)) {
            cell = "-";
          } else {
            cell = get(from, to) ? "." : "X";
            if (expected != null && expected.get(from, to) != get(from, to)) {
              cell = "!" + cell;
            }
          }
          sb.append(String.format(Locale.ROOT, "%5s", cell));
        }
        sb.append('\n');
      }
      return sb.toString();
    }
  }
}
