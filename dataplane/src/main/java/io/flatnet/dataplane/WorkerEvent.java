package io.flatnet.dataplane;

/** Things a worker does besides forwarding, counted alongside the drops. */
public enum WorkerEvent {
  ARP_REPLY_SENT("arp-reply-sent"),
  ND_ADVERT_SENT("nd-advert-sent"),
  ICMP_SENT("icmp-sent"),
  ICMP_RATE_LIMITED("icmp-rate-limited"),
  NEIGHBOR_LEARNED("neighbor-learned"),
  NEIGHBOR_HELD("neighbor-held"),
  CONTROL_QUEUE_FULL("control-queue-full"),
  CONSUMED("consumed");

  private final String label;

  WorkerEvent(String label) {
    this.label = label;
  }

  public String label() {
    return label;
  }

  static final WorkerEvent[] ALL = values();
}
