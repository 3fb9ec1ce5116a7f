package io.flatnet.dataplane;

/** Things a worker does besides forwarding, counted alongside the drops. */
public enum WorkerEvent {
  ARP_REPLY_SENT("arp-reply-sent"),
  ND_ADVERT_SENT("nd-advert-sent"),
  /** Echo replies the router sent. */
  ICMP_SENT("icmp-sent"),
  /**
   * ICMP errors the router sent. Each reuses the mbuf of a packet also counted as dropped (ttl,
   * no-route, mtu), so it counts once as that drop and once in tx.
   */
  ICMP_ERROR_SENT("icmp-error-sent"),
  ICMP_RATE_LIMITED("icmp-rate-limited"),
  NEIGHBOR_LEARNED("neighbor-learned"),
  NEIGHBOR_HELD("neighbor-held"),
  CONTROL_QUEUE_FULL("control-queue-full"),
  CONSUMED("consumed"),
  /** A node threw mid-burst; the held packets were freed as {@code worker-exception}. */
  WORKER_EXCEPTION("worker-exception"),
  /** Neighbour claims beyond the worker's learning rate, not passed to the control path. */
  NEIGHBOR_LEARN_LIMITED("neighbor-learn-limited"),
  /** A live flow evicted from the flow table (its probe window was full) for a new one. */
  FLOW_EVICTED("flow-evicted"),
  /** A flow found in another worker's table (its reply came to this worker) and copied here. */
  FLOW_COPIED("flow-copied"),
  /**
   * A reply-shaped packet of a flow begun before policy was enforced here, recorded as its
   * initiator's allowed flow (see {@code PolicyCheck#PICKUP_WINDOW}).
   */
  FLOW_PICKED_UP("flow-picked-up");

  private final String label;

  WorkerEvent(String label) {
    this.label = label;
  }

  public String label() {
    return label;
  }

  static final WorkerEvent[] ALL = values();
}
