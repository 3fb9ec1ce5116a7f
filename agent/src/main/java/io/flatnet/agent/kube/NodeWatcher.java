package io.flatnet.agent.kube;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.flatnet.agent.PeerSource;
import io.flatnet.agent.config.PeerConfig;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Watches the cluster's Node objects (an informer: list, then watch, re-listing after a lost watch)
 * and publishes every Node that {@link NodePeers} can map as a peer, sorted by name. A Node without
 * pod CIDRs or an InternalIP is left out with one log line naming it and what it lacks (again only
 * when that changes). Needs get, list and watch on nodes.
 *
 * <p>It publishes the whole list after each add, update or delete that changes it; the agent
 * debounces and validates.
 */
public final class NodeWatcher implements PeerSource, AutoCloseable {

  private static final System.Logger LOG = System.getLogger(NodeWatcher.class.getName());

  private final KubernetesClient client;
  private final boolean ownsClient;
  private final List<Consumer<List<PeerConfig>>> listeners = new CopyOnWriteArrayList<>();
  private SharedIndexInformer<Node> informer;
  private List<PeerConfig> current = List.of();
  private Map<String, String> skipped = Map.of();
  private boolean published;

  /**
   * @param client the API client
   * @param ownsClient whether {@link #close()} closes it too
   */
  public NodeWatcher(KubernetesClient client, boolean ownsClient) {
    this.client = client;
    this.ownsClient = ownsClient;
  }

  /**
   * A watcher with its own client: from {@code kubeconfig} if not null, else the client's usual
   * search (in-cluster service account, {@code $KUBECONFIG}, {@code ~/.kube/config}).
   */
  public static NodeWatcher connect(String kubeconfig) {
    return new NodeWatcher(KubeClients.connect(kubeconfig), true);
  }

  /**
   * Starts the informer. Returns at once; the stage completes when the first list is in (and
   * published). Failures are logged and retried with back-off, so an API server that is down or a
   * missing permission never stops the router: its config's own peers keep working.
   */
  public synchronized CompletionStage<Void> start() {
    if (informer != null) {
      throw new IllegalStateException("already started");
    }
    informer = client.nodes().runnableInformer(0);
    informer.exceptionHandler(
        (started, t) -> {
          LOG.log(
              System.Logger.Level.WARNING,
              "kubernetes: watching nodes failed (retrying): " + t,
              (Throwable) null);
          return true;
        });
    informer.addEventHandler(
        new ResourceEventHandler<Node>() {
          @Override
          public void onAdd(Node node) {
            publish();
          }

          @Override
          public void onUpdate(Node before, Node after) {
            publish();
          }

          @Override
          public void onDelete(Node node, boolean finalStateUnknown) {
            publish();
          }

          @Override
          public void onNothing() {
            publish();
          }
        });
    return informer.start();
  }

  @Override
  public void subscribe(Consumer<List<PeerConfig>> listener) {
    List<PeerConfig> now;
    synchronized (this) {
      listeners.add(listener);
      now = published ? current : null;
    }
    if (now != null) {
      listener.accept(now);
    }
  }

  /** The peers last published. */
  public synchronized List<PeerConfig> peers() {
    return current;
  }

  /** Nodes left out, by name: what each lacks. */
  public synchronized Map<String, String> skipped() {
    return skipped;
  }

  private void publish() {
    List<PeerConfig> peers;
    synchronized (this) {
      SharedIndexInformer<Node> inf = informer;
      if (inf == null) {
        return;
      }
      List<PeerConfig> next = new ArrayList<>();
      Map<String, String> nextSkipped = new LinkedHashMap<>();
      List<Node> nodes = new ArrayList<>(inf.getStore().list());
      nodes.sort(Comparator.comparing(n -> String.valueOf(n.getMetadata().getName())));
      for (Node n : nodes) {
        NodePeers.Mapped m = NodePeers.map(n);
        if (m.peer() != null) {
          next.add(m.peer());
        } else {
          nextSkipped.put(String.valueOf(m.name()), m.problem());
          if (!Objects.equals(skipped.get(String.valueOf(m.name())), m.problem())) {
            LOG.log(
                System.Logger.Level.WARNING,
                "kubernetes node " + m.name() + ": not a peer: " + m.problem());
          }
        }
      }
      skipped = Map.copyOf(nextSkipped);
      if (published && next.equals(current)) {
        return;
      }
      current = List.copyOf(next);
      published = true;
      peers = current;
    }
    for (Consumer<List<PeerConfig>> l : listeners) {
      l.accept(peers);
    }
  }

  /** Stops the informer (and the client, if it is this watcher's own). */
  @Override
  public void close() {
    SharedIndexInformer<Node> inf;
    synchronized (this) {
      inf = informer;
      informer = null;
    }
    if (inf != null) {
      inf.close();
    }
    if (ownsClient) {
      client.close();
    }
  }
}
