package io.flatnet.dataplane.policy;

import static io.flatnet.dataplane.PolicyPackets.ACK;
import static io.flatnet.dataplane.PolicyPackets.FIN;
import static io.flatnet.dataplane.PolicyPackets.SYN;
import static io.flatnet.dataplane.PolicyPackets.rule;
import static io.flatnet.dataplane.TestPackets.ip;
import static io.flatnet.dataplane.policy.PolicyCheck.DENY_EGRESS;
import static io.flatnet.dataplane.policy.PolicyCheck.DENY_INGRESS;
import static io.flatnet.dataplane.policy.PolicyCheck.PASS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.control.PolicySpec;
import io.flatnet.dataplane.DataplaneCounters;
import io.flatnet.dataplane.PolicyPackets;
import io.flatnet.dataplane.WorkerCounters;
import io.flatnet.dataplane.WorkerEvent;
import io.flatnet.dpdk.NativeMemory;
import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker's policy check on packets in native memory (no DPDK): flows both ways, cached denies
 * with their direction, generations, ICMP errors, fragments, timeouts and a second worker.
 */
class PolicyCheckTest {
  private static final int A = ip(10, 244, 0, 1); // the client
  private static final int B = ip(10, 244, 0, 2); // the server: ingress isolated, TCP 80 from A
  private static final int C = ip(10, 244, 0, 3); // not policed
  private static final long S = 1_000_000_000L;

  @TempDir File dir;
  private Arena arena;
  private MemorySegment buffer;
  private DataplaneCounters file;
  private WorkerCounters counters;
  private PolicyCheck check;
  private long now = 1_000 * S;

  @BeforeEach
  void setUp() {
    arena = Arena.ofConfined();
    buffer = arena.allocate(2048, 64);
    file = DataplaneCounters.create(new File(dir, "counters.dat"));
    counters = new WorkerCounters(file, 0, new int[0], new String[0]);
    check = new PolicyCheck(1024, counters);
    // This worker has enforced policy for longer than the pick-up window (see the pick-up test).
    check.begin(PolicyTable.compile(0, List.of(server()), null), now - PolicyCheck.PICKUP_WINDOW);
  }

  @AfterEach
  void tearDown() {
    file.close();
    arena.close();
  }

  private static PolicySpec server() {
    return PolicyPackets.ingressOnly(
        "ns/b", "10.244.0.2", rule("ns/web", 0, List.of("10.244.0.1/32"), List.of(80)));
  }

  /** B also isolated for egress with no rule: it may start nothing. */
  private static PolicySpec silentServer() {
    return PolicyPackets.both(
        "ns/b",
        "10.244.0.2",
        List.of(rule("ns/web", 0, List.of("10.244.0.1/32"), List.of(80))),
        List.of());
  }

  private PolicyTable publish(long generation, PolicySpec... specs) {
    PolicyTable t = PolicyTable.compile(generation, List.of(specs), null);
    check.begin(t, now);
    return t;
  }

  private int send(PolicyCheck on, byte[] frame, boolean fromHost) {
    on.begin(tableOf(on), now);
    long address = buffer.address();
    NativeMemory.copy(frame, address);
    int ipLength = frame.length - 14;
    boolean v6 = (frame[12] & 0xFF) == 0x86;
    return v6
        ? on.check6(address + 14, ipLength, fromHost)
        : on.check4(address + 14, ipLength, fromHost);
  }

  private PolicyTable current = PolicyTable.EMPTY;

  private PolicyTable tableOf(PolicyCheck on) {
    return current;
  }

  private int send(byte[] frame) {
    return send(check, frame, false);
  }

  private void use(PolicyTable t) {
    current = t;
  }

  @Test
  void anAllowedFlowPassesBothWaysAndItsReplyEvenIfTheReplierMayStartNothing() {
    use(publish(1, silentServer()));
    assertEquals(PASS, send(PolicyPackets.tcp(A, B, 40000, 80, SYN)));
    assertEquals(PASS, send(PolicyPackets.tcp(B, A, 80, 40000, SYN | ACK)), "the reply");
    assertEquals(PASS, send(PolicyPackets.tcp(A, B, 40000, 80, ACK)));
    assertEquals(DENY_EGRESS, send(PolicyPackets.tcp(B, A, 80, 40001, SYN)), "B starts nothing");
    assertEquals(DENY_INGRESS, send(PolicyPackets.tcp(A, B, 40000, 81, SYN)), "port 81");
    assertEquals(DENY_INGRESS, send(PolicyPackets.tcp(C, B, 40000, 80, SYN)), "from C");
    assertEquals(PASS, send(PolicyPackets.tcp(A, C, 40000, 81, SYN)), "to a pod without policy");
  }

