package io.flatnet.agent.config.policy;

import java.util.List;

/**
 * A {@code networking.k8s.io/v1} NetworkPolicy, field for field. See
 * https://kubernetes.io/docs/concepts/services-networking/network-policies/.
 */
public record NetworkPolicy(String apiVersion, String kind, ObjectMeta metadata, Spec spec) {

  public static final String API_VERSION = "networking.k8s.io/v1";
  public static final String KIND = "NetworkPolicy";
  public static final String INGRESS = "Ingress";
  public static final String EGRESS = "Egress";

  /**
   * {@code spec:} which pods of the policy's namespace it selects ({@code podSelector}, null =
   * all), its policy types and rules.
   */
  public record Spec(
      LabelSelector podSelector,
      List<String> policyTypes,
      List<IngressRule> ingress,
      List<EgressRule> egress) {
    public Spec {
      policyTypes = Lists.of(policyTypes);
      ingress = Lists.of(ingress);
      egress = Lists.of(egress);
    }

    /**
     * The policy types in effect: as listed, or (left out or empty) the Kubernetes default:
     * Ingress, plus Egress when there are egress rules.
     */
    public List<String> effectivePolicyTypes() {
      if (!policyTypes.isEmpty()) {
        return policyTypes;
      }
      return egress.isEmpty() ? List.of(INGRESS) : List.of(INGRESS, EGRESS);
    }
  }

  /** {@code ingress[]:} traffic from any of {@code from} to any of {@code ports}. */
  public record IngressRule(List<Peer> from, List<Port> ports) {
    public IngressRule {
      from = Lists.of(from);
      ports = Lists.of(ports);
    }
  }

  /** {@code egress[]:} traffic to any of {@code to} on any of {@code ports}. */
  public record EgressRule(List<Peer> to, List<Port> ports) {
    public EgressRule {
      to = Lists.of(to);
      ports = Lists.of(ports);
    }
  }

  /**
   * A peer: pods ({@code podSelector} and/or {@code namespaceSelector}, both must match) or an
   * {@code ipBlock}, never both.
   */
  public record Peer(LabelSelector podSelector, LabelSelector namespaceSelector, IpBlock ipBlock) {}

  /** {@code ipBlock:} a CIDR minus the CIDRs in {@code except}. */
  public record IpBlock(String cidr, List<String> except) {
    public IpBlock {
      except = Lists.of(except);
    }
  }

  /**
   * {@code ports[]:} {@code protocol} (TCP, UDP or SCTP; default TCP), {@code port} (a number or a
   * named container port; left out = every port) and {@code endPort} (with a numeric port: the
   * range port..endPort).
   */
  public record Port(String protocol, IntOrString port, Integer endPort) {}

  /** The spec, empty if left out. */
  public Spec specOrEmpty() {
    return spec == null ? new Spec(null, null, null, null) : spec;
  }
}
