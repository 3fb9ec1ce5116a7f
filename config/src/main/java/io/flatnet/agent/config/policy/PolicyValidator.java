package io.flatnet.agent.config.policy;

import io.flatnet.agent.config.ConfigError;
import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.config.IpNet;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Checks the {@code policy:} section the way the Kubernetes API server checks these objects, and
 * returns every problem with its path ({@code policy.networkPolicies[2].spec.ingress[0].ports[1]
 * .endPort}). Run by {@link io.flatnet.agent.config.ConfigValidator}.
 */
public final class PolicyValidator {

  static final String ROOT = "policy";
  static final Set<String> PROTOCOLS = Set.of("TCP", "UDP", "SCTP");

  /** RFC 1123 label: namespace names. */
  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");

  /** RFC 1123 subdomain: pod and policy names, label key prefixes. */
  private static final Pattern DNS_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

  /** A label name, a label key's name part and a label value. */
  private static final Pattern LABEL_NAME =
      Pattern.compile("[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?");

  /** IANA_SVC_NAME: container port names and named ports. */
  private static final Pattern PORT_NAME = Pattern.compile("[a-z0-9]([a-z0-9]|-(?=[a-z0-9]))*");

  private final List<ConfigError> errors = new ArrayList<>();

  private PolicyValidator() {}

  /** Every problem of {@code section}; empty if it may be applied. */
  public static List<ConfigError> validate(PolicySection section) {
    PolicyValidator v = new PolicyValidator();
    v.namespaces(section.namespaces());
    v.pods(section.pods());
    v.policies(section.networkPolicies());
    return List.copyOf(v.errors);
  }

  /**
   * What may not work as meant but is no error: pods that are neither attached to this node ({@code
   * attachedPods}, "namespace/name") nor have {@code status.podIPs}, so no policy can match their
   * addresses.
   */
  public static List<ConfigError> warnings(PolicySection section, Collection<String> attachedPods) {
    Set<String> attached = new HashSet<>(attachedPods);
    List<ConfigError> warnings = new ArrayList<>();
    for (int i = 0; i < section.pods().size(); i++) {
      PodObject pod = section.pods().get(i);
      if (pod == null || pod.metadata() == null) {
        continue;
      }
      if (pod.podIPs().isEmpty() && !attached.contains(pod.metadata().key())) {
        warnings.add(
            new ConfigError(
                ROOT + ".pods[" + i + "]",
                pod.metadata().key(),
                "not attached to this node and no status.podIPs: policies cannot match its"
                    + " addresses"));
      }
    }
    return warnings;
  }

  private void error(String path, String value, String message) {
    errors.add(new ConfigError(path, value, message));
  }

  private void kind(String path, String apiVersion, String wantVersion, String kind, String want) {
    if (apiVersion != null && !apiVersion.equals(wantVersion)) {
      error(path + ".apiVersion", apiVersion, "must be " + wantVersion + " (or left out)");
    }
    if (kind != null && !kind.equals(want)) {
      error(path + ".kind", kind, "must be " + want + " (or left out)");
    }
  }

  /** Checks name (and namespace if {@code namespaced}) and labels; false if the key is unusable. */
  private boolean metadata(String path, ObjectMeta meta, boolean namespaced) {
    if (meta == null) {
      error(path + ".metadata", null, "required (name" + (namespaced ? ", namespace" : "") + ")");
      return false;
    }
    String p = path + ".metadata";
    boolean ok = true;
    Pattern namePattern = namespaced ? DNS_SUBDOMAIN : DNS_LABEL;
    int maxName = namespaced ? 253 : 63;
    if (meta.name() == null || meta.name().isEmpty()) {
      error(p + ".name", meta.name(), "required");
      ok = false;
    } else if (meta.name().length() > maxName || !namePattern.matcher(meta.name()).matches()) {
      error(
          p + ".name",
          meta.name(),
          namespaced
              ? "not a valid name (lower case letters, digits, '-' and '.', at most 253)"
              : "not a valid namespace name (lower case letters, digits and '-', at most 63)");
      ok = false;
    }
    if (namespaced) {
      if (meta.namespace() == null || meta.namespace().isEmpty()) {
        error(p + ".namespace", meta.namespace(), "required");
        ok = false;
      } else if (meta.namespace().length() > 63 || !DNS_LABEL.matcher(meta.namespace()).matches()) {
        error(
            p + ".namespace",
            meta.namespace(),
            "not a valid namespace name (lower case letters, digits and '-', at most 63)");
        ok = false;
      }
    } else if (meta.namespace() != null) {
      error(p + ".namespace", meta.namespace(), "a Namespace has no namespace");
    }
    labels(p + ".labels", meta.labels());
    return ok;
  }