  /** A packet of the loop begun last (no {@code begin}: the last-flow memo stays). */
  private int sendInLoop(byte[] frame) {
    long address = buffer.address();
    NativeMemory.copy(frame, address);
    return check.check4(address + 14, frame.length - 14, false);
  }

  /**
   * A pinged B and connected to B:80 before any policy was enforced here, so neither flow has an
   * entry; then A's first policy lands (ingress: nothing; egress: only to B). For a while, B's
   * replies are picked up as replies of A's flows; a reply whose opposite direction is denied, a
   * UDP datagram (which has no reply shape) and, after the window, any reply are not.
   */
  @Test
  void repliesOfFlowsBegunBeforeEnforcementArePickedUpForAWhile() {
    PolicyCheck fresh = new PolicyCheck(1024, counters);
    assertFalse(fresh.active, "with no policy the worker skips the check: A's ping has no entry");
    use(
        PolicyTable.compile(
            1,
            List.of(
                PolicyPackets.both(
                    "ns/a",
                    "10.244.0.1",
                    List.of(),
                    List.of(rule("ns/a-out", 0, List.of("10.244.0.2/32"), List.of())))),
            null));
    assertEquals(PASS, send(fresh, PolicyPackets.echo(B, A, 0, 0x51), false), "B's echo reply");
    counters.publishAll();
    assertEquals(1, counters.events(WorkerEvent.FLOW_PICKED_UP));
    assertEquals(PASS, send(fresh, PolicyPackets.echo(A, B, 8, 0x51), false), "now tracked");
    assertEquals(PASS, send(fresh, PolicyPackets.echo(B, A, 0, 0x51), false));
    assertEquals(PASS, send(fresh, PolicyPackets.tcp(B, A, 80, 40000, ACK), false), "TCP too");
    counters.publishAll();
    assertEquals(2, counters.events(WorkerEvent.FLOW_PICKED_UP));
    assertEquals(
        DENY_INGRESS,
        send(fresh, PolicyPackets.tcp(B, A, 80, 40001, SYN), false),
        "a SYN is no reply");
    assertEquals(
        DENY_INGRESS,
        send(fresh, PolicyPackets.udp(B, A, 53, 40000), false),
        "UDP has no reply shape");
    assertEquals(
        DENY_INGRESS,
        send(fresh, PolicyPackets.echo(C, A, 0, 0x52), false),
        "A may not reach C: no flow of A's to reply to");
    now += PolicyCheck.PICKUP_WINDOW;
    assertEquals(
        DENY_INGRESS,
        send(fresh, PolicyPackets.echo(B, A, 0, 0x53), false),
        "after the window, a reply without a flow is a flow of its own");
    assertEquals(PASS, send(fresh, PolicyPackets.echo(B, A, 0, 0x51), false), "the picked-up one");
    counters.publishAll();
    assertEquals(2, counters.events(WorkerEvent.FLOW_PICKED_UP));
  }

  @Test
  void packetsOfOneLoopTakeTheLastFlowOnlyWhenItIsTheirs() {
    use(publish(1, server()));
    check.begin(current, now);
    assertEquals(PASS, sendInLoop(PolicyPackets.tcp(A, B, 40000, 80, SYN)));
    assertEquals(PASS, sendInLoop(PolicyPackets.tcp(A, B, 40000, 80, ACK)), "the last flow");
    assertEquals(DENY_INGRESS, sendInLoop(PolicyPackets.tcp(A, B, 40000, 81, ACK)), "port 81");
    assertEquals(PASS, sendInLoop(PolicyPackets.tcp(B, A, 80, 40000, ACK)), "the reply");
    assertEquals(PASS, sendInLoop(PolicyPackets.tcp(B, A, 80, 40000, ACK)), "the reply again");
    assertEquals(DENY_INGRESS, sendInLoop(PolicyPackets.tcp(C, B, 40000, 80, ACK)), "from C");
    assertEquals(PASS, sendInLoop(PolicyPackets.tcp(A, B, 40000, 80, ACK)));
  }

