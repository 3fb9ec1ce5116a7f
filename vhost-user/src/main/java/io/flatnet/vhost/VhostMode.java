package io.flatnet.vhost;

/** Which side of a vhost-user socket creates it and listens. */
public enum VhostMode {
  /**
   * flatnet creates the socket and listens; the VM (QEMU {@code server=off}, virtio_user) connects.
   * When the peer goes away the socket stays and the next peer connects to it.
   */
  SERVER("server"),
  /**
   * The VM side creates the socket and listens (QEMU {@code server=on}, virtio_user {@code
   * server=1}); flatnet connects, and rte_vhost retries once a second until it can, and again after
   * the peer goes away. The default for pods: a restarted flatnet finds the VMs where they were.
   */
  CLIENT("client");

  private final String label;

  VhostMode(String label) {
    this.label = label;
  }

  public String label() {
    return label;
  }

  public static VhostMode parse(String text) {
    for (VhostMode mode : values()) {
      if (mode.label.equalsIgnoreCase(text)) {
        return mode;
      }
    }
    throw new IllegalArgumentException("vhost-user mode '" + text + "': expected server or client");
  }
}