  private void labels(String path, Map<String, String> labels) {
    for (Map.Entry<String, String> e : labels.entrySet()) {
      labelKey(path, e.getKey());
      labelValue(path + "." + e.getKey(), e.getValue());
    }
  }

  private void labelKey(String path, String key) {
    String problem = labelKeyProblem(key);
    if (problem != null) {
      error(path, key, problem);
    }
  }

  /** Null for a valid label key ("[prefix/]name"), else what is wrong. */
  static String labelKeyProblem(String key) {
    if (key == null || key.isEmpty()) {
      return "empty label key";
    }
    int slash = key.indexOf('/');
    String name = slash < 0 ? key : key.substring(slash + 1);
    if (slash >= 0) {
      String prefix = key.substring(0, slash);
      if (prefix.isEmpty() || prefix.length() > 253 || !DNS_SUBDOMAIN.matcher(prefix).matches()) {
        return "not a valid label key: the prefix before '/' must be a DNS subdomain";
      }
    }
    if (name.isEmpty() || name.length() > 63 || !LABEL_NAME.matcher(name).matches()) {
      return "not a valid label key: the name must be 1-63 letters, digits, '-', '_' or '.',"
          + " starting and ending with a letter or digit";
    }
    return null;
  }

  private void labelValue(String path, String value) {
    if (value == null) {
      error(path, null, "empty label value (use \"\")");
    } else if (!value.isEmpty() && (value.length() > 63 || !LABEL_NAME.matcher(value).matches())) {
      error(
          path,
          value,
          "not a valid label value: at most 63 letters, digits, '-', '_' or '.', starting and"
              + " ending with a letter or digit");
    }
  }

  private void namespaces(List<NamespaceObject> namespaces) {
    Map<String, String> seen = new HashMap<>();
    for (int i = 0; i < namespaces.size(); i++) {
      String p = ROOT + ".namespaces[" + i + "]";
      NamespaceObject ns = namespaces.get(i);
      if (ns == null) {
        error(p, null, "empty namespace entry");
        continue;
      }
      kind(p, ns.apiVersion(), "v1", ns.kind(), "Namespace");
      if (metadata(p, ns.metadata(), false)) {
        String before = seen.putIfAbsent(ns.metadata().name(), p);
        if (before != null) {
          error(p + ".metadata.name", ns.metadata().name(), "duplicate namespace: also " + before);
        }
      }
    }
  }

  private void pods(List<PodObject> pods) {
    Map<String, String> seen = new HashMap<>();
    for (int i = 0; i < pods.size(); i++) {
      String p = ROOT + ".pods[" + i + "]";
      PodObject pod = pods.get(i);
      if (pod == null) {
        error(p, null, "empty pod entry");
        continue;
      }
      kind(p, pod.apiVersion(), "v1", pod.kind(), "Pod");
      if (metadata(p, pod.metadata(), true)) {
        String before = seen.putIfAbsent(pod.metadata().key(), p);
        if (before != null) {
          error(p + ".metadata", pod.metadata().key(), "duplicate pod: also " + before);
        }
      }
      Map<String, String> portNames = new HashMap<>();
      for (int c = 0; c < pod.containers().size(); c++) {
        String cp = p + ".spec.containers[" + c + "]";
        PodObject.Container container = pod.containers().get(c);
        if (container == null) {
          error(cp, null, "empty container entry");
          continue;
        }
        for (int k = 0; k < container.ports().size(); k++) {
          containerPort(cp + ".ports[" + k + "]", container.ports().get(k), portNames);
        }
      }
      if (pod.status() != null) {
        Set<Integer> families = new HashSet<>();
        for (int k = 0; k < pod.status().podIPs().size(); k++) {
          String ap = p + ".status.podIPs[" + k + "]";
          PodObject.PodIP ip = pod.status().podIPs().get(k);
          if (ip == null || ip.ip() == null || ip.ip().isBlank()) {
            error(ap + ".ip", null, "required (an address)");
            continue;
          }
          try {
            IpAddress a = IpAddress.parse(ip.ip().trim());
            if (!families.add(a.family())) {
              error(ap + ".ip", ip.ip(), "a second IPv" + a.family() + " address; one per family");
            }
          } catch (IllegalArgumentException e) {
            error(ap + ".ip", ip.ip(), e.getMessage());
          }
        }
      }
    }
  }

