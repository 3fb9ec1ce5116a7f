package io.flatnet.control;

import java.util.List;

/**
 * A pod attached to the router.
 *
 * <ul>
 *   <li>{@code name}: "namespace/name".
 *   <li>{@code kind}: "vhost-user", "tap", "af_packet" (a DPDK port of its own) or "bridge" (a
 *       netns pod on the shared pod bridge, reached through the router's one port there).
 *   <li>{@code socket}, {@code mode}: the vhost-user socket path and the router's side of it,
 *       "client" (the pod's virtio-user created the socket) or "server" (the router creates it);
 *       null for other kinds.
 *   <li>{@code iface}: the host-side interface for tap/af_packet (for a netns pod the CNI plugin
 *       made, the host end of its veth pair); null for vhost-user.
 *   <li>{@code ips}: the pod's addresses, canonical text, at most one per family. The dataplane
 *       routes each as a host route (/32, /128) to this pod.
 *   <li>{@code mac}: the pod's MAC, lower case, or null if the dataplane should learn it (ARP/NDP).
 *   <li>{@code gateways}: the gateway addresses the pod uses (those of its families); the dataplane
 *       answers ARP/NDP for them on the pod's port with the router MAC.
 * </ul>
 */
public record PodSpec(
    String name,
    String kind,
    String socket,
    String mode,
    String iface,
    List<String> ips,
    String mac,
    List<String> gateways)
    implements Spec {

  public PodSpec {
    ips = List.copyOf(ips);
    gateways = List.copyOf(gateways);
  }

  @Override
  public Resource resource() {
    return Resource.POD;
  }

  @Override
  public String key() {
    return name;
  }
}
