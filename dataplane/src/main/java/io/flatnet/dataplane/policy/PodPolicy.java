package io.flatnet.dataplane.policy;

import io.flatnet.control.PolicySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * One pod's compiled policy: its addresses, its ingress rules {@code [0, ingressEnd)} and egress
 * rules {@code [ingressEnd, egressEnd)}, with every index local to it, and its counters. Immutable,
 * so every {@link PolicyTable} generation in which the pod's spec is unchanged shares it: a publish
 * compiles only the pods whose specs changed, and its cost does not grow with the rules of the
 * others.
 *
 * <p>The packet path reads only its primitive arrays ({@link #matches}).
 */
final class PodPolicy {
  static final int ANY_PEER = 1;
  static final int ANY_PORT = 2;

  /** ::ffff:0:0/96, where IPv4 addresses live: {hi, lo, maskHi, maskLo}. */
  private static final long[] V4_MAPPED_BLOCK = {
    0, 0x0000_FFFF_0000_0000L, -1L, 0xFFFF_FFFF_0000_0000L
  };

  final PolicySpec spec;

  /** The counters source its counters came from (a pod is reused only with the same one). */
  final PolicyTable.Counters source;

  /** {hi, lo} pairs. */
  final long[] addresses;

  final boolean ingressIsolated;
  final boolean egressIsolated;
  final int ingressEnd;
  final int egressEnd;

  /** Its policies ("ns/name") in order of first appearance; rules name them by this index. */
  final String[] policies;

  final AtomicCounter[] flowsAllowed; // by local policy
  final AtomicCounter deniedIngress;
  final AtomicCounter deniedEgress;

  // rules
  final int[] rulePolicy;
  final int[] ruleNumber;
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

  /**
   * Compiles {@code spec}, checking every field.
   *
   * @param counters where its policies and pod count, or null (validation, tests)
   * @throws IllegalArgumentException naming the pod and the field that is wrong
   */
  static PodPolicy compile(PolicySpec spec, PolicyTable.Counters counters) {
    if (spec.pod() == null || spec.pod().isEmpty()) {
      throw new IllegalArgumentException("a policy spec without a pod name");
    }
    return new PodPolicy(spec, counters, new Builder("policy of pod " + spec.pod() + ": ", spec));
  }

  private PodPolicy(PolicySpec spec, PolicyTable.Counters counters, Builder b) {
    this.spec = spec;
    this.source = counters;
    addresses = b.addresses;
    ingressIsolated = spec.ingressIsolated();
    egressIsolated = spec.egressIsolated();
    ingressEnd = b.ingressEnd;
    egressEnd = b.rules.size();
    policies = b.policies.keySet().toArray(new String[0]);
    rulePolicy = b.rules.column(0);
    ruleNumber = b.rules.column(1);
    ruleFlags = b.rules.column(2);
    rulePeerFirst = b.rules.column(3);
    rulePeerEnd = b.rules.column(4);
    rulePortFirst = b.rules.column(5);
    rulePortEnd = b.rules.column(6);
    peerBlock = b.peers.column(0);
    peerExceptFirst = b.peers.column(1);
    peerExceptEnd = b.peers.column(2);
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
    portProtocol = b.ports.column(0);
    portFirst = b.ports.column(1);
    portLast = b.ports.column(2);
    flowsAllowed = new AtomicCounter[policies.length];
    if (counters != null) {
      for (int i = 0; i < policies.length; i++) {
        flowsAllowed[i] = counters.flowsAllowed(policies[i]);
      }
      deniedIngress = counters.deniedIngress(spec.pod());
      deniedEgress = counters.deniedEgress(spec.pod());
    } else {
      deniedIngress = null;
      deniedEgress = null;
    }
  }

  /** Whether this compiled form stands for {@code next} counted into {@code counters}. */
  boolean sameAs(PolicySpec next, PolicyTable.Counters counters) {
    return source == counters && (spec == next || spec.equals(next));
  }

  String pod() {
    return spec.pod();
  }

  /** The first rule in [first, end) that matches the peer and port, or {@link #DENIED}. */
  int matches(int first, int end, long peerHi, long peerLo, int protocol, int port) {
    for (int r = first; r < end; r++) {
      int flags = ruleFlags[r];
      if (((flags & ANY_PORT) != 0 || portMatches(r, protocol, port))
          && ((flags & ANY_PEER) != 0 || peerMatches(r, peerHi, peerLo))) {
        return r;
      }
    }
    return PolicyTable.DENIED;
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

  /** Rows of {@code width} ints, appended while compiling, then read as columns. */
  private static final class IntRows {
    private final int width;
    private int[] data = new int[32];
    private int size;

    IntRows(int width) {
      this.width = width;
    }

    void add(int... row) {
      if ((size + 1) * width > data.length) {
        data = Arrays.copyOf(data, data.length * 2);
      }
      System.arraycopy(row, 0, data, size * width, width);
      size++;
    }

    int size() {
      return size;
    }

    int[] column(int column) {
      int[] out = new int[size];
      for (int i = 0; i < size; i++) {
        out[i] = data[i * width + column];
      }
      return out;
    }
  }

  /** The spec's rules as rows, checked field by field. */
  private static final class Builder {
    final long[] addresses;
    final IntRows rules = new IntRows(7);
    final IntRows peers = new IntRows(3);
    final List<long[]> blocks = new ArrayList<>();
    final IntRows ports = new IntRows(3);
    final Map<String, Integer> policies = new LinkedHashMap<>();
    final int ingressEnd;

    Builder(String where, PolicySpec spec) {
      List<String> list = spec.addresses();
      addresses = new long[list.size() * 2];
      for (int i = 0; i < list.size(); i++) {
        long[] a = PolicyTable.parseAddress(where + "address ", list.get(i));
        addresses[i * 2] = a[0];
        addresses[i * 2 + 1] = a[1];
      }
      addRules(where + "ingress ", spec.ingress());
      ingressEnd = rules.size();
      addRules(where + "egress ", spec.egress());
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
          if (policies.size() >= PolicyTable.MAX_POLICIES) {
            throw new IllegalArgumentException(
                at + "more than " + PolicyTable.MAX_POLICIES + " policies");
          }
          policy = policies.size();
          policies.put(rule.policy(), policy);
        }
        int peerFirst = peers.size();
        if (!rule.anyPeer()) {
          for (PolicySpec.Peer peer : rule.peers()) {
            addPeer(at, peer);
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

    private void addPeer(String at, PolicySpec.Peer peer) {
      long[] block = PolicyTable.parseBlock(at + "peer ", peer.cidr());
      int blockIndex = blocks.size();
      blocks.add(block);
      int exceptFirst = blocks.size();
      if (peer.cidr().contains(":") && overlapsV4Mapped(block)) {
        // IPv4 addresses are held as ::ffff:a.b.c.d: an IPv6 block ("::/0") that covers that range
        // must not match them, so the range is an implicit except.
        blocks.add(V4_MAPPED_BLOCK.clone());
      }
      for (String except : peer.except()) {
        long[] e = PolicyTable.parseBlock(at + "except ", except);
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
      case "TCP" -> PolicyTable.TCP;
      case "UDP" -> PolicyTable.UDP;
      case "SCTP" -> PolicyTable.SCTP;
      default ->
          throw new IllegalArgumentException(
              at + "protocol " + protocol + " is not TCP, UDP or SCTP");
    };
  }
}
