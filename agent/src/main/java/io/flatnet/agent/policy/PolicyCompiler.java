package io.flatnet.agent.policy;

import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.config.IpNet;
import io.flatnet.agent.config.policy.LabelSelector;
import io.flatnet.agent.config.policy.NamespaceObject;
import io.flatnet.agent.config.policy.NetworkPolicy;
import io.flatnet.agent.config.policy.PodObject;
import io.flatnet.agent.config.policy.PolicySection;
import io.flatnet.control.PolicySpec;
import io.flatnet.control.PolicySpec.Peer;
import io.flatnet.control.PolicySpec.PortRange;
import io.flatnet.control.PolicySpec.Rule;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Compiles Kubernetes NetworkPolicies into one {@link PolicySpec} per pod attached to this node
 * that at least one policy selects, with the semantics of {@code networking.k8s.io/v1}: label
 * selectors resolved to pod addresses, named ports to numbers. Pods no policy selects get no spec
 * (they are open). The input is plain model records (see {@link PolicySection}), so the config file
 * and a Kubernetes watch can feed it alike.
 *
 * <ul>
 *   <li>Pods: a Pod object belongs to the attached pod of the same "namespace/name"; its addresses
 *       are {@code status.podIPs}, else the attached pod's. An attached pod without a Pod object
 *       has no labels. A Pod object neither attached nor with podIPs has no addresses, so no peer
 *       can name it.
 *   <li>Namespaces: every namespace carries {@code kubernetes.io/metadata.name: NAME}; one not
 *       listed has only that label.
 *   <li>Named ports: an ingress rule resolves them against the selected (local) pod's container
 *       ports; an egress rule against each peer pod's, so it compiles to one {@link Rule} per set
 *       of resolved ports (all sharing the policy and rule index). A name no container port has
 *       (with that protocol) matches nothing; egress named ports never match ipBlock peers
 *       (Kubernetes leaves that to the implementation).
 *   <li>Every policy rule appears at least once, so {@code ctl trace} can name it: a rule whose
 *       ports all resolve to nothing stays as a rule with no ports that matches nothing.
 *   <li>Deterministic: policies by "namespace/name", rules in order, peers sorted by address, ports
 *       in the order written; equal inputs give equal specs, so the planner does not churn.
 * </ul>
 */
public final class PolicyCompiler {

  /** The label Kubernetes sets on every namespace. */
  public static final String NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

  private static final String TCP = "TCP";

  /** A pod attached to this node: "namespace/name" and its addresses (any text form). */
  public record AttachedPod(String name, List<String> addresses) {
    public AttachedPod {
      addresses = List.copyOf(addresses);
    }
  }

  /** A pod as policy sees it: labels, named container ports and canonical addresses. */
  private record KnownPod(
      String namespace,
      String name,
      Map<String, String> labels,
      List<PodObject.ContainerPort> ports,
      List<IpAddress> addresses) {
    String key() {
      return namespace + "/" + name;
    }
  }

  /** A named port of a rule: resolved per pod. */
  private record NamedPort(String protocol, String name) {}

  /** A rule's ports: every port, or numeric ranges plus names still to resolve. */
  private record RulePorts(boolean any, List<PortRange> numeric, List<NamedPort> named) {}

  /** A rule's peers resolved: every address, or ipBlocks plus the pods the selectors select. */
  private record RulePeers(boolean any, List<Peer> blocks, List<KnownPod> pods) {}

  private final Map<String, Map<String, String>> namespaceLabels = new HashMap<>();
  private final SortedMap<String, KnownPod> pods = new TreeMap<>();
  private final List<NetworkPolicy> policies;

