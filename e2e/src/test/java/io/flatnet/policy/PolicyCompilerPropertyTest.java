package io.flatnet.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import io.flatnet.agent.config.ConfigError;
import io.flatnet.agent.config.policy.IntOrString;
import io.flatnet.agent.config.policy.LabelSelector;
import io.flatnet.agent.config.policy.NamespaceObject;
import io.flatnet.agent.config.policy.NetworkPolicy;
import io.flatnet.agent.config.policy.ObjectMeta;
import io.flatnet.agent.config.policy.PodObject;
import io.flatnet.agent.config.policy.PolicySection;
import io.flatnet.agent.config.policy.PolicyValidator;
import io.flatnet.agent.policy.PolicyCompiler;
import io.flatnet.agent.policy.PolicyCompiler.AttachedPod;
import io.flatnet.control.PolicySpec;
import io.flatnet.dataplane.policy.PolicyTable;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Property test of network policy: for random namespaces, pods and NetworkPolicies (valid ones
 * only, as {@link PolicyValidator} accepts them) and random packets, the agent's {@link
 * PolicyCompiler} followed by the dataplane's {@link PolicyTable#classify} (what the workers run)
 * gives the same egress and ingress verdicts as a direct evaluation of the Kubernetes objects
 * written here from the {@code networking.k8s.io/v1} semantics, independent of the compiler.
 *
 * <p>The reference ({@link Reference}) works on the model records and on raw address bytes: a pod
 * is isolated in a direction iff some policy of its namespace selects it and has that policy type
 * (left out: Ingress, plus Egress when it has egress rules); a packet is then allowed iff some rule
 * of such a policy has a matching peer and a matching port. Peers: no peers = any address; an
 * ipBlock matches by address (cidr minus excepts, same family); selectors match the pod that owns
 * the address. Ports: none = any protocol and port; a named port resolves on ingress against the
 * protected pod, on egress against the destination pod, and only when that pod was matched by a
 * selector (or the rule has no peers): flatnet's documented choice for ipBlock destinations, which
 * Kubernetes leaves to the implementation.
 *
 * <p>Deterministic: a fixed seed (override with {@code -Dflatnet.policyprop.seed=N}); on a mismatch
 * it prints the seed, the case (objects as YAML, attached pods), the packet and both answers.
 */
class PolicyCompilerPropertyTest {

  private static final long SEED = Long.getLong("flatnet.policyprop.seed", 0x5EED_F1A7_0001L);
  private static final int CASES = Integer.getInteger("flatnet.policyprop.cases", 400);
  private static final int PACKETS_PER_CASE = 80;

  private static final int ICMP = 1;
  private static final int ICMPV6 = 58;
  private static final int TCP = 6;
  private static final int UDP = 17;
  private static final int SCTP = 132;

  private static final String NAME_LABEL = "kubernetes.io/metadata.name";
  private static final List<String> NAMESPACES = List.of("x", "y", "z", "w");
  private static final List<String> NS_KEYS = List.of("team", "env", NAME_LABEL);
  private static final List<String> POD_KEYS = List.of("app", "role", "tier");
  private static final List<String> VALUES = List.of("a", "b", "c", "");
  private static final List<String> PORT_NAMES = List.of("http", "dns", "metrics", "db");
  private static final List<Integer> PORT_NUMBERS = List.of(53, 80, 81, 443, 5432, 8080, 65535);
  private static final List<String> OUTSIDE =
      List.of(
          "10.244.1.200",
          "10.244.3.7",
          "10.1.2.3",
          "192.168.1.1",
          "8.8.8.8",
          "0.0.0.1",
          "fd00:1::ff",
          "fd00:3::1",
          "2001:db8::1",
          "fe80::1",
          "::2");

  // ---------------------------------------------------------------------------------------------
  // The case: objects, attached pods, and the addresses a packet may use.

  record Case(PolicySection section, List<AttachedPod> attached, List<String> addresses) {}

  record Packet(String src, String dst, int protocol, int port) {
    @Override
    public String toString() {
      String p =
          switch (protocol) {
            case TCP -> "TCP";
            case UDP -> "UDP";
            case SCTP -> "SCTP";
            case ICMP -> "ICMP";
            case ICMPV6 -> "ICMPv6";
            default -> "proto " + protocol;
          };
      return src + " -> " + dst + " " + p + (port != 0 ? " dport " + port : "");
    }
  }

  /** One side's verdict: not-policed, open, allowed or denied; {@code by} the allowing rules. */
  record Side(String state, Set<String> by) {
    static Side of(String state) {
      return new Side(state, Set.of());
    }

    @Override
    public String toString() {
      return by.isEmpty() ? state : state + " by " + by;
    }
  }

  /** Both sides. */
  record Answer(Side egress, Side ingress) {}

  // ---------------------------------------------------------------------------------------------
  // The test.

