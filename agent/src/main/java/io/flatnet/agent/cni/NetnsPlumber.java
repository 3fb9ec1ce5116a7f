package io.flatnet.agent.cni;

import io.flatnet.agent.config.IpAddress;
import java.util.List;

/**
 * The kernel side of a netns pod: a veth pair with one end ({@code ifname}, e.g. eth0) in the pod's
 * network namespace, holding the pod's addresses and a default route via the gateway, and the other
 * end in the host namespace, which the router attaches to as an af_packet port.
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
   */
  void add(
      String netns,
      String ifname,
      String hostIface,
      String mac,
      List<IpAddress> ips,
      List<IpAddress> gateways,
      int mtu)
      throws PlumbingException;

  /** Deletes the pair by its host end; nothing if it does not exist. */
  void del(String hostIface) throws PlumbingException;

  /** Checks that {@code ifname} in {@code netns} exists and holds {@code ips}. */
  void check(String netns, String ifname, List<IpAddress> ips) throws PlumbingException;
}
