package io.flatnet.agent;

import io.flatnet.agent.config.PeerConfig;
import java.util.List;
import java.util.function.Consumer;

/**
 * Peers from outside the node config (e.g. the cluster's Node objects, {@link
 * io.flatnet.agent.kube.NodeWatcher}). The agent merges them with the config's own {@code peers},
 * validates them with the same checks, leaves out (and reports) any that fail, and applies the
 * rest. It excludes a peer named like this node itself.
 */
@FunctionalInterface
public interface PeerSource {

  /**
   * Registers {@code listener}: it gets the whole current list of peers (immutable) after every
   * change, from any thread, and at once if the source already has some.
   */
  void subscribe(Consumer<List<PeerConfig>> listener);

  /** No peers, ever. */
  PeerSource NONE = listener -> {};
}
