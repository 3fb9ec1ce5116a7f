package io.flatnet.dataplane.app;

import io.flatnet.control.PolicySpec;
import io.flatnet.control.PolicySpec.Peer;
import io.flatnet.control.PolicySpec.PortRange;
import io.flatnet.control.PolicySpec.Rule;
import io.flatnet.dataplane.DropReason;
import io.flatnet.dataplane.Router;
import io.flatnet.dataplane.WorkerCounters;
import io.flatnet.dataplane.WorkerEvent;
import io.flatnet.dataplane.policy.PolicyTable;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;

/**
 * Synthetic network policies for {@code flatnet run} under {@code bench e2e} (options {@code
 * --policy-pods}, {@code --policy-rules}, {@code --policy-churn-ms}, {@code --policy-cut-after}).
 *
 * <p>Pod {@code i} is the address {@code first + i} (bench e2e: 10.253.0.0 and up, the generators'
 * destinations), ingress-isolated by one policy {@code bench/pol-i} of {@code rules} rules. Every
 * rule but the last names a peer and a port the generators never use (10.200.r.0/24, TCP 8000+r),
 * so the first packet of each flow scans all of the pod's rules; the last allows 10.254.0.0/16 to
 * UDP 1001, the generators' traffic. The cut variant moves that last rule to UDP 1002: every flow
 * of the generators is then denied.
 */
final class BenchPolicies {
  private BenchPolicies() {}

  static List<PolicySpec> build(int firstAddress, int pods, int rules, boolean cut) {
    List<PolicySpec> specs = new ArrayList<>(pods);
    for (int i = 0; i < pods; i++) {
      String policy = "bench/pol-" + i;
      List<Rule> ingress = new ArrayList<>(rules);
      for (int r = 0; r < rules - 1; r++) {
        ingress.add(
            new Rule(
                policy,
                r,
                false,
                List.of(new Peer("10.200." + (r & 0xFF) + ".0/24", List.of())),
                false,
                List.of(new PortRange("TCP", 8000 + r, 8000 + r))));
      }
      int udpPort = cut ? 1002 : 1001;
      ingress.add(
          new Rule(
              policy,
              rules - 1,
              false,
              List.of(new Peer("10.254.0.0/16", List.of())),
              false,
              List.of(new PortRange("UDP", udpPort, udpPort))));
      specs.add(
          new PolicySpec(
              "bench/pod-" + i,
              List.of(dotted(firstAddress + i)),
              true,
              false,
              ingress,
              List.of()));
    }
    return specs;
  }

  static String dotted(int a) {
    return (a >>> 24) + "." + (a >>> 16 & 0xFF) + "." + (a >>> 8 & 0xFF) + "." + (a & 0xFF);
  }

  static int parseAddress(String text) {
    String[] p = text.split("\\.");
    if (p.length != 4) {
      throw new IllegalArgumentException("--policy-first " + text + ": not an IPv4 address");
    }
    int a = 0;
    for (String s : p) {
      int b = Integer.parseInt(s);
      if (b < 0 || b > 255) {
        throw new IllegalArgumentException("--policy-first " + text + ": not an IPv4 address");
      }
      a = a << 8 | b;
    }
    return a;
  }

  /** Sum of every policy's flows-allowed counter in the published table. */
  static long flowsAllowed(Router router) {
    PolicyTable t = router.policyTable();
    long sum = 0;
    for (int i = 0; i < t.policyCount(); i++) {
      sum += Math.max(0, t.flowsAllowed(i));
    }
    return sum;
  }

  static long events(List<WorkerCounters> workers, WorkerEvent event) {
    return workers.stream().mapToLong(w -> w.events(event)).sum();
  }

  static long policyDrops(List<WorkerCounters> workers) {
    return workers.stream()
        .mapToLong(
            w ->
                w.drops(DropReason.POLICY_DENIED_INGRESS)
                    + w.drops(DropReason.POLICY_DENIED_EGRESS))
        .sum();
  }

  static long tx(List<WorkerCounters> workers) {
    return workers.stream().mapToLong(WorkerCounters::txPackets).sum();
  }

