/**
 * The node config's {@code policy:} section: Kubernetes Namespace, Pod and {@code
 * networking.k8s.io/v1} NetworkPolicy objects, as plain records that mirror the Kubernetes API
 * field for field (so a converter from fabric8's model is a straight copy). Only the fields network
 * policy needs exist; any other key is a config error. Missing lists are empty; a missing selector
 * stays null, because "left out" and "{}" differ for peers.
 */
package io.flatnet.agent.config.policy;
