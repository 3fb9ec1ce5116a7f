package io.flatnet.agent.cni;

import io.flatnet.agent.config.IpAddress;
import java.util.List;

/**
 * The kernel side of a netns pod: a veth pair with one end ({@code ifname}, e.g. eth0) in the pod's
 * network namespace, holding the pod's addresses and a default route via the gateway, and the other
 * end in the host namespace: on the shared pod bridge ({@link PodSegment}, attach mode {@code
 * shared}), or attached by the router as its own af_packet port (attach mode {@code port}).
 */
public interface NetnsPlumber {

  /** A failed command, with what it printed. */
  final class PlumbingException extends Exception {
    private static final long serialVersionUID = 1L;

    public PlumbingException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * Creates the pair and configures the pod end: addresses as /32 and /128, a host route to each
   * gateway and a default route via it, TX checksum offload off (the router does not fill in
   * checksums the kernel left for the NIC).
   *
   * @param netns the pod's network namespace (a path, e.g. /var/run/netns/cni-...)
   * @param ifname the pod-side name (CNI_IFNAME)
   * @param hostIface the host-side name
   * @param mac the pod-side MAC
   * @param ips the pod's addresses
   * @param gateways the gateways, one per family of {@code ips}
   * @param mtu the MTU of both ends
   * @param shared put the host end on the shared pod bridge (isolated, and guarded: bound to {@code
   *     mac} and {@code ips}, see {@link PodSegment}), making the segment first if needed; else
   *     leave it for the router to attach as its own port
   */
  void add(
      String netns,
      String ifname,
      String hostIface,
      String mac,
      List<IpAddress> ips,
      List<IpAddress> gateways,
      int mtu,
      boolean shared)
      throws PlumbingException;

  /**
   * Deletes the pair by its host end, and its guards on the pod bridge; nothing if they do not
   * exist.
   */
  void del(String hostIface) throws PlumbingException;

  /**
   * Checks that {@code ifname} in {@code netns} exists, holds {@code ips} and has a default route
   * via each gateway, and that the host end is up (and, if {@code shared}, isolated on the pod
   * bridge with its guards for the MAC of {@code ifname} and {@code ips}, with the segment's router
   * end in place).
   */
  void check(
      String netns,
      String ifname,
      String hostIface,
      List<IpAddress> ips,
      List<IpAddress> gateways,
      boolean shared)
      throws PlumbingException;
}
