package io.flatnet.agent.config;

/**
 * {@code kubernetes:} whether the agent also takes its peers from the cluster's Node objects
 * ({@code watchNodes}, default false) and where the API server's credentials are ({@code
 * kubeconfig}: a kubeconfig file; unset: in-cluster service account, else {@code $KUBECONFIG} or
 * {@code ~/.kube/config}). Read when the router starts.
 */
public record KubernetesConfig(Boolean watchNodes, String kubeconfig) {

  public static final KubernetesConfig DEFAULT = new KubernetesConfig(false, null);

  public KubernetesConfig {
    watchNodes = watchNodes != null && watchNodes;
  }
}
