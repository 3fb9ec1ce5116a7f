/**
 * Peers from Kubernetes: {@link io.flatnet.agent.kube.NodeWatcher} watches the cluster's Node
 * objects and publishes each as a peer ({@link io.flatnet.agent.kube.NodePeers}). The only package
 * of the agent that uses the Kubernetes client.
 */
package io.flatnet.agent.kube;