  private void containerPort(
      String p, PodObject.ContainerPort port, Map<String, String> portNames) {
    if (port == null) {
      error(p, null, "empty port entry");
      return;
    }
    if (port.containerPort() == null) {
      error(p + ".containerPort", null, "required");
    } else if (port.containerPort() < 1 || port.containerPort() > 65535) {
      error(p + ".containerPort", port.containerPort().toString(), "out of range 1..65535");
    }
    protocol(p, port.protocol());
    if (port.name() != null) {
      if (portNameProblem(port.name()) != null) {
        error(p + ".name", port.name(), portNameProblem(port.name()));
      } else {
        String before = portNames.putIfAbsent(port.name(), p);
        if (before != null) {
          error(p + ".name", port.name(), "duplicate port name in this pod: also " + before);
        }
      }
    }
  }

  private void protocol(String p, String protocol) {
    if (protocol != null && !PROTOCOLS.contains(protocol)) {
      error(p + ".protocol", protocol, "must be TCP, UDP or SCTP (default TCP)");
    }
  }

  /** Null for a valid port name (IANA_SVC_NAME), else what is wrong. */
  static String portNameProblem(String name) {
    if (name.isEmpty()
        || name.length() > 15
        || !PORT_NAME.matcher(name).matches()
        || name.chars().noneMatch(ch -> ch >= 'a' && ch <= 'z')) {
      return "not a valid port name: 1-15 lower case letters, digits and '-', with at least one"
          + " letter, no '-' at either end and no '--'";
    }
    return null;
  }

  private void policies(List<NetworkPolicy> policies) {
    Map<String, String> seen = new HashMap<>();
    for (int i = 0; i < policies.size(); i++) {
      String p = ROOT + ".networkPolicies[" + i + "]";
      NetworkPolicy policy = policies.get(i);
      if (policy == null) {
        error(p, null, "empty policy entry");
        continue;
      }
      kind(p, policy.apiVersion(), NetworkPolicy.API_VERSION, policy.kind(), NetworkPolicy.KIND);
      if (metadata(p, policy.metadata(), true)) {
        String before = seen.putIfAbsent(policy.metadata().key(), p);
        if (before != null) {
          error(p + ".metadata", policy.metadata().key(), "duplicate policy: also " + before);
        }
      }
      NetworkPolicy.Spec spec = policy.specOrEmpty();
      String sp = p + ".spec";
      if (spec.podSelector() != null) {
        selector(sp + ".podSelector", spec.podSelector());
      }
      Set<String> types = new HashSet<>();
      for (int k = 0; k < spec.policyTypes().size(); k++) {
        String t = spec.policyTypes().get(k);
        String tp = sp + ".policyTypes[" + k + "]";
        if (!NetworkPolicy.INGRESS.equals(t) && !NetworkPolicy.EGRESS.equals(t)) {
          error(tp, t, "must be Ingress or Egress");
        } else if (!types.add(t)) {
          error(tp, t, "duplicate policy type");
        }
      }
      for (int k = 0; k < spec.ingress().size(); k++) {
        String rp = sp + ".ingress[" + k + "]";
        NetworkPolicy.IngressRule rule = spec.ingress().get(k);
        if (rule == null) {
          continue; // an empty rule: from anywhere on any port, as in Kubernetes
        }
        peers(rp + ".from", rule.from());
        ports(rp + ".ports", rule.ports());
      }
      for (int k = 0; k < spec.egress().size(); k++) {
        String rp = sp + ".egress[" + k + "]";
        NetworkPolicy.EgressRule rule = spec.egress().get(k);
        if (rule == null) {
          continue;
        }
        peers(rp + ".to", rule.to());
        ports(rp + ".ports", rule.ports());
      }
    }
  }

