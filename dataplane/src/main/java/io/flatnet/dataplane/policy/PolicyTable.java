package io.flatnet.dataplane.policy;

import io.flatnet.control.PolicySpec;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Prefix;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * The compiled network policy of this node's pods: immutable once built, published to the workers
 * as one reference (a new generation replaces the whole table). {@link #classify} is the one
 * decision the workers (for the first packet of a flow) and {@code ctl trace} both call.
 *
 * <p>A table is an address hash (address to pod) over one {@link PodPolicy} per policed pod: each
 * pod's rules compiled alone, with indexes local to the pod, and shared by every generation in
 * which its spec is unchanged. A publish therefore compiles only the pods whose specs changed, and
 * when it only edits rules (the same pods, addresses and policy names) it shares the previous
 * table's address hash and policy index as well: its cost is in the pods it changed, not in the
 * table's size (see {@link #compile(long, Collection, Counters, PolicyTable)}). A rule is named by
 * its pod and its index in that pod ({@link Verdict}).
 *
 * <p>Addresses are held as 128-bit pairs: an IPv4 address {@code a} is the IPv4-mapped {@code
 * ::ffff:a} ({@link #v4Lo}), an IPv4 block of length L a block of length 96+L. One matching loop
 * serves both families, and an IPv4 block never matches an IPv6 address (or the reverse).
 *
 * <p>Why not DPDK's {@code rte_acl}: it is built for many rules applied to every packet, with a
 * multi-millisecond build (its trie is regenerated on every change) and a C callback-free bulk
 * classify. Here rules are applied only to the first packet of a flow (the flow table answers the
 * rest), each pod has a handful of rules, and a rule set changes whenever pods come and go. A
 * linear scan of one pod's rules over flat int/long arrays costs tens of nanoseconds at connection
 * setup, builds in microseconds with no native memory to free under the readers, and is the same
 * Java function {@code ctl trace} calls. If a node ever carries thousands of rules per pod, an ACL
 * (or a per-pod trie) can replace {@link PodPolicy#matches} behind the same signature.
 *
 * <p>Measured here ({@code PolicyClassifyBenchmark}, {@code PolicyPublishBenchmark}, JMH): a
 * worst-case classify (the match is the last rule's last peer) takes tens of nanoseconds; see
 * docs/benchmarking.md for a publish's cost.
 */
public final class PolicyTable {
  /** The most policed pods (and address entries) one table holds. */
  public static final int MAX_PODS = 4096;

  /** The most distinct policies ("ns/name") one table names. */
  public static final int MAX_POLICIES = 4096;

  /** Rounds of {@link #warmUp} (of large tables; ten times as many small ones) for the JIT. */
  public static final int WARM_UP_ROUNDS = 30;

  /** {@link #warmUpUntilQuiet} stops here even if the JIT is still compiling. */
  public static final long WARM_UP_LIMIT_NANOS = 3_000_000_000L;

  /** Pods in {@link #warmUp}'s tables: enough for its maps to meet collisions and to grow. */
  static final int WARM_UP_PODS = 512;

  /** A side's result: the address is no policed pod of this node. */
  public static final int NOT_POLICED = -1;

  /** A side's result: the pod is policed but this direction is not isolated. */
  public static final int OPEN = -2;

  /** The ingress side's result: from the node's host port, which Kubernetes always allows. */
  public static final int EXEMPT = -3;

  /** A side's result: isolated, and no rule allows it. */
  public static final int DENIED = -4;

  static final int TCP = 6;
  static final int UDP = 17;
  static final int SCTP = 132;

  private static final long V4_MAPPED = 0x0000_FFFF_0000_0000L;

  /** The table with no policed pod: the workers skip policy altogether. */
  public static final PolicyTable EMPTY = compile(0, List.of(), null);

  private final long generation;
  private final Counters counters;
  private final List<PolicySpec> specs;
  private final PodPolicy[] pods;
  private final Map<String, Integer> podIndex;
  private final int reusedPods;

  // address -> pod, open addressing (load <= 1/2)
  private final long[] addressHi;
  private final long[] addressLo;
  private final int[] addressPod;
  private final int addressMask;

  // policies, in order of first appearance; pod p's local policy i is podPolicies[policyBase[p] +
  // i]
  private final String[] policyNames;
  private final Map<String, Integer> policyIndex;
  private final int[] policyBase;
  private final int[] podPolicies;

  final AtomicCounter[] flowsAllowed;
  final AtomicCounter[] deniedIngress;
  final AtomicCounter[] deniedEgress;

  /** The counters a table's policies and pods count into; null entries are not counted. */
  public interface Counters {
    AtomicCounter flowsAllowed(String policy);

    AtomicCounter deniedIngress(String pod);

    AtomicCounter deniedEgress(String pod);
  }

  /**
   * One side of a decision, for {@link #classify}: filled in place, no allocation. A side's rule is
   * an index in its pod's rules ({@link #rulePolicy(int, int)}, {@link #ruleNumber(int, int)}).
   */
  public static final class Verdict {
    /** The source's pod (egress side) or {@code -1}. */
    public int egressPod = -1;

    /**
     * A rule of {@link #egressPod} (allowed by it), or {@link #NOT_POLICED}, {@link #OPEN}, {@link
     * #DENIED}.
     */
    public int egress;

    public int ingressPod = -1;

    /** As {@link #egress}, a rule of {@link #ingressPod}, or {@link #EXEMPT}. */
    public int ingress;

    public boolean allowed() {
      return egress != DENIED && ingress != DENIED;
    }
  }

  /**
   * A table of {@code pods}. With {@code base} (the previous table, whose pods sit at the same
   * indexes with the same names and addresses: {@code sameLayout}), its address hash and pod index
   * are shared, and with {@code samePolicies} (each pod also names the same policies) its policy
   * index too: a publish that edits a few pods' rules then touches those pods and a few arrays, not
   * every pod (between publishes a worker sharing the CPU evicts them all from the caches, so
   * touching them costs a cache miss each).
   */
  private PolicyTable(
      long generation,
      Counters counters,
      List<PolicySpec> specs,
      PodPolicy[] pods,
      int reusedPods,
      PolicyTable base,
      boolean sameLayout,
      boolean samePolicies) {
    this.generation = generation;
    this.counters = counters;
    this.specs = specs;
    this.pods = pods;
    this.reusedPods = reusedPods;
    int n = pods.length;
    if (sameLayout) {
      podIndex = base.podIndex;
      addressHi = base.addressHi;
      addressLo = base.addressLo;
      addressPod = base.addressPod;
      addressMask = base.addressMask;
      deniedIngress = base.deniedIngress.clone();
      deniedEgress = base.deniedEgress.clone();
    } else {
      podIndex = new HashMap<>(n * 2);
      int addresses = 0;
      for (int p = 0; p < n; p++) {
        podIndex.put(pods[p].pod(), p);
        addresses += pods[p].addresses.length / 2;
        if (addresses > MAX_PODS * 4) {
          throw new IllegalArgumentException(
              "policy of pod " + pods[p].pod() + ": too many pod addresses on one node");
        }
      }
      int capacity = Math.max(16, Integer.highestOneBit(Math.max(1, addresses) * 2) * 2);
      addressHi = new long[capacity];
      addressLo = new long[capacity];
      addressPod = new int[capacity];
      addressMask = capacity - 1;
      Arrays.fill(addressPod, -1);
      for (int p = 0; p < n; p++) {
        long[] a = pods[p].addresses;
        for (int i = 0; i < a.length; i += 2) {
          insertAddress(p, a[i], a[i + 1]);
        }
      }
      deniedIngress = new AtomicCounter[n];
      deniedEgress = new AtomicCounter[n];
    }
    if (samePolicies) {
      policyNames = base.policyNames;
      policyIndex = base.policyIndex;
      policyBase = base.policyBase;
      podPolicies = base.podPolicies;
      flowsAllowed = base.flowsAllowed.clone();
    } else {
      int policyRefs = 0;
      for (PodPolicy pod : pods) {
        policyRefs += pod.policies.length;
      }
      policyBase = new int[n];
      podPolicies = new int[policyRefs];
      policyIndex = new HashMap<>(Math.max(16, policyRefs * 2));
      List<String> names = new ArrayList<>();
      int ref = 0;
      for (int p = 0; p < n; p++) {
        PodPolicy pod = pods[p];
        policyBase[p] = ref;
        for (String name : pod.policies) {
          Integer global = policyIndex.get(name);
          if (global == null) {
            if (names.size() >= MAX_POLICIES) {
              throw new IllegalArgumentException(
                  "policy of pod "
                      + pod.pod()
                      + ": policy "
                      + name
                      + ": more than "
                      + MAX_POLICIES
                      + " policies");
            }
            global = names.size();
            policyIndex.put(name, global);
            names.add(name);
          }
          podPolicies[ref++] = global;
        }
      }
      policyNames = names.toArray(new String[0]);
      flowsAllowed = new AtomicCounter[policyNames.length];
    }
    // The counters: every pod's when built, only the changed pods' when shared (an unchanged pod's
    // counters are already in place).
    for (int p = 0; p < n; p++) {
      PodPolicy pod = pods[p];
      if (!sameLayout || !samePolicies || pod != base.pods[p]) {
        deniedIngress[p] = pod.deniedIngress;
        deniedEgress[p] = pod.deniedEgress;
        for (int i = 0; i < pod.policies.length; i++) {
          int global = podPolicies[policyBase[p] + i];
          if (flowsAllowed[global] == null) {
            flowsAllowed[global] = pod.flowsAllowed[i];
          }
        }
      }
    }
  }

  private void insertAddress(int pod, long hi, long lo) {
    int i = hash(hi, lo) & addressMask;
    while (addressPod[i] >= 0) {
      if (addressHi[i] == hi && addressLo[i] == lo) {
        throw new IllegalArgumentException(
            "policy of pod "
                + pods[pod].pod()
                + ": address "
                + formatAddress(hi, lo)
                + " is also pod "
                + pods[addressPod[i]].pod()
                + "'s");
      }
      i = (i + 1) & addressMask;
    }
    addressHi[i] = hi;
    addressLo[i] = lo;
    addressPod[i] = pod;
  }

  /**
   * Compiles the specs (one per pod) into a table of generation {@code generation}.
   *
   * @param counters where the table's policies and pods count, or null (validation, tests)
   * @throws IllegalArgumentException naming the pod and the field of a bad spec: a CIDR that does
   *     not parse or is not canonical, an except outside its block, a protocol other than TCP, UDP
   *     or SCTP, a port out of 1..65535, an address that is not canonical or that two pods claim
   */
  public static PolicyTable compile(
      long generation, Collection<PolicySpec> specs, Counters counters) {
    return compile(generation, specs, counters, null);
  }

  /**
   * As {@link #compile(long, Collection, Counters)}, sharing {@code previous}'s compiled form of
   * every pod whose spec is unchanged: a policy update parses and checks only the pods it touches.
   * When the pods are the same, at the same indexes, with the same addresses (an edit of rules),
   * the address hash is shared too, and when each names the same policies, the policy index: the
   * cost is then in the pods changed, plus one pass over the spec list (the control thread shares a
   * CPU with a worker in small setups, so a republish among thousands of rules must cost little).
   */
  public static PolicyTable compile(
      long generation, Collection<PolicySpec> specs, Counters counters, PolicyTable previous) {
    if (specs.size() > MAX_PODS) {
      throw new IllegalArgumentException(
          specs.size() + " pods with a policy: at most " + MAX_PODS + " on one node");
    }
    List<PolicySpec> list = List.copyOf(specs);
    PodPolicy[] pods = new PodPolicy[list.size()];
    boolean sameLayout =
        previous != null && previous.pods.length == pods.length && previous.counters == counters;
    boolean samePolicies = sameLayout;
    int reused = 0;
    for (int p = 0; p < pods.length; p++) {
      PolicySpec spec = list.get(p);
      if (sameLayout && spec == previous.specs.get(p)) {
        pods[p] = previous.pods[p]; // the common case: reads two lists, not the pod
        reused++;
        continue;
      }
      PodPolicy pod = previous == null ? null : previous.find(spec.pod(), p);
      if (pod != null && pod.sameAs(spec, counters)) {
        reused++;
      } else {
        pod = PodPolicy.compile(spec, counters);
      }
      pods[p] = pod;
      if (sameLayout) {
        PodPolicy old = previous.pods[p];
        sameLayout = old.pod().equals(pod.pod()) && Arrays.equals(old.addresses, pod.addresses);
        samePolicies = samePolicies && sameLayout && Arrays.equals(old.policies, pod.policies);
      }
    }
    samePolicies &= sameLayout;
    return new PolicyTable(
        generation, counters, list, pods, reused, previous, sameLayout, samePolicies);
  }

  /** The compiled pod named {@code pod} (looked for at {@code hint} first), or null. */
  private PodPolicy find(String pod, int hint) {
    if (hint < pods.length && pods[hint].pod().equals(pod)) {
      return pods[hint];
    }
    Integer p = podIndex.get(pod);
    return p == null ? null : pods[p];
  }

  /**
   * Runs the compiler on synthetic specs until the JIT has compiled it, along the paths a publish
   * takes ({@code Router.setPolicies}: compile from the published table with counters, then {@link
   * PolicyCounters#retire}; pods changed, renamed and moved) and a validation takes (from scratch,
   * no counters). First many small tables, so that every method is called often enough to be
   * compiled whole (a few large tables would only get their loops compiled on the stack, entered
   * late on every call), then a few of {@link #WARM_UP_PODS} pods, for the shapes of large maps.
   * The counters are in memory of their own, never in counters.dat. A publish that takes a branch
   * the warm-up did not is deoptimized and runs interpreted until the JIT compiles it again. Call
   * it on a control thread, off the workers' CPUs. Returns the last table published.
   */
  public static PolicyTable warmUp(int rounds) {
    PolicyCounters counters = PolicyCounters.inMemory(2 * WARM_UP_PODS + 64);
    warmUp(rounds * 30, 16, counters);
    return warmUp(rounds, WARM_UP_PODS, counters);
  }

  /**
   * What {@link #warmUpUntilQuiet} did: batches of {@link #warmUp} run, and whether the JIT went
   * quiet.
   */
  public record WarmUp(int batches, boolean quiet, long compileMillis) {}

  /**
   * {@link #warmUp} in batches until two batches in a row add no JIT compile time, or {@code
   * limitNanos} pass. One fixed count of rounds is not enough: C2 raises its thresholds while its
   * queue is long (as at start-up), so after a fixed warm-up the constructor and the spec walk were
   * still compiled by C2 seconds later, during traffic, on the CPU a 2-CPU node shares with its
   * worker. Counts all of the JVM's compiling, so call it before the workers start, or accept that
   * it runs to the limit.
   */
  public static WarmUp warmUpUntilQuiet(long limitNanos) {
    var jit = java.lang.management.ManagementFactory.getCompilationMXBean();
    long deadline = System.nanoTime() + limitNanos;
    long start = jit.getTotalCompilationTime();
    long before = start;
    int batches = 0;
    int quietBatches = 0;
    do {
      warmUp(WARM_UP_ROUNDS);
      batches++;
      long after = jit.getTotalCompilationTime();
      quietBatches = after == before ? quietBatches + 1 : 0;
      before = after;
    } while (quietBatches < 2 && System.nanoTime() < deadline);
    return new WarmUp(batches, quietBatches >= 2, before - start);
  }

  private static PolicyTable warmUp(int rounds, int pods, PolicyCounters counters) {
    List<PolicySpec> specs = new ArrayList<>();
    for (int p = 0; p < pods; p++) {
      specs.add(syntheticSpec(p, 0));
    }
    PolicyTable previous = EMPTY;
    Verdict verdict = new Verdict();
    for (int round = 0; round < rounds; round++) {
      compile(round, specs, null);
      int i = round % pods;
      String name = specs.get(i).pod();
      int n = Integer.parseInt(name.substring(name.lastIndexOf('-') + 1));
      // Mostly an edited pod; now and then one replaced by a pod of another name (its counters
      // are freed), and the list rotated (pods found by name, not by position).
      specs.set(i, syntheticSpec(round % 8 == 7 ? (n + pods) % (2 * pods) : n, round + 1));
      if (round % 16 == 15) {
        java.util.Collections.rotate(specs, 1);
      }
      PolicyTable next = compile(round, specs, counters, previous);
      counters.retire(previous, next);
      previous = next;
      previous.classify(
          verdict, 0, v4Lo(0x0AFF_0000 | round), 0, v4Lo(0x0AFF_0001), TCP, 80, false);
    }
    return previous;
  }

  /** Pod {@code p} of {@link #warmUp}: 10.255.p.0-ish and fd00:ffff::p, the usual rule shapes. */
  private static PolicySpec syntheticSpec(int p, int variant) {
    List<PolicySpec.Rule> ingress = new ArrayList<>();
    for (int r = 0; r < 1 + (p + variant) % 12; r++) {
      ingress.add(
          new PolicySpec.Rule(
              "warm-up/pol-" + (p % 16),
              r,
              false,
              shaped(
                  p + r,
                  List.of(
                      new PolicySpec.Peer(
                          "10.200." + r + ".0/24", shaped(p, List.of("10.200." + r + ".128/25"))),
                      new PolicySpec.Peer(
                          "fd00:" + Integer.toHexString(0x200 + r) + "::/32",
                          shaped(p, List.of())))),
              false,
              shaped(
                  p + r + 1,
                  List.of(
                      new PolicySpec.PortRange("TCP", 8000 + r, 8000 + r),
                      new PolicySpec.PortRange("UDP", 1000, 1999)))));
    }
    List<PolicySpec.Rule> egress =
        List.of(new PolicySpec.Rule("warm-up/egress", 0, true, List.of(), true, List.of()));
    return new PolicySpec(
        "warm-up/pod-" + p,
        shaped(
            p,
            List.of(
                Ipv4Prefix.format(0x0AFF_0000 | p << 2),
                "fd00:ffff::" + Integer.toHexString(p + 1))),
        true,
        true,
        shaped(p + 1, ingress),
        shaped(p + 2, egress));
  }

  /**
   * {@code list} as one of the list classes specs arrive in (immutable, array-backed, wrapped), so
   * that the JIT compiles the compiler for all of them and no later spec deoptimizes it.
   */
  private static <T> List<T> shaped(int choice, List<T> list) {
    return switch (choice % 3) {
      case 0 -> List.copyOf(list);
      case 1 -> new ArrayList<>(list);
      default -> java.util.Collections.unmodifiableList(new ArrayList<>(list));
    };
  }

  /** Checks one spec alone (the same checks as {@link #compile}). */
  public static void validate(PolicySpec spec) {
    compile(0, List.of(spec), null);
  }

  /** {hi, lo} of a canonical address (IPv4 as ::ffff:a.b.c.d). */
  static long[] parseAddress(String what, String text) {
    try {
      if (text != null && text.contains(":")) {
        long[] a = Ipv6Prefix.parseAddress(text);
        if (!Ipv6Prefix.format(a[0], a[1]).equals(text)) {
          throw new IllegalArgumentException(
              "not canonical (" + Ipv6Prefix.format(a[0], a[1]) + ")");
        }
        return a;
      }
      int a = Ipv4Prefix.parseAddress(text);
      if (!Ipv4Prefix.format(a).equals(text)) {
        throw new IllegalArgumentException("not canonical (" + Ipv4Prefix.format(a) + ")");
      }
      return new long[] {0, v4Lo(a)};
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(what + text + ": " + e.getMessage(), e);
    }
  }

  /** {hi, lo, maskHi, maskLo} of a canonical CIDR (IPv4 as a block of ::ffff:0:0/96). */
  static long[] parseBlock(String what, String text) {
    try {
      if (text != null && text.contains(":")) {
        Ipv6Prefix p = Ipv6Prefix.parse(text);
        if (!p.toString().equals(text)) {
          throw new IllegalArgumentException("not canonical (" + p + ")");
        }
        return new long[] {
          p.hi(), p.lo(), Ipv6Prefix.maskHi(p.length()), Ipv6Prefix.maskLo(p.length())
        };
      }
      Ipv4Prefix p = Ipv4Prefix.parse(text);
      if (!p.toString().equals(text)) {
        throw new IllegalArgumentException("not canonical (" + p + ")");
      }
      return new long[] {0, v4Lo(p.address()), -1L, Ipv6Prefix.maskLo(96 + p.length())};
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(what + text + ": " + e.getMessage(), e);
    }
  }

  /** The text of {@code hi:lo} (IPv4-mapped as dotted IPv4). */
  private static String formatAddress(long hi, long lo) {
    return hi == 0 && (lo & 0xFFFF_FFFF_0000_0000L) == V4_MAPPED
        ? Ipv4Prefix.format((int) lo)
        : Ipv6Prefix.format(hi, lo);
  }

  /** The low half of the IPv4-mapped form of {@code address}. */
  public static long v4Lo(int address) {
    return V4_MAPPED | (address & 0xFFFF_FFFFL);
  }

  static int hash(long hi, long lo) {
    long h = hi * 0x9E37_79B9_7F4A_7C15L ^ lo;
    h ^= h >>> 29;
    h *= 0xBF58_476D_1CE4_E5B9L;
    return (int) (h ^ (h >>> 32));
  }

  /** The pod that owns {@code hi:lo} (IPv4: {@code 0:v4Lo(a)}), or -1. */
  public int podOf(long hi, long lo) {
    int i = hash(hi, lo) & addressMask;
    int pod;
    while ((pod = addressPod[i]) >= 0) {
      if (addressHi[i] == hi && addressLo[i] == lo) {
        return pod;
      }
      i = (i + 1) & addressMask;
    }
    return -1;
  }

  /**
   * The decision for a packet (or a flow's first packet) from {@code src} to {@code dst}: each
   * side's pod and result into {@code out}. {@code protocol} is the IP protocol (IPv6: the first
   * next header), {@code port} the destination port (0 if the packet has none: a non-first
   * fragment, an unparsed extension header, not TCP/UDP/SCTP: then only rules without ports match).
   * {@code fromHost}: it came in on the node's host port (exempt from ingress isolation).
   */
  public void classify(
      Verdict out,
      long srcHi,
      long srcLo,
      long dstHi,
      long dstLo,
      int protocol,
      int port,
      boolean fromHost) {
    int source = podOf(srcHi, srcLo);
    out.egressPod = source;
    if (source < 0) {
      out.egress = NOT_POLICED;
    } else {
      PodPolicy pod = pods[source];
      out.egress =
          pod.egressIsolated
              ? pod.matches(pod.ingressEnd, pod.egressEnd, dstHi, dstLo, protocol, port)
              : OPEN;
    }
    int destination = podOf(dstHi, dstLo);
    out.ingressPod = destination;
    if (destination < 0) {
      out.ingress = NOT_POLICED;
    } else {
      PodPolicy pod = pods[destination];
      if (!pod.ingressIsolated) {
        out.ingress = OPEN;
      } else if (fromHost) {
        out.ingress = EXEMPT;
      } else {
        out.ingress = pod.matches(0, pod.ingressEnd, srcHi, srcLo, protocol, port);
      }
    }
  }

  public long generation() {
    return generation;
  }

  /** Pods whose compiled form came unchanged from the previous table. */
  public int reusedPods() {
    return reusedPods;
  }

  public int podCount() {
    return pods.length;
  }

  public int policyCount() {
    return policyNames.length;
  }

  /** The specs this table was compiled from, in pod index order. */
  public List<PolicySpec> specs() {
    return specs;
  }

  public String podName(int pod) {
    return pods[pod].pod();
  }

  /** Whether this table shares {@code other}'s pod index: the same pods, at the same indexes. */
  boolean samePodsAs(PolicyTable other) {
    return podIndex == other.podIndex;
  }

  /** Whether this table shares {@code other}'s policy index: the same policies. */
  boolean samePoliciesAs(PolicyTable other) {
    return policyIndex == other.policyIndex;
  }

  /** Whether a pod of this name has a policy here. */
  public boolean hasPod(String pod) {
    return podIndex.containsKey(pod);
  }

  /** Whether a rule here belongs to the policy {@code policy} ("ns/name"). */
  public boolean hasPolicy(String policy) {
    return policyIndex.containsKey(policy);
  }

  public boolean ingressIsolated(int pod) {
    return pods[pod].ingressIsolated;
  }

  public boolean egressIsolated(int pod) {
    return pods[pod].egressIsolated;
  }

  /** The policies ("ns/name") with a rule in the pod's ingress or egress list, in order. */
  public List<String> policiesOf(int pod, boolean ingress) {
    PodPolicy p = pods[pod];
    List<String> names = new ArrayList<>();
    int first = ingress ? 0 : p.ingressEnd;
    int end = ingress ? p.ingressEnd : p.egressEnd;
    for (int r = first; r < end; r++) {
      String name = p.policies[p.rulePolicy[r]];
      if (!names.contains(name)) {
        names.add(name);
      }
    }
    return names;
  }

  /** The policy ("ns/name") of rule {@code rule} of pod {@code pod} (a {@link #classify} side). */
  public String rulePolicy(int pod, int rule) {
    PodPolicy p = pods[pod];
    return p.policies[p.rulePolicy[rule]];
  }

  /** The policy index (for counters) of rule {@code rule} of pod {@code pod}. */
  int rulePolicyIndex(int pod, int rule) {
    return podPolicies[policyBase[pod] + pods[pod].rulePolicy[rule]];
  }

  /** The index of the rule in its policy's ingress or egress list. */
  public int ruleNumber(int pod, int rule) {
    return pods[pod].ruleNumber[rule];
  }

  public String policyName(int policy) {
    return policyNames[policy];
  }

  /** Flows allowed by the policy, as published by the workers so far (-1: not counted). */
  public long flowsAllowed(int policy) {
    AtomicCounter c = flowsAllowed[policy];
    return c == null ? -1 : c.get();
  }

  /** Packets to the pod denied by its ingress isolation (-1: not counted). */
  public long deniedIngress(int pod) {
    AtomicCounter c = deniedIngress[pod];
    return c == null ? -1 : c.get();
  }

  /** Packets from the pod denied by its egress isolation (-1: not counted). */
  public long deniedEgress(int pod) {
    AtomicCounter c = deniedEgress[pod];
    return c == null ? -1 : c.get();
  }
}