  /**
   * Publishes a new generation every {@code periodMillis} until stopped, each with one pod's policy
   * changed (a never-matching rule added to it, then removed: the allowed set stays the same);
   * records how long each {@link Router#setPolicies} took.
   */
  static final class Churn extends Thread {
    private final Router router;
    private final List<PolicySpec> specs;
    private final long periodNanos;
    private volatile boolean stop;
    volatile long publishes;
    volatile long maxPublishNanos;
    volatile long totalPublishNanos;
    volatile long totalPublishCpuNanos; // this thread's CPU time in them: the rest is waiting

    Churn(Router router, List<PolicySpec> specs, long periodMillis) {
      super("flatnet-policy-churn");
      setDaemon(true);
      this.router = router;
      this.specs = specs;
      this.periodNanos = periodMillis * 1_000_000L;
    }

    @Override
    public void run() {
      long next = System.nanoTime() + periodNanos;
      List<PolicySpec> changed = new ArrayList<>(specs);
      ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
      while (!stop) {
        long wait = next - System.nanoTime();
        if (wait > 0) {
          LockSupport.parkNanos(wait);
          continue;
        }
        next += periodNanos;
        // One pod's policy changes (a rule added, or removed again), as when one NetworkPolicy
        // is edited: the compiler reuses the other pods' compiled rules.
        int pod = (int) (publishes / 2 % specs.size());
        changed.set(pod, publishes % 2 == 0 ? withExtraRule(specs.get(pod)) : specs.get(pod));
        long cpu0 = cpu.getCurrentThreadCpuTime();
        long t0 = System.nanoTime();
        router.setPolicies(changed);
        long took = System.nanoTime() - t0;
        totalPublishCpuNanos += cpu.getCurrentThreadCpuTime() - cpu0;
        totalPublishNanos += took;
        maxPublishNanos = Math.max(maxPublishNanos, took);
        publishes++;
      }
    }

    void finish() throws InterruptedException {
      stop = true;
      join(5_000);
    }
  }

  /** {@code spec} with one more ingress rule, which no generator flow matches. */
  static PolicySpec withExtraRule(PolicySpec spec) {
    List<Rule> ingress = new ArrayList<>(spec.ingress());
    Rule last = ingress.getLast();
    ingress.add(
        new Rule(
            last.policy(),
            ingress.size(),
            false,
            List.of(new Peer("10.201.0.0/24", List.of())),
            false,
            List.of(new PortRange("TCP", 9000, 9000))));
    return new PolicySpec(
        spec.pod(),
        spec.addresses(),
        spec.ingressIsolated(),
        spec.egressIsolated(),
        ingress,
        spec.egress());
  }

  /**
   * The cut: publishes the denying table ({@code cut_publish_us}: how long {@link
   * Router#setPolicies} took, compiling included; the other times count from its start, and the
   * {@code _after_publish} ones from its return) and watches the workers' counters (every 50 us)
   * for the first policy deny and for the last forwarded packet. Returns a JSON fragment
   * (microseconds).
   */
  static String cut(Router router, List<PolicySpec> denying, List<WorkerCounters> workers)
      throws InterruptedException {
    long drops0 = policyDrops(workers);
    long t0 = System.nanoTime();
    router.setPolicies(denying);
    long published = System.nanoTime();
    long tx0 = tx(workers); // what was forwarded while the table compiled does not count
    long firstDeny = -1;
    long lastForward = published;
    long lastTx = tx0;
    long end = published + 1_000_000_000L; // watch for 1 s
    while (System.nanoTime() < end) {
      long now = System.nanoTime();
      long tx = tx(workers);
      if (tx != lastTx) {
        lastTx = tx;
        lastForward = now;
      }
      if (firstDeny < 0 && policyDrops(workers) != drops0) {
        firstDeny = now;
      }
      LockSupport.parkNanos(50_000);
    }
    return String.format(
        Locale.ROOT,
        "\"cut_publish_us\":%d,\"cut_first_deny_us\":%d,\"cut_last_forward_us\":%d,"
            + "\"cut_first_deny_after_publish_us\":%d,\"cut_last_forward_after_publish_us\":%d,"
            + "\"cut_forwarded_after\":%d,\"cut_denied_1s\":%d",
        (published - t0) / 1000,
        firstDeny < 0 ? -1 : (firstDeny - t0) / 1000,
        (lastForward - t0) / 1000,
        firstDeny < 0 ? -1 : (firstDeny - published) / 1000,
        (lastForward - published) / 1000,
        lastTx - tx0,
        policyDrops(workers) - drops0);
  }
}