  private PolicyCompiler(PolicySection section, Collection<AttachedPod> attached) {
    for (NamespaceObject ns : section.namespaces()) {
      if (ns != null && ns.metadata() != null && ns.metadata().name() != null) {
        Map<String, String> labels = new HashMap<>(ns.metadata().labels());
        labels.put(NAMESPACE_NAME_LABEL, ns.metadata().name());
        namespaceLabels.put(ns.metadata().name(), labels);
      }
    }
    Map<String, AttachedPod> attachedByName = new HashMap<>();
    attached.forEach(a -> attachedByName.put(a.name(), a));
    for (PodObject p : section.pods()) {
      if (p == null || p.metadata() == null) {
        continue;
      }
      AttachedPod local = attachedByName.get(p.metadata().key());
      List<String> addresses =
          !p.podIPs().isEmpty() ? p.podIPs() : local != null ? local.addresses() : List.of();
      List<PodObject.ContainerPort> ports = new ArrayList<>();
      p.containers().stream().filter(c -> c != null).forEach(c -> ports.addAll(c.ports()));
      KnownPod known =
          new KnownPod(
              p.metadata().namespace(),
              p.metadata().name(),
              p.metadata().labels(),
              ports,
              parseAddresses(addresses));
      pods.put(known.key(), known);
    }
    for (AttachedPod a : attached) {
      if (!pods.containsKey(a.name())) {
        int slash = a.name().indexOf('/');
        pods.put(
            a.name(),
            new KnownPod(
                a.name().substring(0, Math.max(slash, 0)),
                a.name().substring(slash + 1),
                Map.of(),
                List.of(),
                parseAddresses(a.addresses())));
      }
    }
    policies =
        section.networkPolicies().stream()
            .filter(p -> p != null && p.metadata() != null)
            .sorted(Comparator.comparing(p -> p.metadata().key()))
            .toList();
  }

  /**
   * The compiled policy of every attached pod some policy selects, by pod name.
   *
   * @param section namespaces, pods (of every node) and NetworkPolicies, already validated
   * @param attached the pods attached to this node (config and CNI pods)
   * @throws IllegalArgumentException if {@code section} was not valid (a bad CIDR or address)
   */
  public static List<PolicySpec> compile(PolicySection section, Collection<AttachedPod> attached) {
    PolicyCompiler c = new PolicyCompiler(section, attached);
    List<PolicySpec> specs = new ArrayList<>();
    attached.stream()
        .map(AttachedPod::name)
        .distinct()
        .sorted()
        .forEach(name -> c.specFor(c.pods.get(name)).ifPresent(specs::add));
    return specs;
  }

  private Optional<PolicySpec> specFor(KnownPod pod) {
    List<NetworkPolicy> selecting =
        policies.stream()
            .filter(p -> p.metadata().namespace().equals(pod.namespace()))
            .filter(p -> selectorOrAll(p.specOrEmpty().podSelector()).matches(pod.labels()))
            .toList();
    if (selecting.isEmpty()) {
      return Optional.empty();
    }
    boolean ingressIsolated = false;
    boolean egressIsolated = false;
    List<Rule> ingress = new ArrayList<>();
    List<Rule> egress = new ArrayList<>();
    for (NetworkPolicy policy : selecting) {
      NetworkPolicy.Spec spec = policy.specOrEmpty();
      String name = policy.metadata().key();
      List<String> types = spec.effectivePolicyTypes();
      if (types.contains(NetworkPolicy.INGRESS)) {
        ingressIsolated = true;
        for (int i = 0; i < spec.ingress().size(); i++) {
          NetworkPolicy.IngressRule r = spec.ingress().get(i);
          List<NetworkPolicy.Peer> from = r == null ? List.of() : r.from();
          List<NetworkPolicy.Port> ports = r == null ? List.of() : r.ports();
          ingress.add(ingressRule(name, i, pod, resolvePeers(policy, from), rulePorts(ports)));
        }
      }
      if (types.contains(NetworkPolicy.EGRESS)) {
        egressIsolated = true;
        for (int i = 0; i < spec.egress().size(); i++) {
          NetworkPolicy.EgressRule r = spec.egress().get(i);
          List<NetworkPolicy.Peer> to = r == null ? List.of() : r.to();
          List<NetworkPolicy.Port> ports = r == null ? List.of() : r.ports();
          egress.addAll(egressRules(name, i, resolvePeers(policy, to), rulePorts(ports)));
        }
      }
    }
    List<String> addresses = pod.addresses().stream().sorted().map(IpAddress::toString).toList();
    return Optional.of(
        new PolicySpec(pod.key(), addresses, ingressIsolated, egressIsolated, ingress, egress));
  }