  @Test
  void aHitMovesTheExpiryOnlyWhenItGainsASecondOrMore() {
    use(publish(1, server()));
    long start = now;
    assertEquals(PASS, send(PolicyPackets.tcp(A, B, 40000, 80, SYN)));
    assertEquals(PASS, send(PolicyPackets.tcp(B, A, 80, 40000, SYN | ACK)));
    now = start + S / 2;
    assertEquals(PASS, send(PolicyPackets.tcp(A, B, 40000, 80, ACK)), "half a second: no store");
    now = start + PolicyCheck.TCP_TIMEOUT + S / 4;
    check.classified = false;
    assertEquals(PASS, send(PolicyPackets.tcp(A, B, 40000, 80, ACK)));
    assertTrue(check.classified, "expired 300 s after the reply: classified again");
    start = now;
    now = start + 2 * S;
    assertEquals(PASS, send(PolicyPackets.tcp(A, B, 40000, 80, ACK)), "two seconds: stored");
    now = start + PolicyCheck.TCP_UNREPLIED_TIMEOUT + S; // unreplied: past 30 s, before 32 s
    check.classified = false;
    assertEquals(PASS, send(PolicyPackets.tcp(A, B, 40000, 80, ACK)));
    assertTrue(!check.classified, "a hit");
  }

  @Test
  void aCachedDenyKeepsItsDirection() {
    // B may reach A:5000 (A unpoliced), but A may not reach B:5000 (B allows only 80).
    use(publish(1, server()));
    assertEquals(DENY_INGRESS, send(PolicyPackets.udp(A, B, 5000, 5000)));
    assertEquals(DENY_INGRESS, send(PolicyPackets.udp(A, B, 5000, 5000)), "from the cache");
    assertEquals(PASS, send(PolicyPackets.udp(B, A, 5000, 5000)), "the other way is its own flow");
    assertEquals(PASS, send(PolicyPackets.udp(A, B, 5000, 5000)), "now a reply of B's flow");
    check.publishCounters();
  }

  @Test
  void aPolicyChangeCutsTheFlowsItNoLongerAllowsAndKeepsTheOthers() {
    use(publish(1, server()));
    assertEquals(PASS, send(PolicyPackets.tcp(A, B, 40000, 80, SYN)));
    assertEquals(PASS, send(PolicyPackets.tcp(C, A, 40000, 22, SYN)), "A is not policed yet");
    // Generation 2: B allows 80 from A and C; A is isolated for ingress with nothing allowed.
    use(
        publish(
            2,
            PolicyPackets.ingressOnly(
                "ns/b",
                "10.244.0.2",
                rule("ns/web", 0, List.of("10.244.0.1/32", "10.244.0.3/32"), List.of(80))),
            PolicyPackets.ingressOnly("ns/a", "10.244.0.1")));
    assertEquals(PASS, send(PolicyPackets.tcp(B, A, 80, 40000, ACK)), "still allowed: kept");
    assertEquals(DENY_INGRESS, send(PolicyPackets.tcp(A, C, 22, 40000, ACK)), "C->A:22 cut");
    assertEquals(DENY_INGRESS, send(PolicyPackets.tcp(C, A, 40000, 22, ACK)));
    assertEquals(DENY_INGRESS, send(PolicyPackets.tcp(C, A, 40000, 22, SYN)), "a SYN: still no");
    // A itself may still start a connection from port 22 to C once the cut flow's SYN comes.
    assertEquals(PASS, send(PolicyPackets.tcp(A, C, 22, 40000, SYN)));
    // Generation 3: nothing allowed to B.
    use(publish(3, PolicyPackets.ingressOnly("ns/b", "10.244.0.2")));
    assertEquals(DENY_INGRESS, send(PolicyPackets.tcp(A, B, 40000, 80, ACK)), "cut");
  }

