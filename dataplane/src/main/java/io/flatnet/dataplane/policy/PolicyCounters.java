package io.flatnet.dataplane.policy;

import io.flatnet.dataplane.DataplaneCounters;
import io.flatnet.dataplane.DropReason;
import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;

/**
 * The policy counters in counters.dat, shared by all workers (each adds its own counts, as it
 * publishes them): {@code policy NS/NAME flows-allowed} (flows whose first packet a rule of the
 * policy allowed, on either side), {@code pod NS/NAME policy-denied-ingress} and {@code
 * policy-denied-egress} (packets denied because that pod is isolated in that direction and no rule
 * allows them: a deny is the absence of an allowing rule, so it is the pod's, not a policy's).
 *
 * <p>Bounded: at most {@link #MAX_COUNTERS} slots of the file's {@code MAX_COUNTERS} (which the
 * workers' own counters share); past it, a policy or pod is not counted (its counter reads -1 in
 * the {@code policies} query). Registered on the control path when a table is published; a counter
 * no published table names is freed (the file does not reuse its slot for 5 s, so a worker's late
 * add lands in a dead slot).
 */
public final class PolicyCounters implements PolicyTable.Counters {
  /** Policy counter slots in counters.dat: two per policed pod and one per policy, for 1,000s. */
  static final int MAX_COUNTERS = 4096;

  private final Function<String, AtomicCounter> newCounter;

  // By policy or pod name, one map per kind: a publish looks up thousands of names, and most are
  // already there, so the label is built only for a new counter.
  private final Map<String, AtomicCounter> flowsAllowed = new HashMap<>();
  private final Map<String, AtomicCounter> deniedIngress = new HashMap<>();
  private final Map<String, AtomicCounter> deniedEgress = new HashMap<>();

  public PolicyCounters(DataplaneCounters file) {
    this(label -> file.newCounter(DataplaneCounters.TYPE_WORKER, label));
  }

  private PolicyCounters(Function<String, AtomicCounter> newCounter) {
    this.newCounter = newCounter;
  }

  /** Counters in memory of their own, at most {@code capacity} (the compiler's warm-up). */
  static PolicyCounters inMemory(int capacity) {
    CountersManager manager =
        new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(capacity * CountersReader.METADATA_LENGTH)),
            new UnsafeBuffer(ByteBuffer.allocateDirect(capacity * CountersReader.COUNTER_LENGTH)));
    return new PolicyCounters(manager::newCounter);
  }

  @Override
  public AtomicCounter flowsAllowed(String policy) {
    AtomicCounter c = flowsAllowed.get(policy);
    return c != null ? c : counter(flowsAllowed, policy, "policy " + policy + " flows-allowed");
  }

  @Override
  public AtomicCounter deniedIngress(String pod) {
    AtomicCounter c = deniedIngress.get(pod);
    return c != null
        ? c
        : counter(
            deniedIngress, pod, "pod " + pod + " " + DropReason.POLICY_DENIED_INGRESS.label());
  }

  @Override
  public AtomicCounter deniedEgress(String pod) {
    AtomicCounter c = deniedEgress.get(pod);
    return c != null
        ? c
        : counter(deniedEgress, pod, "pod " + pod + " " + DropReason.POLICY_DENIED_EGRESS.label());
  }

  private AtomicCounter counter(Map<String, AtomicCounter> kind, String name, String label) {
    if (flowsAllowed.size() + deniedIngress.size() + deniedEgress.size() >= MAX_COUNTERS) {
      return null;
    }
    try {
      AtomicCounter c = newCounter.apply(label);
      kind.put(name, c);
      return c;
    } catch (IllegalStateException e) {
      return null; // the file is full: not counted
    }
  }

  /**
   * Frees the counters of the pods and policies that {@code previous} named and {@code next} does
   * not: a publish's cost in the pods it changed, not in the table's size.
   */
  public void retire(PolicyTable previous, PolicyTable next) {
    for (int p = 0; !next.samePodsAs(previous) && p < previous.podCount(); p++) {
      String pod = previous.podName(p);
      if (!next.hasPod(pod)) {
        close(deniedIngress, pod);
        close(deniedEgress, pod);
      }
    }
    for (int i = 0; !next.samePoliciesAs(previous) && i < previous.policyCount(); i++) {
      String policy = previous.policyName(i);
      if (!next.hasPolicy(policy)) {
        close(flowsAllowed, policy);
      }
    }
  }

  private static void close(Map<String, AtomicCounter> kind, String name) {
    AtomicCounter c = kind.remove(name);
    if (c != null) {
      c.close();
    }
  }

  /** Frees the counters that none of {@code tables} uses. */
  public void retainOnly(Collection<PolicyTable> tables) {
    Set<AtomicCounter> used = new HashSet<>();
    for (PolicyTable t : tables) {
      for (AtomicCounter[] array :
          new AtomicCounter[][] {t.flowsAllowed, t.deniedIngress, t.deniedEgress}) {
        for (AtomicCounter c : array) {
          if (c != null) {
            used.add(c);
          }
        }
      }
    }
    for (Map<String, AtomicCounter> kind : List.of(flowsAllowed, deniedIngress, deniedEgress)) {
      kind.values()
          .removeIf(
              c -> {
                if (used.contains(c)) {
                  return false;
                }
                c.close();
                return true;
              });
    }
  }
}