  private void selector(String p, LabelSelector s) {
    labels(p + ".matchLabels", s.matchLabels());
    for (int i = 0; i < s.matchExpressions().size(); i++) {
      String ep = p + ".matchExpressions[" + i + "]";
      LabelSelector.Requirement r = s.matchExpressions().get(i);
      if (r == null) {
        error(ep, null, "empty requirement (key, operator, values)");
        continue;
      }
      labelKey(ep + ".key", r.key());
      if (r.operator() == null || !LabelSelector.OPERATORS.contains(r.operator())) {
        error(ep + ".operator", r.operator(), "must be In, NotIn, Exists or DoesNotExist");
        continue;
      }
      boolean wantsValues =
          r.operator().equals(LabelSelector.IN) || r.operator().equals(LabelSelector.NOT_IN);
      if (wantsValues && r.values().isEmpty()) {
        error(ep + ".values", null, r.operator() + " needs at least one value");
      } else if (!wantsValues && !r.values().isEmpty()) {
        error(ep + ".values", null, r.operator() + " takes no values");
      }
      for (int k = 0; k < r.values().size(); k++) {
        labelValue(ep + ".values[" + k + "]", r.values().get(k));
      }
    }
  }

  private void peers(String p, List<NetworkPolicy.Peer> peers) {
    for (int i = 0; i < peers.size(); i++) {
      String pp = p + "[" + i + "]";
      NetworkPolicy.Peer peer = peers.get(i);
      if (peer == null
          || (peer.podSelector() == null
              && peer.namespaceSelector() == null
              && peer.ipBlock() == null)) {
        error(pp, null, "a peer needs podSelector, namespaceSelector or ipBlock");
        continue;
      }
      if (peer.ipBlock() != null
          && (peer.podSelector() != null || peer.namespaceSelector() != null)) {
        error(
            pp + ".ipBlock",
            null,
            "ipBlock cannot be combined with podSelector or namespaceSelector in one peer"
                + " (make them two peers)");
      }
      if (peer.podSelector() != null) {
        selector(pp + ".podSelector", peer.podSelector());
      }
      if (peer.namespaceSelector() != null) {
        selector(pp + ".namespaceSelector", peer.namespaceSelector());
      }
      if (peer.ipBlock() != null) {
        ipBlock(pp + ".ipBlock", peer.ipBlock());
      }
    }
  }

  private IpNet cidr(String path, String text) {
    if (text == null || text.isBlank()) {
      error(path, text, "required (a CIDR)");
      return null;
    }
    try {
      return IpNet.parse(text.trim());
    } catch (IllegalArgumentException e) {
      error(path, text, e.getMessage());
      return null;
    }
  }

  private void ipBlock(String p, NetworkPolicy.IpBlock block) {
    IpNet net = cidr(p + ".cidr", block.cidr());
    for (int i = 0; i < block.except().size(); i++) {
      String ep = p + ".except[" + i + "]";
      IpNet except = cidr(ep, block.except().get(i));
      if (net == null || except == null) {
        continue;
      }
      if (!net.overlaps(except) || except.length() <= net.length()) {
        error(ep, block.except().get(i), "must be strictly inside cidr " + net);
      }
    }
  }

  private void ports(String p, List<NetworkPolicy.Port> ports) {
    for (int i = 0; i < ports.size(); i++) {
      String pp = p + "[" + i + "]";
      NetworkPolicy.Port port = ports.get(i);
      if (port == null) {
        continue; // an empty port: every port of TCP, as in Kubernetes
      }
      protocol(pp, port.protocol());
      IntOrString value = port.port();
      if (value != null && value.isNumber()) {
        if (value.number() < 1 || value.number() > 65535) {
          error(pp + ".port", value.toString(), "out of range 1..65535");
        }
      } else if (value != null && portNameProblem(value.name()) != null) {
        error(pp + ".port", value.name(), portNameProblem(value.name()));
      }
      if (port.endPort() != null) {
        if (value == null || !value.isNumber()) {
          error(
              pp + ".endPort",
              port.endPort().toString(),
              "needs a numeric port (endPort ends the range port..endPort)");
        } else if (port.endPort() < value.number()) {
          error(
              pp + ".endPort",
              port.endPort().toString(),
              "must not be below port (" + value.number() + ")");
        } else if (port.endPort() > 65535) {
          error(pp + ".endPort", port.endPort().toString(), "out of range 1..65535");
        }
      }
    }
  }
}
