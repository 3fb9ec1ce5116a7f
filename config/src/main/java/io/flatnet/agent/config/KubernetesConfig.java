package io.flatnet.agent.config;

/**
 * {@code kubernetes:} whether the agent also takes its peers from the cluster's Node objects
 * ({@code watchNodes}, default false), whether it takes network policy from the cluster's
 * NetworkPolicies, Pods and Namespaces instead of the config's {@code policy:} section ({@code
 * watchPolicies}, default false), and where the API server's credentials are ({@code kubeconfig}: a
 * kubeconfig file; unset: in-cluster service account, else {@code $KUBECONFIG} or {@code
 * ~/.kube/config}). Read when the router starts.
 */
public record KubernetesConfig(Boolean watchNodes, Boolean watchPolicies, String kubeconfig) {

  public static final KubernetesConfig DEFAULT = new KubernetesConfig(false, false, null);

  public KubernetesConfig {
    watchNodes = watchNodes != null && watchNodes;
    watchPolicies = watchPolicies != null && watchPolicies;
  }

  /** Whether the agent talks to the API server at all. */
  public boolean any() {
    return watchNodes || watchPolicies;
  }
}