  @Test
  void compiledPoliciesAgreeWithADirectEvaluationOfTheKubernetesObjects() {
    Random random = new Random(SEED);
    int cases = 0;
    int invalid = 0;
    int packets = 0;
    Map<String, Integer> outcomes = new java.util.TreeMap<>();
    Map<String, Integer> invalidReasons = new java.util.TreeMap<>();
    List<String> mismatches = new ArrayList<>();
    List<String> summaries = new ArrayList<>();
    int mismatchCount = 0;
    long start = System.nanoTime();
    while (cases < CASES) {
      long caseSeed = random.nextLong();
      Case c = new Generator(new Random(caseSeed)).generate();
      List<ConfigError> errors = PolicyValidator.validate(c.section());
      if (!errors.isEmpty()) {
        invalid++;
        errors.forEach(
            e ->
                invalidReasons.merge(
                    e.message().substring(0, Math.min(40, e.message().length())), 1, Integer::sum));
        assertTrue(invalid < CASES * 2, "the generator makes mostly valid input: " + errors);
        continue;
      }
      cases++;
      List<PolicySpec> specs = PolicyCompiler.compile(c.section(), c.attached());
      PolicyTable table = PolicyTable.compile(1, specs, null);
      Reference reference = new Reference(c);
      Random packetRandom = new Random(caseSeed ^ 0x9E3779B97F4A7C15L);
      PacketGenerator pg = new PacketGenerator(packetRandom, c);
      PolicyTable.Verdict verdict = new PolicyTable.Verdict();
      for (int i = 0; i < PACKETS_PER_CASE; i++) {
        Packet p = pg.next();
        packets++;
        Answer want = reference.evaluate(p);
        Answer got = classify(table, verdict, p);
        outcomes.merge("egress " + want.egress().state(), 1, Integer::sum);
        outcomes.merge("ingress " + want.ingress().state(), 1, Integer::sum);
        if (!agrees(want.egress(), got.egress()) || !agrees(want.ingress(), got.ingress())) {
          mismatchCount++;
          if (summaries.size() < 40) {
            summaries.add(
                "case " + caseSeed + ": " + p + ": reference " + want + ", compiled " + got);
          }
          if (mismatches.size() < 3) {
            mismatches.add(report(caseSeed, c, specs, p, want, got));
          }
        }
      }
    }
    long millis = (System.nanoTime() - start) / 1_000_000;
    System.out.printf(
        "PolicyCompilerPropertyTest seed %d: %d cases (%d invalid regenerated), %d packets,"
            + " %d mismatches, %d ms; reference outcomes %s%n",
        SEED, cases, invalid, packets, mismatchCount, millis, outcomes);
    System.out.println("invalid input generated (regenerated): " + invalidReasons);
    if (mismatchCount > 0) {
      String text =
          "seed "
              + SEED
              + ": "
              + mismatchCount
              + " of "
              + packets
              + " packets disagree:\n"
              + String.join("\n", summaries)
              + "\n\nthe first in full:\n\n"
              + String.join("\n\n", mismatches);
      System.out.println(text);
      fail(text);
    }
    // The generator must exercise every outcome, or the agreement means little.
    for (String side : List.of("egress", "ingress")) {
      for (String state : List.of("not-policed", "open", "allowed", "denied")) {
        assertTrue(
            outcomes.getOrDefault(side + " " + state, 0) > packets / 100,
            side + " " + state + " is exercised: " + outcomes);
      }
    }
  }

  /** The table's answer: its first matching rule must be one of the reference's allowing rules. */
  private static boolean agrees(Side want, Side got) {
    if (!want.state().equals(got.state())) {
      return false;
    }
    return !want.state().equals("allowed") || want.by().containsAll(got.by());
  }

  private static Answer classify(PolicyTable table, PolicyTable.Verdict v, Packet p) {
    long[] s = halves(p.src());
    long[] d = halves(p.dst());
    table.classify(v, s[0], s[1], d[0], d[1], p.protocol(), p.port(), false);
    return new Answer(side(table, v.egressPod, v.egress), side(table, v.ingressPod, v.ingress));
  }

  private static Side side(PolicyTable table, int pod, int result) {
    return switch (result) {
      case PolicyTable.NOT_POLICED -> Side.of("not-policed");
      case PolicyTable.OPEN -> Side.of("open");
      case PolicyTable.DENIED -> Side.of("denied");
      case PolicyTable.EXEMPT -> Side.of("exempt");
      default ->
          new Side(
              "allowed",
              Set.of(table.rulePolicy(pod, result) + "#" + table.ruleNumber(pod, result)));
    };
  }

  /** The dataplane's 128-bit form of an address: IPv4 as ::ffff:a.b.c.d. */
  private static long[] halves(String text) {
    byte[] b = bytes(text);
    if (b.length == 4) {
      long v4 =
          ((b[0] & 0xFFL) << 24) | ((b[1] & 0xFFL) << 16) | ((b[2] & 0xFFL) << 8) | (b[3] & 0xFFL);
      return new long[] {0, PolicyTable.v4Lo((int) v4)};
    }
    long hi = 0;
    long lo = 0;
    for (int i = 0; i < 8; i++) {
      hi = (hi << 8) | (b[i] & 0xFF);
      lo = (lo << 8) | (b[i + 8] & 0xFF);
    }
    return new long[] {hi, lo};
  }

