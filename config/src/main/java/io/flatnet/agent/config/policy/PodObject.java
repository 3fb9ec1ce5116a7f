package io.flatnet.agent.config.policy;

import java.util.List;

/**
 * A v1 Pod: its labels (pod selectors), its containers' named ports (named ports in policies) and
 * its addresses ({@code status.podIPs}; optional for pods attached to this node).
 */
public record PodObject(
    String apiVersion, String kind, ObjectMeta metadata, PodObjectSpec spec, PodStatus status) {

  /** {@code spec:} the containers. */
  public record PodObjectSpec(List<Container> containers) {
    public PodObjectSpec {
      containers = Lists.of(containers);
    }
  }

  /** {@code spec.containers[]:} only the ports matter. */
  public record Container(String name, List<ContainerPort> ports) {
    public Container {
      ports = Lists.of(ports);
    }
  }

  /** {@code ports[]:} a container port; {@code protocol} defaults to TCP. */
  public record ContainerPort(String name, Integer containerPort, String protocol) {}

  /** {@code status:} the pod's addresses, at most one per family. */
  public record PodStatus(List<PodIP> podIPs) {
    public PodStatus {
      podIPs = Lists.of(podIPs);
    }
  }

  /** {@code podIPs[]:} one address. */
  public record PodIP(String ip) {}

  /** The containers, none if {@code spec} is left out. */
  public List<Container> containers() {
    return spec == null ? List.of() : spec.containers();
  }

  /** The address texts of {@code status.podIPs}, none if left out. */
  public List<String> podIPs() {
    return status == null
        ? List.of()
        : status.podIPs().stream().filter(p -> p != null && p.ip() != null).map(PodIP::ip).toList();
  }
}
