package io.flatnet.vhost;

/**
 * Where a vhost-user port is in its life, as the control thread sees it by polling. The usual cycle
 * is waiting-for-peer, negotiating, memory-mapped, running, peer-gone, and back to
 * waiting-for-peer.
 */
public enum VhostPortState {
  /**
   * No peer is connected: a server port listens, a client port retries its connect every second.
   */
  WAITING_FOR_PEER("waiting-for-peer"),
  /** A peer is connected, but the device is not ready: no memory table or vrings yet. */
  NEGOTIATING("negotiating"),
  /** rte_vhost has the peer's memory mapped, but the link is not up yet. */
  MEMORY_MAPPED("memory-mapped"),
  /** Link up: the device is ready, the workers move packets. */
  RUNNING("running"),
  /** The peer was there and went away (closed, crashed or restarted). */
  PEER_GONE("peer-gone");

  private final String label;

  VhostPortState(String label) {
    this.label = label;
  }

  public String label() {
    return label;
  }

  /** True where a peer has connected and not yet gone. */
  public boolean peerPresent() {
    return this == NEGOTIATING || this == MEMORY_MAPPED || this == RUNNING;
  }

  public static VhostPortState parse(String label) {
    for (VhostPortState state : values()) {
      if (state.label.equals(label)) {
        return state;
      }
    }
    throw new IllegalArgumentException("unknown vhost-user port state '" + label + "'");
  }
}