  /** An address literal's bytes (4 or 16); never a DNS lookup. */
  static byte[] bytes(String text) {
    InetAddress a = InetAddress.ofLiteral(text.trim());
    return a.getAddress();
  }

  private static String report(
      long caseSeed, Case c, List<PolicySpec> specs, Packet p, Answer want, Answer got) {
    StringBuilder b = new StringBuilder();
    b.append("case seed ").append(caseSeed).append(" (run seed ").append(SEED).append(")\n");
    b.append("packet: ").append(p).append('\n');
    b.append("  reference (Kubernetes): egress ")
        .append(want.egress())
        .append(", ingress ")
        .append(want.ingress())
        .append('\n');
    b.append("  compiled (PolicyTable): egress ")
        .append(got.egress())
        .append(", ingress ")
        .append(got.ingress())
        .append('\n');
    b.append("attached: ");
    c.attached().forEach(a -> b.append(a.name()).append(' ').append(a.addresses()).append("; "));
    b.append("\npolicy:\n").append(yaml(c.section()).indent(2));
    b.append("compiled specs:\n");
    specs.forEach(s -> b.append("  ").append(s).append('\n'));
    return b.toString();
  }

  private static final ObjectMapper YAML =
      new ObjectMapper(
              new YAMLFactory()
                  .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                  .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES))
          .setSerializationInclusion(JsonInclude.Include.NON_EMPTY)
          .registerModule(
              new SimpleModule()
                  .addSerializer(
                      IntOrString.class,
                      new JsonSerializer<IntOrString>() {
                        @Override
                        public void serialize(
                            IntOrString value, JsonGenerator gen, SerializerProvider serializers)
                            throws IOException {
                          if (value.isNumber()) {
                            gen.writeNumber(value.number());
                          } else {
                            gen.writeString(value.name());
                          }
                        }
                      }));

  static String yaml(PolicySection section) {
    try {
      return YAML.writeValueAsString(section);
    } catch (IOException e) {
      return section.toString();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The generator of cases.

  static final class Generator {
    private final Random r;
    private final List<String> addresses = new ArrayList<>();
    private final Set<String> namespacesUsed = new LinkedHashSet<>();
    private int nextV4 = 1;

    Generator(Random r) {
      this.r = r;
    }

    private boolean chance(double p) {
      return r.nextDouble() < p;
    }

    private <T> T pick(List<T> list) {
      return list.get(r.nextInt(list.size()));
    }

    Case generate() {
      List<NamespaceObject> namespaces = new ArrayList<>();
      for (String ns : NAMESPACES) {
        if (chance(0.7)) {
          namespaces.add(new NamespaceObject(null, null, meta(ns, null, nsLabels(ns))));
        }
      }
      List<PodObject> pods = new ArrayList<>();
      List<AttachedPod> attached = new ArrayList<>();
      int podCount = 6 + r.nextInt(7);
      for (int i = 0; i < podCount; i++) {
        String ns = pick(NAMESPACES);
        namespacesUsed.add(ns);
        String name = "p" + i;
        boolean local = chance(0.5);
        int host = nextV4++;
        int subnet = local ? 1 : 2;
        List<String> ips = new ArrayList<>();
        int families = r.nextInt(3); // 0: both, 1: IPv4, 2: IPv6
        if (families != 2) {
          ips.add("10.244." + subnet + "." + host);
        }
        if (families != 1) {
          ips.add(v6Text("fd00:" + subnet + "::" + Integer.toHexString(host)));
        }
        boolean object = !local || chance(0.85);
        boolean withIps = local ? chance(0.4) : chance(0.9);
        if (local) {
          attached.add(new AttachedPod(ns + "/" + name, ips));
        }
        if (local || withIps) {
          ips.forEach(a -> addresses.add(canonical(a)));
        }
        if (object) {
          pods.add(
              new PodObject(
                  chance(0.5) ? "v1" : null,
                  chance(0.5) ? "Pod" : null,
                  meta(name, ns, podLabels()),
                  containers(),
                  withIps
                      ? new PodObject.PodStatus(ips.stream().map(PodObject.PodIP::new).toList())
                      : null));
        }
      }
      if (attached.isEmpty()) {
        // Keep some pod of this node; one that is also a Pod object with podIPs stays consistent.
        attached.add(new AttachedPod("x/lonely", List.of("10.244.1.250")));
        addresses.add("10.244.1.250");
        namespacesUsed.add("x");
      }
      List<NetworkPolicy> policies = new ArrayList<>();
      int policyCount = 1 + r.nextInt(5);
      for (int i = 0; i < policyCount; i++) {
        policies.add(policy("np" + i));
      }
      Case c = new Case(new PolicySection(namespaces, pods, policies), attached, addresses);
      return c;
    }

    /** An IPv6 address, sometimes in a non-canonical but equal text form. */
    private String v6Text(String canonical) {
      if (chance(0.15)) {
        return canonical.toUpperCase();
      }
      if (chance(0.1)) {
        return canonical.replace("::", ":0:0:0:0:0:");
      }
      return canonical;
    }

    private static String canonical(String text) {
      InetAddress a = InetAddress.ofLiteral(text);
      if (a instanceof Inet4Address) {
        return a.getHostAddress();
      }
      return io.flatnet.agent.config.IpAddress.parse(text).toString();
    }

    private ObjectMeta meta(String name, String namespace, Map<String, String> labels) {
      return new ObjectMeta(name, namespace, labels, chance(0.05) ? Map.of("note", "x") : null);
    }

    private Map<String, String> nsLabels(String ns) {
      Map<String, String> labels = new LinkedHashMap<>();
      int n = r.nextInt(3);
      for (int i = 0; i < n; i++) {
        String key = pick(NS_KEYS);
        // Kubernetes overwrites kubernetes.io/metadata.name with the name: a wrong value is moot.
        labels.put(key, key.equals(NAME_LABEL) ? pick(NAMESPACES) : pick(VALUES));
      }
      return chance(0.1) ? null : labels;
    }

    private Map<String, String> podLabels() {
      Map<String, String> labels = new LinkedHashMap<>();
      int n = r.nextInt(4);
      for (int i = 0; i < n; i++) {
        labels.put(pick(POD_KEYS), pick(VALUES));
      }
      return labels;
    }

    private PodObject.PodObjectSpec containers() {
      if (chance(0.15)) {
        return null;
      }
      List<PodObject.Container> containers = new ArrayList<>();
      List<String> names = new ArrayList<>(PORT_NAMES);
      java.util.Collections.shuffle(names, r);
      int count = r.nextInt(3);
      for (int c = 0; c < count; c++) {
        List<PodObject.ContainerPort> ports = new ArrayList<>();
        int n = r.nextInt(3);
        for (int k = 0; k < n; k++) {
          String name = !names.isEmpty() && chance(0.8) ? names.removeFirst() : null;
          ports.add(
              new PodObject.ContainerPort(
                  name, pick(PORT_NUMBERS), pick(Arrays.asList(null, "TCP", "UDP", "SCTP"))));
        }
        containers.add(new PodObject.Container(chance(0.5) ? "c" + c : null, ports));
      }
      return new PodObject.PodObjectSpec(containers);
    }

    private NetworkPolicy policy(String name) {
      String ns =
          chance(0.8) ? pick(List.copyOf(namespacesUsed)) : pick(NAMESPACES); // mostly populated
      if (chance(0.03)) {
        return new NetworkPolicy(null, null, meta(name, ns, null), null);
      }
      LabelSelector podSelector =
          chance(0.1) ? null : chance(0.25) ? LabelSelector.ALL : selector(POD_KEYS, false);
      List<String> types =
          switch (r.nextInt(7)) {
            case 0, 1, 2 -> null;
            case 3 -> List.of();
            case 4 -> List.of(NetworkPolicy.INGRESS);
            case 5 -> List.of(NetworkPolicy.EGRESS);
            default ->
                chance(0.5)
                    ? List.of(NetworkPolicy.INGRESS, NetworkPolicy.EGRESS)
                    : List.of(NetworkPolicy.EGRESS, NetworkPolicy.INGRESS);
          };
      List<NetworkPolicy.IngressRule> ingress = null;
      if (chance(0.75)) {
        ingress = new ArrayList<>();
        int n = chance(0.15) ? 0 : 1 + r.nextInt(3);
        for (int i = 0; i < n; i++) {
          ingress.add(chance(0.05) ? null : new NetworkPolicy.IngressRule(peers(), ports()));
        }
      }
      List<NetworkPolicy.EgressRule> egress = null;
      if (chance(0.65)) {
        egress = new ArrayList<>();
        int n = chance(0.15) ? 0 : 1 + r.nextInt(3);
        for (int i = 0; i < n; i++) {
          egress.add(chance(0.05) ? null : new NetworkPolicy.EgressRule(peers(), ports()));
        }
      }
      return new NetworkPolicy(
          chance(0.5) ? NetworkPolicy.API_VERSION : null,
          chance(0.5) ? NetworkPolicy.KIND : null,
          meta(name, ns, null),
          new NetworkPolicy.Spec(podSelector, types, ingress, egress));
    }

    private LabelSelector selector(List<String> keys, boolean namespaces) {
      Map<String, String> matchLabels = null;
      if (chance(0.6)) {
        matchLabels = new LinkedHashMap<>();
        int n = r.nextInt(3);
        for (int i = 0; i < n; i++) {
          String key = pick(keys);
          matchLabels.put(key, value(key, namespaces));
        }
      }
      List<LabelSelector.Requirement> expressions = null;
      if (chance(0.5)) {
        expressions = new ArrayList<>();
        int n = r.nextInt(3);
        for (int i = 0; i < n; i++) {
          String key = pick(keys);
          String op = pick(LabelSelector.OPERATORS);
          List<String> values = null;
          if (op.equals(LabelSelector.IN) || op.equals(LabelSelector.NOT_IN)) {
            values = new ArrayList<>();
            int k = 1 + r.nextInt(2);
            for (int j = 0; j < k; j++) {
              values.add(value(key, namespaces));
            }
          }
          expressions.add(new LabelSelector.Requirement(key, op, values));
        }
      }
      return new LabelSelector(matchLabels, expressions);
    }

    private String value(String key, boolean namespaces) {
      return namespaces && key.equals(NAME_LABEL) ? pick(NAMESPACES) : pick(VALUES);
    }

    private List<NetworkPolicy.Peer> peers() {
      if (chance(0.25)) {
        return chance(0.5) ? null : List.of();
      }
      List<NetworkPolicy.Peer> peers = new ArrayList<>();
      int n = 1 + r.nextInt(3);
      for (int i = 0; i < n; i++) {
        peers.add(
            switch (r.nextInt(4)) {
              case 0 -> new NetworkPolicy.Peer(podSelectorOrAll(), null, null);
              case 1 -> new NetworkPolicy.Peer(null, namespaceSelectorOrAll(), null);
              case 2 -> new NetworkPolicy.Peer(podSelectorOrAll(), namespaceSelectorOrAll(), null);
              default -> new NetworkPolicy.Peer(null, null, ipBlock());
            });
      }
      return peers;
    }

    private LabelSelector podSelectorOrAll() {
      return chance(0.2) ? LabelSelector.ALL : selector(POD_KEYS, false);
    }

    private LabelSelector namespaceSelectorOrAll() {
      return chance(0.2) ? LabelSelector.ALL : selector(NS_KEYS, true);
    }

    /** A CIDR around a pod's or an outside address, minus some blocks inside it. */
    private NetworkPolicy.IpBlock ipBlock() {
      List<String> anchors = new ArrayList<>(addresses);
      anchors.addAll(OUTSIDE);
      String anchor = pick(anchors);
      boolean v4 = bytes(anchor).length == 4;
      int bits = v4 ? 32 : 128;
      int length =
          v4
              ? pick(List.of(0, 8, 16, 16, 24, 24, 28, 30, 32))
              : pick(List.of(0, 8, 16, 32, 64, 64, 112, 120, 124, 128));
      String cidr = network(anchor, length); // the validator refuses host bits
      List<String> except = null;
      if (length < bits && chance(0.5)) {
        except = new ArrayList<>();
        int n = 1 + r.nextInt(2);
        for (int i = 0; i < n; i++) {
          // An address inside the block: the anchor, or another address the block holds.
          List<String> inside =
              anchors.stream().filter(a -> inCidr(bytes(a), network(anchor, length))).toList();
          String a = inside.isEmpty() ? anchor : pick(inside);
          int l = length + 1 + r.nextInt(bits - length);
          except.add(network(a, l));
        }
      }
      return new NetworkPolicy.IpBlock(cidr, except);
    }

    private List<NetworkPolicy.Port> ports() {
      if (chance(0.3)) {
        return chance(0.5) ? null : List.of();
      }
      List<NetworkPolicy.Port> ports = new ArrayList<>();
      int n = 1 + r.nextInt(3);
      for (int i = 0; i < n; i++) {
        if (chance(0.03)) {
          ports.add(null);
          continue;
        }
        String protocol = pick(Arrays.asList(null, "TCP", "UDP", "SCTP"));
        IntOrString port = null;
        Integer endPort = null;
        int kind = r.nextInt(10);
        if (kind < 4) {
          port = IntOrString.of(pick(PORT_NUMBERS));
        } else if (kind < 6) {
          int first = pick(PORT_NUMBERS);
          port = IntOrString.of(first);
          endPort = Math.min(65535, first + r.nextInt(30));
        } else if (kind < 9) {
          port = IntOrString.of(chance(0.9) ? pick(PORT_NAMES) : "nope");
        }
        ports.add(new NetworkPolicy.Port(protocol, port, endPort));
      }
      return ports;
    }
  }

  /** {@code address/length} with the host bits cleared, as text. */
  static String network(String address, int length) {
    byte[] b = bytes(address);
    for (int i = 0; i < b.length; i++) {
      int keep = Math.max(0, Math.min(8, length - 8 * i));
      b[i] &= (byte) (0xFF << (8 - keep));
    }
    try {
      String text = InetAddress.getByAddress(b).getHostAddress();
      if (b.length == 16) {
        text = io.flatnet.agent.config.IpAddress.parse(text).toString();
      }
      return text + "/" + length;
    } catch (java.net.UnknownHostException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Whether {@code address} is in {@code cidr} (host bits ignored), same family only. */
  static boolean inCidr(byte[] address, String cidr) {
    int slash = cidr.indexOf('/');
    byte[] net = bytes(cidr.substring(0, slash));
    int length = Integer.parseInt(cidr.substring(slash + 1).trim());
    if (net.length != address.length) {
      return false;
    }
    for (int i = 0; i < length; i++) {
      int bit = 7 - (i % 8);
      if (((net[i / 8] >> bit) & 1) != ((address[i / 8] >> bit) & 1)) {
        return false;
      }
    }
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Packets.

  static final class PacketGenerator {
    private final Random r;
    private final Case c;
    private final List<String> local = new ArrayList<>();
    private final List<String> all = new ArrayList<>();
    private final List<Integer> ports = new ArrayList<>();

    private final Map<String, List<PodObject.ContainerPort>> containerPorts = new HashMap<>();

    PacketGenerator(Random r, Case c) {
      this.r = r;
      this.c = c;
      Map<String, List<String>> attachedAddresses = new HashMap<>();
      c.attached().forEach(a -> attachedAddresses.put(a.name(), a.addresses()));
      for (PodObject p : c.section().pods()) {
        List<String> texts = p.podIPs();
        if (texts.isEmpty()) {
          texts = attachedAddresses.getOrDefault(p.metadata().key(), List.of());
        }
        List<PodObject.ContainerPort> cps = new ArrayList<>();
        p.containers().forEach(k -> cps.addAll(k.ports()));
        texts.forEach(t -> containerPorts.put(key(t), cps));
      }
      for (AttachedPod a : c.attached()) {
        a.addresses().forEach(t -> local.add(t.trim()));
      }
      all.addAll(c.addresses());
      all.addAll(OUTSIDE);
      for (int p : PORT_NUMBERS) {
        ports.add(p);
        ports.add(p - 1);
        ports.add(Math.min(65535, p + 1));
      }
      for (NetworkPolicy np : c.section().networkPolicies()) {
        NetworkPolicy.Spec s = np.specOrEmpty();
        List<List<NetworkPolicy.Port>> lists = new ArrayList<>();
        s.ingress().forEach(i -> lists.add(i == null ? List.of() : i.ports()));
        s.egress().forEach(e -> lists.add(e == null ? List.of() : e.ports()));
        for (List<NetworkPolicy.Port> list : lists) {
          for (NetworkPolicy.Port p : list) {
            if (p != null && p.endPort() != null) {
              ports.add(p.endPort());
              ports.add(Math.min(65535, p.endPort() + 1));
            }
          }
        }
      }
    }

    Packet next() {
      while (true) {
        // Mostly a pod of this node on one side, so that a side is policed.
        String src = r.nextInt(3) != 0 ? pickFrom(local) : pickFrom(all);
        String dst =
            r.nextBoolean()
                ? pickFrom(c.addresses())
                : r.nextBoolean() ? pickFrom(all) : pickFrom(local);
        if (r.nextInt(3) == 0) {
          String t = src;
          src = dst;
          dst = t;
        }
        boolean v4 = bytes(src).length == 4;
        if (v4 != (bytes(dst).length == 4)) {
          continue;
        }
        int protocol =
            switch (r.nextInt(7)) {
              case 0, 1, 2 -> TCP;
              case 3, 4 -> UDP;
              case 5 -> SCTP;
              default -> v4 ? ICMP : ICMPV6;
            };
        int port =
            protocol == ICMP || protocol == ICMPV6
                ? 0
                : r.nextInt(8) == 0 ? 1 + r.nextInt(65535) : pickFrom(ports);
        List<PodObject.ContainerPort> named = containerPorts.get(key(dst));
        if (named != null && !named.isEmpty() && r.nextBoolean()) {
          // A container port of the destination: what named ports resolve to.
          PodObject.ContainerPort cp = pickFrom(named);
          protocol = protocolNumberOf(cp.protocol() == null ? "TCP" : cp.protocol());
          port = cp.containerPort();
        }
        return new Packet(src, dst, protocol, port);
      }
    }

    private static String key(String address) {
      return Arrays.toString(bytes(address));
    }

    private static int protocolNumberOf(String protocol) {
      return switch (protocol) {
        case "UDP" -> UDP;
        case "SCTP" -> SCTP;
        default -> TCP;
      };
    }

    private <T> T pickFrom(List<T> list) {
      return list.get(r.nextInt(list.size()));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The reference: Kubernetes semantics evaluated on the objects.

  static final class Reference {
    /** A pod as Kubernetes knows it. */
    record Pod(
        String namespace,
        String name,
        Map<String, String> labels,
        List<PodObject.ContainerPort> ports,
        List<byte[]> addresses) {}

    private final Case c;
    private final List<Pod> pods = new ArrayList<>();
    private final Map<String, Pod> attached = new HashMap<>();
    private final Map<String, Map<String, String>> namespaceLabels = new HashMap<>();

    Reference(Case c) {
      this.c = c;
      for (NamespaceObject ns : c.section().namespaces()) {
        Map<String, String> labels = new HashMap<>(ns.metadata().labels());
        labels.put(NAME_LABEL, ns.metadata().name()); // set by the API server, always
        namespaceLabels.put(ns.metadata().name(), labels);
      }
      Map<String, AttachedPod> attachedByName = new HashMap<>();
      c.attached().forEach(a -> attachedByName.put(a.name(), a));
      Set<String> seen = new TreeSet<>();
      for (PodObject p : c.section().pods()) {
        String key = p.metadata().namespace() + "/" + p.metadata().name();
        seen.add(key);
        List<String> texts = p.podIPs();
        if (texts.isEmpty() && attachedByName.containsKey(key)) {
          texts = attachedByName.get(key).addresses();
        }
        List<PodObject.ContainerPort> ports = new ArrayList<>();
        for (PodObject.Container container : p.containers()) {
          ports.addAll(container.ports());
        }
        Pod pod =
            new Pod(
                p.metadata().namespace(),
                p.metadata().name(),
                p.metadata().labels(),
                ports,
                texts.stream().map(PolicyCompilerPropertyTest::bytes).toList());
        pods.add(pod);
        if (attachedByName.containsKey(key)) {
          attached.put(key, pod);
        }
      }
      for (AttachedPod a : c.attached()) {
        if (!seen.contains(a.name())) {
          String[] parts = a.name().split("/", 2);
          Pod pod =
              new Pod(
                  parts[0],
                  parts[1],
                  Map.of(),
                  List.of(),
                  a.addresses().stream().map(PolicyCompilerPropertyTest::bytes).toList());
          pods.add(pod);
          attached.put(a.name(), pod);
        }
      }
    }

    private Pod podAt(byte[] address) {
      for (Pod p : pods) {
        for (byte[] a : p.addresses()) {
          if (Arrays.equals(a, address)) {
            return p;
          }
        }
      }
      return null;
    }

    private Pod attachedAt(byte[] address) {
      Pod p = podAt(address);
      return p != null && attached.containsValue(p) ? p : null;
    }

    Answer evaluate(Packet packet) {
      byte[] src = bytes(packet.src());
      byte[] dst = bytes(packet.dst());
      Pod source = attachedAt(src);
      Pod destination = attachedAt(dst);
      Side egress =
          source == null
              ? Side.of("not-policed")
              : side(source, NetworkPolicy.EGRESS, dst, packet, podAt(dst));
      Side ingress =
          destination == null
              ? Side.of("not-policed")
              : side(destination, NetworkPolicy.INGRESS, src, packet, destination);
      return new Answer(egress, ingress);
    }

    /**
     * The verdict for {@code pod} in {@code direction}: {@code peer} is the other end's address,
     * {@code portsOf} the pod whose container ports named ports refer to (the destination).
     */
    private Side side(Pod pod, String direction, byte[] peer, Packet packet, Pod portsOf) {
      boolean selected = false;
      boolean isolated = false;
      Set<String> by = new TreeSet<>();
      for (NetworkPolicy np : c.section().networkPolicies()) {
        if (!np.metadata().namespace().equals(pod.namespace())) {
          continue;
        }
        NetworkPolicy.Spec spec = np.spec();
        LabelSelector podSelector = spec == null ? null : spec.podSelector();
        if (podSelector != null && !selects(podSelector, pod.labels())) {
          continue;
        }
        selected = true;
        List<String> types = spec == null ? List.of() : spec.policyTypes();
        if (types.isEmpty()) {
          // API server defaulting: Ingress, plus Egress when there are egress rules.
          types = new ArrayList<>(List.of(NetworkPolicy.INGRESS));
          if (spec != null && !spec.egress().isEmpty()) {
            types.add(NetworkPolicy.EGRESS);
          }
        }
        if (!types.contains(direction)) {
          continue;
        }
        isolated = true;
        if (spec == null) {
          continue;
        }
        boolean ingress = direction.equals(NetworkPolicy.INGRESS);
        int n = ingress ? spec.ingress().size() : spec.egress().size();
        for (int i = 0; i < n; i++) {
          List<NetworkPolicy.Peer> peers;
          List<NetworkPolicy.Port> ports;
          if (ingress) {
            NetworkPolicy.IngressRule rule = spec.ingress().get(i);
            peers = rule == null ? List.of() : rule.from();
            ports = rule == null ? List.of() : rule.ports();
          } else {
            NetworkPolicy.EgressRule rule = spec.egress().get(i);
            peers = rule == null ? List.of() : rule.to();
            ports = rule == null ? List.of() : rule.ports();
          }
          PeerMatch m = peerMatch(np.metadata().namespace(), peers, peer);
          if (m == PeerMatch.NONE) {
            continue;
          }
          // Named ports: ingress, the protected pod's; egress, the destination pod's, when the
          // rule names it (by a selector, or by having no peers), never via an ipBlock alone.
          Pod named = ingress || m == PeerMatch.POD ? portsOf : null;
          if (portMatch(ports, packet, named)) {
            by.add(np.metadata().namespace() + "/" + np.metadata().name() + "#" + i);
          }
        }
      }
      if (!selected) {
        return Side.of("not-policed");
      }
      if (!isolated) {
        return Side.of("open");
      }
      return by.isEmpty() ? Side.of("denied") : new Side("allowed", by);
    }

    private enum PeerMatch {
      NONE,
      BLOCK,
      POD
    }

    private PeerMatch peerMatch(String namespace, List<NetworkPolicy.Peer> peers, byte[] address) {
      if (peers.isEmpty()) {
        return PeerMatch.POD; // every address, pods included
      }
      PeerMatch best = PeerMatch.NONE;
      Pod pod = podAt(address);
      for (NetworkPolicy.Peer peer : peers) {
        if (peer.ipBlock() != null) {
          NetworkPolicy.IpBlock block = peer.ipBlock();
          if (inCidr(address, block.cidr())
              && block.except().stream().noneMatch(e -> inCidr(address, e))
              && best == PeerMatch.NONE) {
            best = PeerMatch.BLOCK;
          }
          continue;
        }
        if (pod == null) {
          continue;
        }
        boolean namespaceMatches =
            peer.namespaceSelector() == null
                ? pod.namespace().equals(namespace)
                : selects(peer.namespaceSelector(), labelsOfNamespace(pod.namespace()));
        boolean podMatches =
            peer.podSelector() == null || selects(peer.podSelector(), pod.labels());
        if (namespaceMatches && podMatches) {
          best = PeerMatch.POD;
        }
      }
      return best;
    }

    private Map<String, String> labelsOfNamespace(String namespace) {
      return namespaceLabels.getOrDefault(namespace, Map.of(NAME_LABEL, namespace));
    }

    private static boolean portMatch(List<NetworkPolicy.Port> ports, Packet packet, Pod named) {
      if (ports.isEmpty()) {
        return true; // every protocol and port, ICMP too
      }
      for (NetworkPolicy.Port port : ports) {
        String protocol = port == null || port.protocol() == null ? "TCP" : port.protocol();
        if (protocolNumber(protocol) != packet.protocol()) {
          continue;
        }
        if (port == null || port.port() == null) {
          return true;
        }
        if (port.port().isNumber()) {
          int first = port.port().number();
          int last = port.endPort() == null ? first : port.endPort();
          if (packet.port() >= first && packet.port() <= last) {
            return true;
          }
          continue;
        }
        if (named == null) {
          continue;
        }
        for (PodObject.ContainerPort cp : named.ports()) {
          String cpProtocol = cp.protocol() == null ? "TCP" : cp.protocol();
          if (port.port().name().equals(cp.name())
              && cpProtocol.equals(protocol)
              && cp.containerPort() == packet.port()) {
            return true;
          }
        }
      }
      return false;
    }

    private static int protocolNumber(String protocol) {
      return switch (protocol) {
        case "TCP" -> TCP;
        case "UDP" -> UDP;
        case "SCTP" -> SCTP;
        default -> throw new IllegalArgumentException(protocol);
      };
    }

    /** A LabelSelector, evaluated here (not with {@link LabelSelector#matches}). */
    private static boolean selects(LabelSelector s, Map<String, String> labels) {
      for (Map.Entry<String, String> e : s.matchLabels().entrySet()) {
        if (!labels.containsKey(e.getKey()) || !labels.get(e.getKey()).equals(e.getValue())) {
          return false;
        }
      }
      for (LabelSelector.Requirement q : s.matchExpressions()) {
        boolean has = labels.containsKey(q.key());
        boolean ok =
            switch (q.operator()) {
              case "In" -> has && q.values().contains(labels.get(q.key()));
              case "NotIn" -> !has || !q.values().contains(labels.get(q.key()));
              case "Exists" -> has;
              case "DoesNotExist" -> !has;
              default -> throw new IllegalArgumentException(q.operator());
            };
        if (!ok) {
          return false;
        }
      }
      return true;
    }
  }

  @Test
  void theReferenceMatchesCidrsByFamilyAndBits() {
    assertTrue(inCidr(bytes("10.1.2.3"), "10.0.0.0/8"));
    assertTrue(inCidr(bytes("10.1.2.3"), "10.1.2.3/32"));
    assertTrue(!inCidr(bytes("11.1.2.3"), "10.0.0.0/8"));
    assertTrue(!inCidr(bytes("10.1.2.3"), "::/0"), "an IPv6 block holds no IPv4 address");
    assertTrue(inCidr(bytes("fd00:1::10"), "fd00:1::/64"));
    assertTrue(inCidr(bytes("10.244.1.7"), "10.244.1.5/24"), "host bits are ignored");
    assertEquals("10.244.0.0/16", network("10.244.1.7", 16));
    assertEquals("fd00:1::/64", network("fd00:1::10", 64));
    assertEquals("::/0", network("fd00:1::10", 0));
  }
}
