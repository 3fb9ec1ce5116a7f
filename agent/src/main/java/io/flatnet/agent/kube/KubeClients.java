package io.flatnet.agent.kube;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.File;

/** The agent's API clients, all found the same way. */
final class KubeClients {
  private KubeClients() {}

  /**
   * A client from {@code kubeconfig} if not null, else the client's usual search (in-cluster
   * service account, {@code $KUBECONFIG}, {@code ~/.kube/config}).
   */
  static KubernetesClient connect(String kubeconfig) {
    Config config =
        kubeconfig == null
            ? Config.autoConfigure(null)
            : Config.fromKubeconfig(new File(kubeconfig));
    return new KubernetesClientBuilder().withConfig(config).build();
  }
}
