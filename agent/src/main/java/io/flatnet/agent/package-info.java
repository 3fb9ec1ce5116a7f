/**
 * The flatnet node agent: the node config ({@link io.flatnet.agent.config}), desired-state diffing
 * ({@link io.flatnet.agent.state}), IPAM ({@link io.flatnet.agent.ipam}), the control socket
 * ({@link io.flatnet.agent.api}) and the CNI plugin ({@link io.flatnet.agent.cni}). See
 * docs/agent.md.
 */
package io.flatnet.agent;
