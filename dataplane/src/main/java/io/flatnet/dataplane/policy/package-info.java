/**
 * Network policy in the dataplane: the compiled, immutable {@link
 * io.flatnet.dataplane.policy.PolicyTable} (the one decision code, used by the workers and by
 * {@code ctl trace}), each worker's flow table and stateful check, and the per-policy counters.
 */
package io.flatnet.dataplane.policy;
