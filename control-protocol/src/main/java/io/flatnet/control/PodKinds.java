package io.flatnet.control;

/** How a pod is attached to the router: the {@code kind} of a {@link PodSpec}. */
public final class PodKinds {
  private PodKinds() {}

  /** A VM pod's virtio-net over a vhost-user socket (QEMU, KubeVirt, Kata). */
  public static final String VHOST_USER = "vhost-user";

  /** A kernel TAP interface the router creates. */
  public static final String TAP = "tap";

  /** An existing kernel interface (a veth end), read with af_packet. */
  public static final String AF_PACKET = "af_packet";

  /** A netns pod on the shared pod bridge, reached through the router's one segment port. */
  public static final String BRIDGE = "bridge";

  /** The router's port on the shared pod bridge: no config port may take this name. */
  public static final String SEGMENT_PORT = "pods0";

  /** The kernel bridge bridge pods are plugged into (the agent makes it). */
  public static final String POD_BRIDGE = "fn-pods";

  /** The router's end of the veth pair into the pod bridge (its segment port reads it). */
  public static final String SEGMENT_ROUTER_END = "fn-pods0";
}