  /** Named ports resolve against the local pod, the destination of ingress traffic. */
  private static Rule ingressRule(
      String policy, int index, KnownPod local, RulePeers peers, RulePorts ports) {
    List<Peer> peerList = peers.any() ? List.of() : allPeers(peers);
    if (ports.any()) {
      return new Rule(policy, index, peers.any(), peerList, true, List.of());
    }
    LinkedHashSet<PortRange> resolved = new LinkedHashSet<>(ports.numeric());
    resolved.addAll(resolve(ports.named(), local));
    return new Rule(policy, index, peers.any(), peerList, false, List.copyOf(resolved));
  }

  /**
   * Named ports resolve against each peer pod, the destination of egress traffic: peers are grouped
   * by the ports they end up with, one rule per group (sorted by ports).
   */
  private List<Rule> egressRules(String policy, int index, RulePeers peers, RulePorts ports) {
    if (ports.any() || ports.named().isEmpty()) {
      List<Peer> peerList = peers.any() ? List.of() : allPeers(peers);
      return List.of(new Rule(policy, index, peers.any(), peerList, ports.any(), ports.numeric()));
    }
    List<Rule> rules = new ArrayList<>();
    SortedMap<List<PortRange>, List<Peer>> groups = new TreeMap<>(PolicyCompiler::comparePorts);
    if (peers.any()) {
      // Numbers hold for every address; names only for the pods that have them.
      if (!ports.numeric().isEmpty()) {
        rules.add(new Rule(policy, index, true, List.of(), false, ports.numeric()));
      }
      for (KnownPod pod : pods.values()) {
        List<PortRange> resolved = resolve(ports.named(), pod);
        if (!resolved.isEmpty() && !pod.addresses().isEmpty()) {
          groups.computeIfAbsent(resolved, k -> new ArrayList<>()).addAll(podPeers(pod));
        }
      }
    } else {
      if (!ports.numeric().isEmpty() && !peers.blocks().isEmpty()) {
        groups.computeIfAbsent(ports.numeric(), k -> new ArrayList<>()).addAll(peers.blocks());
      }
      for (KnownPod pod : peers.pods()) {
        LinkedHashSet<PortRange> all = new LinkedHashSet<>(ports.numeric());
        all.addAll(resolve(ports.named(), pod));
        if (!all.isEmpty() && !pod.addresses().isEmpty()) {
          groups.computeIfAbsent(List.copyOf(all), k -> new ArrayList<>()).addAll(podPeers(pod));
        }
      }
    }
    groups.forEach((p, g) -> rules.add(new Rule(policy, index, false, sorted(g), false, p)));
    if (rules.isEmpty()) {
      // Kept (matching nothing) so trace and the counters still show the rule.
      List<Peer> peerList = peers.any() ? List.of() : allPeers(peers);
      rules.add(new Rule(policy, index, peers.any(), peerList, false, List.of()));
    }
    return rules;
  }

  private static List<PortRange> resolve(List<NamedPort> named, KnownPod pod) {
    LinkedHashSet<PortRange> out = new LinkedHashSet<>();
    for (NamedPort n : named) {
      for (PodObject.ContainerPort cp : pod.ports()) {
        String protocol = cp.protocol() == null ? TCP : cp.protocol();
        if (n.name().equals(cp.name()) && n.protocol().equals(protocol)) {
          out.add(new PortRange(protocol, cp.containerPort(), cp.containerPort()));
        }
      }
    }
    return List.copyOf(out);
  }

  private static RulePorts rulePorts(List<NetworkPolicy.Port> ports) {
    if (ports.isEmpty()) {
      return new RulePorts(true, List.of(), List.of());
    }
    LinkedHashSet<PortRange> numeric = new LinkedHashSet<>();
    LinkedHashSet<NamedPort> named = new LinkedHashSet<>();
    for (NetworkPolicy.Port p : ports) {
      String protocol = p == null || p.protocol() == null ? TCP : p.protocol();
      if (p == null || p.port() == null) {
        numeric.add(new PortRange(protocol, 1, 65535));
      } else if (p.port().isNumber()) {
        int first = p.port().number();
        numeric.add(new PortRange(protocol, first, p.endPort() == null ? first : p.endPort()));
      } else {
        named.add(new NamedPort(protocol, p.port().name()));
      }
    }
    return new RulePorts(false, List.copyOf(numeric), List.copyOf(named));
  }

