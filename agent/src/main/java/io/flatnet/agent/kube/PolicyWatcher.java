package io.flatnet.agent.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodIP;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Watches the cluster's NetworkPolicies, Pods and Namespaces (three informers) and publishes them
 * as one {@code policy:} section in the node config's own shape, so the agent validates and
 * compiles them with the same code as a config file's. Only what policy needs is kept: names,
 * labels, container ports, pod IPs and the policies' specs. Needs get, list and watch on all three.
 *
 * <p>Publishes the whole section after each change once all three lists are in; the agent
 * debounces. A failure of one watch is logged and retried; the last published section stays.
 */
public final class PolicyWatcher implements AutoCloseable {

  private static final System.Logger LOG = System.getLogger(PolicyWatcher.class.getName());
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

  private final KubernetesClient client;
  private final boolean ownsClient;
  private final List<Consumer<JsonNode>> listeners = new CopyOnWriteArrayList<>();
  private SharedIndexInformer<NetworkPolicy> policies;
  private SharedIndexInformer<Pod> pods;
  private SharedIndexInformer<Namespace> namespaces;
  private boolean started;
  private JsonNode current;

  /**
   * @param client the API client
   * @param ownsClient whether {@link #close()} closes it too
   */
  public PolicyWatcher(KubernetesClient client, boolean ownsClient) {
    this.client = client;
    this.ownsClient = ownsClient;
  }

  /** A watcher with its own client, found as {@link NodeWatcher#connect} finds one. */
  public static PolicyWatcher connect(String kubeconfig) {
    return new PolicyWatcher(KubeClients.connect(kubeconfig), true);
  }

  /** Starts the informers; the stage completes when all three lists are in and published. */
  public synchronized CompletionStage<Void> start() {
    if (started) {
      throw new IllegalStateException("already started");
    }
    started = true;
    policies = watch(client.network().v1().networkPolicies().inAnyNamespace().runnableInformer(0));
    pods = watch(client.pods().inAnyNamespace().runnableInformer(0));
    namespaces = watch(client.namespaces().runnableInformer(0));
    return CompletableFuture.allOf(
            policies.start().toCompletableFuture(),
            pods.start().toCompletableFuture(),
            namespaces.start().toCompletableFuture())
        .thenRun(this::publish);
  }

  private <T extends HasMetadata> SharedIndexInformer<T> watch(SharedIndexInformer<T> informer) {
    informer.exceptionHandler(
        (isStarted, t) -> {
          LOG.log(
              System.Logger.Level.WARNING,
              "kubernetes: watching network policy inputs failed (retrying): " + t,
              (Throwable) null);
          return true;
        });
    informer.addEventHandler(
        new ResourceEventHandler<T>() {
          @Override
          public void onAdd(T obj) {
            publish();
          }

          @Override
          public void onUpdate(T before, T after) {
            publish();
          }

          @Override
          public void onDelete(T obj, boolean finalStateUnknown) {
            publish();
          }
        });
    return informer;
  }

  /** Calls {@code listener} with every section published from now on (and the current one). */
  public void subscribe(Consumer<JsonNode> listener) {
    JsonNode now;
    synchronized (this) {
      listeners.add(listener);
      now = current;
    }
    if (now != null) {
      listener.accept(now);
    }
  }

  /** The section last published, or null before the first lists are in. */
  public synchronized JsonNode section() {
    return current;
  }

  private void publish() {
    JsonNode next;
    synchronized (this) {
      if (policies == null
          || !policies.hasSynced()
          || !pods.hasSynced()
          || !namespaces.hasSynced()) {
        return;
      }
      next =
          section(namespaces.getStore().list(), pods.getStore().list(), policies.getStore().list());
      if (next.equals(current)) {
        return;
      }
      current = next;
    }
    for (Consumer<JsonNode> l : listeners) {
      l.accept(next);
    }
  }

  /** The {@code policy:} section for these objects, sorted so equal inputs give equal trees. */
  static ObjectNode section(
      List<Namespace> namespaceList, List<Pod> podList, List<NetworkPolicy> policyList) {
    ObjectNode section = NODES.objectNode();
    ArrayNode nsOut = section.putArray("namespaces");
    for (Namespace ns : sorted(namespaceList)) {
      nsOut.addObject().set("metadata", metadata(ns, false));
    }
    ArrayNode podOut = section.putArray("pods");
    for (Pod pod : sorted(podList)) {
      if (pod.getSpec() != null && Boolean.TRUE.equals(pod.getSpec().getHostNetwork())) {
        continue; // a host-network pod has the node's address: policy does not select it
      }
      ObjectNode p = podOut.addObject();
      p.set("metadata", metadata(pod, true));
      ArrayNode containers = p.putObject("spec").putArray("containers");
      if (pod.getSpec() != null && pod.getSpec().getContainers() != null) {
        for (Container c : pod.getSpec().getContainers()) {
          ObjectNode co = containers.addObject();
          co.put("name", c.getName());
          ArrayNode ports = co.putArray("ports");
          for (ContainerPort cp : c.getPorts() == null ? List.<ContainerPort>of() : c.getPorts()) {
            ObjectNode po = ports.addObject();
            if (cp.getName() != null) {
              po.put("name", cp.getName());
            }
            po.put("containerPort", cp.getContainerPort());
            if (cp.getProtocol() != null) {
              po.put("protocol", cp.getProtocol());
            }
          }
        }
      }
      List<PodIP> ips = pod.getStatus() == null ? null : pod.getStatus().getPodIPs();
      if (ips != null && !ips.isEmpty()) {
        ArrayNode ipOut = p.putObject("status").putArray("podIPs");
        for (PodIP ip : ips) {
          ipOut.addObject().put("ip", ip.getIp());
        }
      }
    }
    ArrayNode policyOut = section.putArray("networkPolicies");
    for (NetworkPolicy np : sorted(policyList)) {
      ObjectNode o = policyOut.addObject();
      o.put("apiVersion", "networking.k8s.io/v1");
      o.put("kind", "NetworkPolicy");
      o.set("metadata", metadata(np, false));
      o.set("spec", SERIALIZATION.convertValue(np.getSpec(), JsonNode.class));
    }
    return section;
  }

  private static ObjectNode metadata(HasMetadata object, boolean labels) {
    ObjectNode m = NODES.objectNode();
    m.put("name", object.getMetadata().getName());
    if (object.getMetadata().getNamespace() != null) {
      m.put("namespace", object.getMetadata().getNamespace());
    }
    Map<String, String> l = object.getMetadata().getLabels();
    if ((labels || object instanceof Namespace) && l != null && !l.isEmpty()) {
      ObjectNode lo = m.putObject("labels");
      l.entrySet().stream()
          .sorted(Map.Entry.comparingByKey())
          .forEach(e -> lo.put(e.getKey(), e.getValue()));
    }
    return m;
  }

  private static <T extends HasMetadata> List<T> sorted(List<T> objects) {
    List<T> out = new ArrayList<>(objects);
    out.sort(
        Comparator.comparing((T o) -> String.valueOf(o.getMetadata().getNamespace()))
            .thenComparing(o -> String.valueOf(o.getMetadata().getName())));
    return out;
  }

  @Override
  public synchronized void close() {
    for (SharedIndexInformer<?> inf : new SharedIndexInformer<?>[] {policies, pods, namespaces}) {
      if (inf != null) {
        inf.close();
      }
    }
    if (ownsClient) {
      client.close();
    }
  }
}
