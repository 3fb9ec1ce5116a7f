package io.flatnet.dataplane.policy;

import io.flatnet.control.PolicySpec;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Prefix;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * The compiled network policy of this node's pods: immutable once built, published to the workers
 * as one reference (a new generation replaces the whole table). It holds primitive arrays only on
 * the packet path, and {@link #classify} is the one decision the workers (for the first packet of a
 * flow) and {@code ctl trace} both call.
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
 * (or a per-pod trie) can replace {@link #matches} behind the same signature.
 *
 * <p>Measured here (a throwaway timing loop, JDK 25, warm): 200 pods each with 10 ingress and 10
 * egress rules of 4 peers (each with an except) and 2 port ranges: a worst-case classify (the match
 * is the last rule's last peer) takes 60 to 95 ns; compiling the table takes 7 to 15 ms (350 ms
 * cold, before the JIT).
 */
public final class PolicyTable {
  /** The most policed pods (and address entries) one table holds. */
  public static final int MAX_PODS = 4096;

  /** The most distinct policies ("ns/name") one table names. */
  public static final int MAX_POLICIES = 4096;

  /** Rounds of {@link #warmUp} (of large tables; ten times as many small ones) for the JIT. */
  public static final int WARM_UP_ROUNDS = 30;

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

  private static final int ANY_PEER = 1;
  private static final int ANY_PORT = 2;
  private static final long V4_MAPPED = 0x0000_FFFF_0000_0000L;

  /** ::ffff:0:0/96, where IPv4 addresses live: {hi, lo, maskHi, maskLo}. */
  private static final long[] V4_MAPPED_BLOCK = {0, V4_MAPPED, -1L, 0xFFFF_FFFF_0000_0000L};

  /** The table with no policed pod: the workers skip policy altogether. */
  public static final PolicyTable EMPTY = compile(0, List.of(), null);

  private final long generation;
  private final List<PolicySpec> specs;
  private final Map<String, Fragment> fragments;
  private final int reusedPods;

  // pods
  private final String[] podNames;
  private final boolean[] ingressIsolated;
  private final boolean[] egressIsolated;
  private final int[] ingressFirst;
  private final int[] ingressEnd;
  private final int[] egressFirst;
  private final int[] egressEnd;

  // address -> pod, open addressing (load <= 1/2)
  private final long[] addressHi;
  private final long[] addressLo;
  private final int[] addressPod;
  private final int addressMask;

  // rules (each pod's ingress rules, then its egress rules, contiguous)
  private final int[] rulePolicy;
  private final int[] ruleNumber;
  private final int[] ruleFlags;
  private final int[] rulePeerFirst;
  private final int[] rulePeerEnd;
  private final int[] rulePortFirst;
  private final int[] rulePortEnd;

  // peers: a block, minus the blocks [exceptFirst, exceptEnd)
  private final int[] peerBlock;
  private final int[] peerExceptFirst;
  private final int[] peerExceptEnd;

  // address blocks (peers' and excepts')
  private final long[] blockHi;
  private final long[] blockLo;
  private final long[] blockMaskHi;
  private final long[] blockMaskLo;

  // port ranges
  private final int[] portProtocol;
  private final int[] portFirst;
  private final int[] portLast;

  private final String[] policyNames;
  final AtomicCounter[] flowsAllowed;
  final AtomicCounter[] deniedIngress;
  final AtomicCounter[] deniedEgress;

  /** The counters a table's policies and pods count into; null entries are not counted. */
  public interface Counters {
    AtomicCounter flowsAllowed(String policy);

    AtomicCounter deniedIngress(String pod);

    AtomicCounter deniedEgress(String pod);
  }

  /** One side of a decision, for {@link #classify}: filled in place, no allocation. */
  public static final class Verdict {
    /** The source's pod (egress side) or {@code -1}. */
    public int egressPod = -1;

    /** A rule index (allowed by it), or {@link #NOT_POLICED}, {@link #OPEN}, {@link #DENIED}. */
    public int egress;

    public int ingressPod = -1;

    /** As {@link #egress}, or {@link #EXEMPT}. */
    public int ingress;

    public boolean allowed() {
      return egress != DENIED && ingress != DENIED;
    }
  }

  private PolicyTable(
      long generation,
      List<PolicySpec> specs,
      Builder b,
      Counters counters,
      Map<String, Fragment> fragments) {
    this.generation = generation;
    this.specs = List.copyOf(specs);
    this.fragments = fragments;
    this.reusedPods = b.reused;
    int pods = specs.size();
    podNames = new String[pods];
    ingressIsolated = new boolean[pods];
    egressIsolated = new boolean[pods];
    ingressFirst = new int[pods];
    ingressEnd = new int[pods];
    egressFirst = new int[pods];
    egressEnd = new int[pods];
    for (int p = 0; p < pods; p++) {
      PolicySpec s = specs.get(p);
      podNames[p] = s.pod();
      ingressIsolated[p] = s.ingressIsolated();
      egressIsolated[p] = s.egressIsolated();
      ingressFirst[p] = b.podRules[p * 4];
      ingressEnd[p] = b.podRules[p * 4 + 1];
      egressFirst[p] = b.podRules[p * 4 + 2];
      egressEnd[p] = b.podRules[p * 4 + 3];
    }
    int capacity = Math.max(16, Integer.highestOneBit(Math.max(1, b.addresses.size()) * 2) * 2);
    addressHi = new long[capacity];
    addressLo = new long[capacity];
    addressPod = new int[capacity];
    addressMask = capacity - 1;
    java.util.Arrays.fill(addressPod, -1);
    for (long[] a : b.addresses) {
      int i = hash(a[0], a[1]) & addressMask;
      while (addressPod[i] >= 0) {
        if (addressHi[i] == a[0] && addressLo[i] == a[1]) {
          throw new IllegalArgumentException(
              "policy of pod "
                  + podNames[(int) a[2]]
                  + ": address "
                  + formatAddress(a[0], a[1])
                  + " is also pod "
                  + podNames[addressPod[i]]
                  + "'s");
        }
        i = (i + 1) & addressMask;
      }
      addressHi[i] = a[0];
      addressLo[i] = a[1];
      addressPod[i] = (int) a[2];
    }
    rulePolicy = b.rules.toArray(0);
    ruleNumber = b.rules.toArray(1);
    ruleFlags = b.rules.toArray(2);
    rulePeerFirst = b.rules.toArray(3);
    rulePeerEnd = b.rules.toArray(4);
    rulePortFirst = b.rules.toArray(5);
    rulePortEnd = b.rules.toArray(6);
    peerBlock = b.peers.toArray(0);
    peerExceptFirst = b.peers.toArray(1);
    peerExceptEnd = b.peers.toArray(2);
    int blocks = b.blocks.size();
    blockHi = new long[blocks];
    blockLo = new long[blocks];
    blockMaskHi = new long[blocks];
    blockMaskLo = new long[blocks];
    for (int i = 0; i < blocks; i++) {
      long[] k = b.blocks.get(i);
      blockHi[i] = k[0];
      blockLo[i] = k[1];
      blockMaskHi[i] = k[2];
      blockMaskLo[i] = k[3];
    }
    portProtocol = b.ports.toArray(0);
    portFirst = b.ports.toArray(1);
    portLast = b.ports.toArray(2);
    policyNames = b.policies.keySet().toArray(new String[0]);
    flowsAllowed = new AtomicCounter[policyNames.length];
    deniedIngress = new AtomicCounter[pods];
    deniedEgress = new AtomicCounter[pods];
    if (counters != null) {
      for (int i = 0; i < policyNames.length; i++) {
        flowsAllowed[i] = counters.flowsAllowed(policyNames[i]);
      }
      for (int p = 0; p < pods; p++) {
        deniedIngress[p] = counters.deniedIngress(podNames[p]);
        deniedEgress[p] = counters.deniedEgress(podNames[p]);
      }
    }
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
   * As {@link #compile(long, Collection, Counters)}, reusing {@code previous}'s compiled form of
   * every pod whose spec is unchanged: a policy update parses and checks only the pods it touches,
   * and the rest is array copying (the control thread shares a CPU with a worker in small setups,
   * so a republish of thousands of rules must cost little).
   */
  public static PolicyTable compile(
      long generation, Collection<PolicySpec> specs, Counters counters, PolicyTable previous) {
    if (specs.size() > MAX_PODS) {
      throw new IllegalArgumentException(
          specs.size() + " pods with a policy: at most " + MAX_PODS + " on one node");
    }
    List<PolicySpec> list = new ArrayList<>(specs);
    Map<String, Fragment> fragments = new HashMap<>(list.size() * 2);
    Builder b = new Builder(list.size());
    for (int p = 0; p < list.size(); p++) {
      PolicySpec spec = list.get(p);
      Fragment f = previous == null ? null : previous.fragments.get(spec.pod());
      if (f == null || (f.spec != spec && !f.spec.equals(spec))) {
        f = new Fragment(spec, fragment(spec));
      } else {
        b.reused++;
      }
      fragments.put(spec.pod(), f);
      b.append(spec.pod(), f.rules, p);
    }
    return new PolicyTable(generation, list, b, counters, fragments);
  }

  /**
   * One pod's spec compiled alone, with indexes local to it; {@link Builder#append} shifts them.
   */
  private record Fragment(PolicySpec spec, Builder rules) {}

  private static Builder fragment(PolicySpec spec) {
    if (spec.pod() == null || spec.pod().isEmpty()) {
      throw new IllegalArgumentException("a policy spec without a pod name");
    }
    String where = "policy of pod " + spec.pod() + ": ";
    Builder f = new Builder(1);
    for (String address : spec.addresses()) {
      long[] a = parseAddress(where + "address ", address);
      f.addresses.add(new long[] {a[0], a[1], 0});
    }
    f.podRules[0] = 0;
    f.addRules(where + "ingress ", spec.ingress());
    f.podRules[1] = f.rules.size();
    f.podRules[2] = f.rules.size();
    f.addRules(where + "egress ", spec.egress());
    f.podRules[3] = f.rules.size();
    return f;
  }

  /**
   * Runs the compiler, from scratch and from a previous table, on synthetic specs until the JIT has
   * compiled it: first many small tables, so that every method of the compiler is called often
   * enough to be compiled whole (a few large tables would only get their loops compiled on the
   * stack, entered late on every call), then a few of {@link #WARM_UP_PODS} pods, for the shapes of
   * large maps. Cold, a publish of 1,000 pods runs interpreted for 20 to 60 ms; warm, 1 to 3 ms.
   * Call it on a control thread, off the workers' CPUs. Returns the last table compiled from a
   * previous one.
   */
  public static PolicyTable warmUp(int rounds) {
    warmUp(rounds * 10, 16);
    return warmUp(rounds, WARM_UP_PODS);
  }

  private static PolicyTable warmUp(int rounds, int pods) {
    List<PolicySpec> specs = new ArrayList<>();
    for (int p = 0; p < pods; p++) {
      specs.add(syntheticSpec(p, 0));
    }
    PolicyTable previous = null;
    Verdict verdict = new Verdict();
    for (int round = 0; round < rounds; round++) {
      compile(round, specs, null);
      specs.set(round % pods, syntheticSpec(round % pods, round + 1));
      previous = compile(round, specs, null, previous);
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

  private static final class IntRows {
    private final int width;
    private int[] data = new int[64];
    private int size;

    IntRows(int width) {
      this.width = width;
    }

    void add(int... row) {
      if ((size + 1) * width > data.length) {
        data = java.util.Arrays.copyOf(data, data.length * 2);
      }
      System.arraycopy(row, 0, data, size * width, width);
      size++;
    }

    int size() {
      return size;
    }

    /** Appends {@code src}'s rows, adding {@code offsets[c]} to column {@code c}. */
    void append(IntRows src, int... offsets) {
      int need = (size + src.size) * width;
      if (need > data.length) {
        data = java.util.Arrays.copyOf(data, Math.max(need, data.length * 2));
      }
      for (int i = 0, o = size * width; i < src.size * width; i++, o++) {
        data[o] = src.data[i] + offsets[i % width];
      }
      size += src.size;
    }

    int[] toArray(int column) {
      int[] out = new int[size];
      for (int i = 0; i < size; i++) {
        out[i] = data[i * width + column];
      }
      return out;
    }
  }

  private static final class Builder {
    final int[] podRules;
    final List<long[]> addresses = new ArrayList<>();
    final IntRows rules = new IntRows(7);
    final IntRows peers = new IntRows(3);
    final List<long[]> blocks = new ArrayList<>();
    final IntRows ports = new IntRows(3);
    final Map<String, Integer> policies = new LinkedHashMap<>();
    int reused;

    Builder(int pods) {
      podRules = new int[pods * 4];
    }

    /** Adds pod {@code p}'s fragment {@code f}: its policies, addresses and rows, re-indexed. */
    void append(String pod, Builder f, int p) {
      if (addresses.size() + f.addresses.size() > MAX_PODS * 4) {
        throw new IllegalArgumentException(
            "policy of pod " + pod + ": too many pod addresses on one node");
      }
      for (long[] a : f.addresses) {
        addresses.add(new long[] {a[0], a[1], p});
      }
      int[] policyIndex = new int[f.policies.size()];
      int local = 0;
      for (String name : f.policies.keySet()) {
        Integer global = policies.get(name);
        if (global == null) {
          if (policies.size() >= MAX_POLICIES) {
            throw new IllegalArgumentException(
                "policy of pod "
                    + pod
                    + ": policy "
                    + name
                    + ": more than "
                    + MAX_POLICIES
                    + " policies");
          }
          global = policies.size();
          policies.put(name, global);
        }
        policyIndex[local++] = global;
      }
      int ruleBase = rules.size();
      int peerBase = peers.size();
      int portBase = ports.size();
      for (int k = 0; k < 4; k++) {
        podRules[p * 4 + k] = ruleBase + f.podRules[k];
      }
      rules.append(f.rules, 0, 0, 0, peerBase, peerBase, portBase, portBase);
      for (int r = ruleBase; r < rules.size(); r++) {
        rules.data[r * 7] = policyIndex[rules.data[r * 7]];
      }
      peers.append(f.peers, blocks.size(), blocks.size(), blocks.size());
      blocks.addAll(f.blocks);
      ports.append(f.ports, 0, 0, 0);
    }

    void addRules(String where, List<PolicySpec.Rule> list) {
      for (int r = 0; r < list.size(); r++) {
        PolicySpec.Rule rule = list.get(r);
        String at = where + "rule " + r + " (" + rule.policy() + " #" + rule.rule() + "): ";
        if (rule.policy() == null || rule.policy().isEmpty()) {
          throw new IllegalArgumentException(at + "no policy name");
        }
        Integer policy = policies.get(rule.policy());
        if (policy == null) {
          if (policies.size() >= MAX_POLICIES) {
            throw new IllegalArgumentException(at + "more than " + MAX_POLICIES + " policies");
          }
          policy = policies.size();
          policies.put(rule.policy(), policy);
        }
        int peerFirst = peers.size();
        if (!rule.anyPeer()) {
          for (PolicySpec.Peer peer : rule.peers()) {
            long[] block = parseBlock(at + "peer ", peer.cidr());
            int blockIndex = blocks.size();
            blocks.add(block);
            int exceptFirst = blocks.size();
            if (peer.cidr().contains(":") && overlapsV4Mapped(block)) {
              // IPv4 addresses are held as ::ffff:a.b.c.d: an IPv6 block ("::/0") that covers that
              // range must not match them, so the range is an implicit except.
              blocks.add(V4_MAPPED_BLOCK.clone());
            }
            for (String except : peer.except()) {
              long[] e = parseBlock(at + "except ", except);
              if ((e[0] & block[2]) != block[0]
                  || (e[1] & block[3]) != block[1]
                  || Long.compareUnsigned(e[2], block[2]) < 0
                  || (e[2] == block[2] && Long.compareUnsigned(e[3], block[3]) < 0)) {
                throw new IllegalArgumentException(
                    at + "except " + except + " is not inside " + peer.cidr());
              }
              blocks.add(e);
            }
            peers.add(blockIndex, exceptFirst, blocks.size());
          }
        } else if (!rule.peers().isEmpty()) {
          throw new IllegalArgumentException(at + "anyPeer with peers listed");
        }
        int peerEnd = peers.size();
        int portFirstRow = ports.size();
        if (!rule.anyPort()) {
          for (PolicySpec.PortRange range : rule.ports()) {
            int protocol = protocolNumber(at, range.protocol());
            if (range.first() < 1 || range.last() > 65535 || range.first() > range.last()) {
              throw new IllegalArgumentException(
                  at
                      + "port range "
                      + range.first()
                      + ".."
                      + range.last()
                      + " out of 1..65535 (or first > last)");
            }
            ports.add(protocol, range.first(), range.last());
          }
        } else if (!rule.ports().isEmpty()) {
          throw new IllegalArgumentException(at + "anyPort with ports listed");
        }
        rules.add(
            policy,
            rule.rule(),
            (rule.anyPeer() ? ANY_PEER : 0) | (rule.anyPort() ? ANY_PORT : 0),
            peerFirst,
            peerEnd,
            portFirstRow,
            ports.size());
      }
    }
  }

  /** Whether the block {hi, lo, maskHi, maskLo} shares an address with ::ffff:0:0/96. */
  private static boolean overlapsV4Mapped(long[] block) {
    long maskHi = block[2] & V4_MAPPED_BLOCK[2];
    long maskLo = block[3] & V4_MAPPED_BLOCK[3];
    return (block[0] & maskHi) == (V4_MAPPED_BLOCK[0] & maskHi)
        && (block[1] & maskLo) == (V4_MAPPED_BLOCK[1] & maskLo);
  }

  private static int protocolNumber(String at, String protocol) {
    return switch (protocol == null ? "" : protocol) {
      case "TCP" -> TCP;
      case "UDP" -> UDP;
      case "SCTP" -> SCTP;
      default ->
          throw new IllegalArgumentException(
              at + "protocol " + protocol + " is not TCP, UDP or SCTP");
    };
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
    } else if (!egressIsolated[source]) {
      out.egress = OPEN;
    } else {
      out.egress = matches(egressFirst[source], egressEnd[source], dstHi, dstLo, protocol, port);
    }
    int destination = podOf(dstHi, dstLo);
    out.ingressPod = destination;
    if (destination < 0) {
      out.ingress = NOT_POLICED;
    } else if (!ingressIsolated[destination]) {
      out.ingress = OPEN;
    } else if (fromHost) {
      out.ingress = EXEMPT;
    } else {
      out.ingress =
          matches(ingressFirst[destination], ingressEnd[destination], srcHi, srcLo, protocol, port);
    }
  }

  /** The first rule in [first, end) that matches the peer and port, or {@link #DENIED}. */
  private int matches(int first, int end, long peerHi, long peerLo, int protocol, int port) {
    for (int r = first; r < end; r++) {
      int flags = ruleFlags[r];
      if (((flags & ANY_PORT) != 0 || portMatches(r, protocol, port))
          && ((flags & ANY_PEER) != 0 || peerMatches(r, peerHi, peerLo))) {
        return r;
      }
    }
    return DENIED;
  }

  private boolean portMatches(int rule, int protocol, int port) {
    for (int i = rulePortFirst[rule]; i < rulePortEnd[rule]; i++) {
      if (portProtocol[i] == protocol && port >= portFirst[i] && port <= portLast[i]) {
        return true;
      }
    }
    return false;
  }

  private boolean peerMatches(int rule, long hi, long lo) {
    for (int p = rulePeerFirst[rule]; p < rulePeerEnd[rule]; p++) {
      if (inBlock(peerBlock[p], hi, lo) && !inAny(peerExceptFirst[p], peerExceptEnd[p], hi, lo)) {
        return true;
      }
    }
    return false;
  }

  private boolean inAny(int first, int end, long hi, long lo) {
    for (int b = first; b < end; b++) {
      if (inBlock(b, hi, lo)) {
        return true;
      }
    }
    return false;
  }

  private boolean inBlock(int b, long hi, long lo) {
    return (hi & blockMaskHi[b]) == blockHi[b] && (lo & blockMaskLo[b]) == blockLo[b];
  }

  public long generation() {
    return generation;
  }

  /** Pods whose compiled form came unchanged from the previous table. */
  public int reusedPods() {
    return reusedPods;
  }

  public int podCount() {
    return podNames.length;
  }

  public int policyCount() {
    return policyNames.length;
  }

  /** The specs this table was compiled from, in pod index order. */
  public List<PolicySpec> specs() {
    return specs;
  }

  public String podName(int pod) {
    return podNames[pod];
  }

  public boolean ingressIsolated(int pod) {
    return ingressIsolated[pod];
  }

  public boolean egressIsolated(int pod) {
    return egressIsolated[pod];
  }

  /** The policies ("ns/name") with a rule in the pod's ingress or egress list, in order. */
  public List<String> policiesOf(int pod, boolean ingress) {
    List<String> names = new ArrayList<>();
    int first = ingress ? ingressFirst[pod] : egressFirst[pod];
    int end = ingress ? ingressEnd[pod] : egressEnd[pod];
    for (int r = first; r < end; r++) {
      String name = policyNames[rulePolicy[r]];
      if (!names.contains(name)) {
        names.add(name);
      }
    }
    return names;
  }

  /** The policy ("ns/name") of rule {@code rule} (a {@link #classify} result). */
  public String rulePolicy(int rule) {
    return policyNames[rulePolicy[rule]];
  }

  /** The policy index (for counters) of rule {@code rule}. */
  int rulePolicyIndex(int rule) {
    return rulePolicy[rule];
  }

  /** The index of the rule in its policy's ingress or egress list. */
  public int ruleNumber(int rule) {
    return ruleNumber[rule];
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
