package io.flatnet.control;

import java.util.List;

/**
 * The compiled network policy of one pod on this node: what the agent's policy compiler made of
 * every {@code networking.k8s.io/v1} NetworkPolicy that selects it, with selectors already resolved
 * to addresses and named ports to numbers. The dataplane only matches addresses, protocols and
 * ports; it knows nothing of labels.
 *
 * <ul>
 *   <li>{@code pod}: "namespace/name", the key (one spec per pod).
 *   <li>{@code addresses}: the pod's addresses, canonical text ("10.244.1.5", "fd00:1::5").
 *   <li>{@code ingressIsolated}/{@code egressIsolated}: some policy selecting the pod has that
 *       policy type. A direction that is not isolated is open, whatever the rules.
 *   <li>{@code ingress}/{@code egress}: the allow rules of that direction; a packet is allowed if
 *       any rule matches it (the union of all policies), denied if the direction is isolated and
 *       none does. An isolated direction with no rules denies everything.
 * </ul>
 */
public record PolicySpec(
    String pod,
    List<String> addresses,
    boolean ingressIsolated,
    boolean egressIsolated,
    List<Rule> ingress,
    List<Rule> egress)
    implements Spec {

  public PolicySpec {
    addresses = List.copyOf(addresses);
    ingress = List.copyOf(ingress);
    egress = List.copyOf(egress);
  }

  /**
   * One allow rule: peers and ports, both must match.
   *
   * <ul>
   *   <li>{@code policy}: the NetworkPolicy's "namespace/name"; {@code rule}: the index of the rule
   *       in that policy's ingress or egress list. Named by {@code ctl trace} and the counters. A
   *       policy rule may compile to several of these (an egress rule with a named port that peers
   *       resolve differently); they share policy and rule.
   *   <li>{@code anyPeer}: the rule has no peers ({@code from}/{@code to} left out or empty), so
   *       every address matches and {@code peers} is empty. Otherwise {@code peers} lists the
   *       matching address blocks, possibly none (selectors that select no pod today).
   *   <li>{@code anyPort}: the rule has no ports, so every protocol (ICMP too) and port matches and
   *       {@code ports} is empty. Otherwise only TCP, UDP or SCTP packets whose destination port is
   *       in one of {@code ports} match.
   * </ul>
   */
  public record Rule(
      String policy,
      int rule,
      boolean anyPeer,
      List<Peer> peers,
      boolean anyPort,
      List<PortRange> ports) {
    public Rule {
      peers = List.copyOf(peers);
      ports = List.copyOf(ports);
    }
  }

  /**
   * An address block: canonical {@code cidr} ("10.0.0.0/8", a pod as "10.244.1.5/32") minus the
   * canonical blocks in {@code except}, each inside {@code cidr}.
   */
  public record Peer(String cidr, List<String> except) {
    public Peer {
      except = List.copyOf(except);
    }
  }

  /**
   * Destination ports {@code first..last} (inclusive, 1..65535; one port when equal, every port as
   * 1..65535) of {@code protocol}: "TCP", "UDP" or "SCTP".
   */
  public record PortRange(String protocol, int first, int last) {}

  @Override
  public Resource resource() {
    return Resource.POLICY;
  }

  @Override
  public String key() {
    return pod;
  }
}