  @Test
  void icmpErrorsOfAnAllowedFlowPassAndEchoIsKeyedOnItsId() {
    use(publish(1, silentServer()));
    byte[] request = PolicyPackets.udp(A, B, 7000, 80);
    assertEquals(DENY_INGRESS, send(request), "UDP 80 is not allowed (TCP only)");
    byte[] tcp = PolicyPackets.tcp(A, B, 7000, 80, SYN);
    assertEquals(PASS, send(tcp));
    assertEquals(PASS, send(PolicyPackets.icmpError(B, A, tcp)), "an error about the flow");
    assertEquals(
        DENY_EGRESS,
        send(PolicyPackets.icmpError(B, A, PolicyPackets.tcp(A, B, 7001, 80, SYN))),
        "an error about no flow: plain ICMP from B, which may start nothing");
    // Echo: B's ingress allows only TCP 80, so a ping to B is denied; A pings C and C answers.
    assertEquals(DENY_INGRESS, send(PolicyPackets.echo(A, B, 8, 0x42)));
    use(
        publish(
            2,
            PolicyPackets.ingressOnly(
                "ns/c", "10.244.0.3", rule("ns/any", 0, List.of(), List.of()))));
    assertEquals(PASS, send(PolicyPackets.echo(C, A, 8, 0x43)));
    // Generation 3: A isolated for egress only: C's ping flow stays allowed, A starts nothing.
    use(
        publish(
            3, new PolicySpec("ns/a", List.of("10.244.0.1"), false, true, List.of(), List.of())));
    assertEquals(PASS, send(PolicyPackets.echo(A, C, 0, 0x43)), "A's reply to C's ping");
    assertEquals(DENY_EGRESS, send(PolicyPackets.echo(A, C, 0, 0x44)), "another id");
  }

  @Test
  void fragmentsMatchOnlyRulesWithoutPorts() {
    use(publish(1, server()));
    assertEquals(DENY_INGRESS, send(PolicyPackets.fragment(A, B)));
    use(
        publish(
            2,
            PolicyPackets.ingressOnly(
                "ns/b",
                "10.244.0.2",
                rule("ns/all-from-a", 0, List.of("10.244.0.1/32"), List.of()))));
    assertEquals(PASS, send(PolicyPackets.fragment(A, B)));
  }

  @Test
  void ipv6FlowsAndTheHostPortExemption() {
    long[] a6 = {0xFD00_0000_0000_0000L, 1};
    long[] b6 = {0xFD00_0000_0000_0000L, 2};
    use(
        publish(
            1,
            PolicyPackets.ingressOnly(
                "ns/b", "fd00::2", rule("ns/web6", 0, List.of("fd00::1/128"), List.of(443)))));
    assertEquals(PASS, send(PolicyPackets.tcp6(a6, b6, 40000, 443, SYN)));
    assertEquals(PASS, send(PolicyPackets.tcp6(b6, a6, 443, 40000, SYN | ACK)));
    long[] other = {0xFD00_0000_0000_0000L, 3};
    assertEquals(DENY_INGRESS, send(PolicyPackets.tcp6(other, b6, 40000, 443, SYN)));
    assertEquals(PASS, send(check, PolicyPackets.tcp6(other, b6, 40001, 8080, SYN), true), "host");
  }

  @Test
  void flowsExpireByProtocolAndFinShortensTcp() {
    use(publish(1, silentServer()));
    assertEquals(PASS, send(PolicyPackets.tcp(A, B, 40000, 80, SYN)));
    assertEquals(PASS, send(PolicyPackets.tcp(B, A, 80, 40000, SYN | ACK)));
    now += 200 * S;
    assertEquals(PASS, send(PolicyPackets.tcp(B, A, 80, 40000, ACK)), "established: 300 s");
    assertEquals(PASS, send(PolicyPackets.tcp(A, B, 40000, 80, FIN | ACK)));
    now += PolicyCheck.TCP_FIN_TIMEOUT + S;
    assertEquals(DENY_EGRESS, send(PolicyPackets.tcp(B, A, 80, 40000, ACK)), "closed and gone");
  }

  @Test
  void aReplyOnAnotherWorkerFindsTheFlowInTheFirstWorkersTable() {
    PolicyCheck second = new PolicyCheck(1024, counters);
    FlowTable[] all = {check.flows(), second.flows()};
    check.peers(all, 0);
    second.peers(all, 1);
    use(publish(1, silentServer()));
    assertEquals(PASS, send(check, PolicyPackets.tcp(A, B, 40000, 80, SYN), false));
    assertEquals(PASS, send(second, PolicyPackets.tcp(B, A, 80, 40000, SYN | ACK), false));
    assertEquals(1, second.flows().live(now), "copied into the second worker's table");
    assertEquals(
        DENY_EGRESS, send(second, PolicyPackets.tcp(B, A, 80, 40002, SYN), false), "no flow");
  }