  /**
   * The peers of a rule: an empty list is every address; selectors pick pods (a podSelector alone
   * in the policy's namespace, a namespaceSelector alone every pod of the matching namespaces, both
   * together the matching pods of the matching namespaces).
   */
  private RulePeers resolvePeers(NetworkPolicy policy, List<NetworkPolicy.Peer> peers) {
    if (peers.isEmpty()) {
      return new RulePeers(true, List.of(), List.of());
    }
    String namespace = policy.metadata().namespace();
    List<Peer> blocks = new ArrayList<>();
    SortedMap<String, KnownPod> selected = new TreeMap<>();
    for (NetworkPolicy.Peer peer : peers) {
      if (peer == null) {
        continue;
      }
      if (peer.ipBlock() != null) {
        blocks.add(ipBlock(peer.ipBlock()));
        continue;
      }
      if (peer.podSelector() == null && peer.namespaceSelector() == null) {
        continue; // invalid, refused by the validator
      }
      LabelSelector podSelector = selectorOrAll(peer.podSelector());
      for (KnownPod pod : pods.values()) {
        boolean namespaceMatches =
            peer.namespaceSelector() == null
                ? pod.namespace().equals(namespace)
                : peer.namespaceSelector().matches(namespaceLabels(pod.namespace()));
        if (namespaceMatches && podSelector.matches(pod.labels())) {
          selected.put(pod.key(), pod);
        }
      }
    }
    return new RulePeers(false, blocks, List.copyOf(selected.values()));
  }

  private Map<String, String> namespaceLabels(String namespace) {
    return namespaceLabels.getOrDefault(namespace, Map.of(NAMESPACE_NAME_LABEL, namespace));
  }

  private static LabelSelector selectorOrAll(LabelSelector s) {
    return s == null ? LabelSelector.ALL : s;
  }

  private static Peer ipBlock(NetworkPolicy.IpBlock block) {
    List<String> except =
        block.except().stream()
            .map(e -> IpNet.parse(e.trim()))
            .sorted(PolicyCompiler::compareNets)
            .distinct()
            .map(IpNet::toString)
            .toList();
    return new Peer(IpNet.parse(block.cidr().trim()).toString(), except);
  }

  private static List<Peer> podPeers(KnownPod pod) {
    return pod.addresses().stream().map(a -> new Peer(a + "/" + a.bits(), List.of())).toList();
  }

  private static List<Peer> allPeers(RulePeers peers) {
    List<Peer> all = new ArrayList<>(peers.blocks());
    peers.pods().forEach(p -> all.addAll(podPeers(p)));
    return sorted(all);
  }

  /** Peers by address family, network, length, then except; duplicates once. */
  private static List<Peer> sorted(List<Peer> peers) {
    return peers.stream()
        .distinct()
        .sorted(
            Comparator.<Peer, IpNet>comparing(
                    p -> IpNet.parse(p.cidr()), PolicyCompiler::compareNets)
                .thenComparing(p -> String.join(",", p.except())))
        .toList();
  }

  private static int compareNets(IpNet a, IpNet b) {
    int c = a.network().compareTo(b.network());
    return c != 0 ? c : Integer.compare(a.length(), b.length());
  }

  private static int comparePorts(List<PortRange> a, List<PortRange> b) {
    Comparator<PortRange> byRange =
        Comparator.comparing(PortRange::protocol)
            .thenComparingInt(PortRange::first)
            .thenComparingInt(PortRange::last);
    for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
      int c = byRange.compare(a.get(i), b.get(i));
      if (c != 0) {
        return c;
      }
    }
    return Integer.compare(a.size(), b.size());
  }

  private static List<IpAddress> parseAddresses(List<String> texts) {
    return texts.stream().map(t -> IpAddress.parse(t.trim())).toList();
  }
}