  @Test
  void aFullTableEvictsAndCountsIt() {
    PolicyCheck small = new PolicyCheck(FlowTable.WINDOW, counters);
    use(publish(1, server()));
    for (int port = 1; port <= FlowTable.WINDOW + 3; port++) {
      assertEquals(PASS, send(small, PolicyPackets.tcp(A, B, port, 80, SYN), false));
    }
    assertEquals(FlowTable.WINDOW, small.flows().live(now));
    counters.publishAll();
    assertEquals(3, counters.events(WorkerEvent.FLOW_EVICTED));
  }

  @Test
  void policyCountersCountFlowsPerPolicyAndDeniesPerPod() {
    PolicyCounters registry = new PolicyCounters(file);
    PolicyTable t = PolicyTable.compile(1, List.of(silentServer()), registry);
    use(t);
    send(PolicyPackets.tcp(A, B, 40000, 80, SYN));
    send(PolicyPackets.tcp(A, B, 40000, 80, ACK));
    send(PolicyPackets.tcp(A, B, 40001, 80, SYN));
    send(PolicyPackets.tcp(C, B, 40000, 80, SYN));
    send(PolicyPackets.tcp(C, B, 40000, 80, SYN));
    send(PolicyPackets.tcp(B, C, 40000, 80, SYN));
    check.publishCounters();
    assertEquals(2, t.flowsAllowed(0), "two flows by ns/web");
    assertEquals(2, t.deniedIngress(0), "packets to ns/b denied");
    assertEquals(1, t.deniedEgress(0));
    assertEquals(2, file.sum("policy ns/web flows-allowed"));
    assertEquals(2, file.sum("pod ns/b policy-denied-ingress"));
    registry.retainOnly(List.of());
    assertFalse(labels().contains("policy ns/web flows-allowed"), "freed with no table");
    assertFalse(labels().contains("pod ns/b policy-denied-ingress"));
  }

  /**
   * A publish keeps the counters its table still names, frees the others, and shares each unchanged
   * pod's compiled form (and so its counters) with the table before.
   */
  @Test
  void aPublishFreesOnlyTheCountersOfPodsAndPoliciesItNoLongerNames() {
    PolicyCounters registry = new PolicyCounters(file);
    PolicySpec a =
        PolicyPackets.ingressOnly(
            "ns/a",
            "10.244.0.1",
            rule("ns/web", 0, List.of("10.244.0.3/32"), List.of(80)),
            rule("ns/db", 0, List.of("10.244.0.3/32"), List.of(5432)));
    PolicySpec b =
        PolicyPackets.ingressOnly("ns/b", "10.244.0.2", rule("ns/db", 0, List.of(), List.of()));
    PolicySpec c =
        PolicyPackets.ingressOnly("ns/c", "10.244.0.4", rule("ns/web", 0, List.of(), List.of()));
    PolicyTable first = PolicyTable.compile(1, List.of(a, b, c), registry);
    PolicySpec aWebOnly =
        PolicyPackets.ingressOnly(
            "ns/a", "10.244.0.1", rule("ns/web", 0, List.of("10.244.0.3/32"), List.of(80)));
    PolicyTable second = PolicyTable.compile(2, List.of(c, aWebOnly), registry, first);
    registry.retire(first, second);
    assertEquals(1, second.reusedPods(), "ns/c is shared, moved to another index");
    java.util.Set<String> labels = labels();
    assertTrue(labels.contains("policy ns/web flows-allowed"), labels.toString());
    assertFalse(labels.contains("policy ns/db flows-allowed"), "no pod names ns/db any more");
    assertTrue(labels.contains("pod ns/a policy-denied-ingress"));
    assertTrue(labels.contains("pod ns/c policy-denied-ingress"));
    assertFalse(labels.contains("pod ns/b policy-denied-ingress"), "ns/b has no policy any more");
    assertFalse(labels.contains("pod ns/b policy-denied-egress"));
    // The shared pod still counts where it did: its deny counter is the one registered first.
    use(second);
    send(PolicyPackets.tcp(B, ip(10, 244, 0, 4), 40000, 80, SYN));
    check.publishCounters();
    assertEquals(1, file.sum("policy ns/web flows-allowed"), "ns/c's rule allowed it");
    assertEquals(1, second.flowsAllowed(0));
  }

  private java.util.Set<String> labels() {
    java.util.Set<String> labels = new java.util.HashSet<>();
    file.reader().forEach((id, type, key, label) -> labels.add(label));
    return labels;
  }
}
