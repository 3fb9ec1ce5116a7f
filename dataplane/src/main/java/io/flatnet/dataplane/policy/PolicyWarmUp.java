package io.flatnet.dataplane.policy;

import io.flatnet.control.PolicySpec;
import io.flatnet.dataplane.DataplaneCounters;
import io.flatnet.dataplane.WorkerCounters;
import io.flatnet.dpdk.NativeMemory;
import java.io.File;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Runs the workers' policy code on synthetic packets before the workers start, in a throwaway
 * {@link PolicyCheck} with counters of its own: new flows, hits, replies, denies, ICMP, IPv6, and
 * above all the re-check of every flow after a new policy generation. The JIT profiles a method
 * once for all its callers, so the workers' loops are then compiled with those branches in them.
 *
 * <p>Why: a branch the worker's compiled loop has never seen taken is compiled as a trap. The first
 * publish under traffic took it, threw the loop back to the interpreter, and every flow's re-check
 * then ran interpreted: bench e2e's {@code flatnet-churn} showed 60 to 140 worker loops of 2 ms or
 * more per 8 s trial (12 publishes), against 6 to 24 without publishes, and lost 0.2 to 0.6 % of
 * its packets in a paced trial.
 */
public final class PolicyWarmUp {
  private PolicyWarmUp() {}

  /** Generations published in a warm-up: each re-checks every flow once. */
  static final int ROUNDS = 400;

  private static final int FLOWS = 64;
  private static final AtomicBoolean DONE = new AtomicBoolean();

  /** Runs the warm-up unless this JVM already has; returns its checks (0 if it had). */
  public static long once() {
    return DONE.compareAndSet(false, true) ? run(ROUNDS) : 0;
  }

  /** {@code rounds} generations of {@link #FLOWS} flows; returns the packets that passed. */
  static long run(int rounds) {
    File file;
    try {
      file = Files.createTempFile("flatnet-policy-warm-up", ".dat").toFile();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("policy warm-up: a counters file", e);
    }
    try (DataplaneCounters counters = DataplaneCounters.create(file);
        Arena arena = Arena.ofConfined()) {
      PolicyCheck check =
          new PolicyCheck(1024, new WorkerCounters(counters, 0, new int[0], new String[0]));
      long packet = arena.allocate(128, 64).address();
      long now = 1_000_000_000_000L;
      long passed = 0;
      for (int round = 0; round < rounds; round++) {
        check.begin(PolicyTable.compile(round + 1, specs(round), null), now);
        for (int f = 0; f < FLOWS; f++) {
          int client = 0x0AFE_0000 | f; // 10.254.0.f
          int pod = 0x0AFF_0000 | (f & 15) + 1; // 10.255.0.1..16
          passed += udp4(check, packet, client, pod, 40000 + f, 1001) == PolicyCheck.PASS ? 1 : 0;
          passed += udp4(check, packet, pod, client, 1001, 40000 + f) == PolicyCheck.PASS ? 1 : 0;
          passed += tcp4(check, packet, client, pod, 30000 + f, 80, f == 0 ? 0x02 : 0x10);
          passed += tcp4(check, packet, pod, client, 80, 30000 + f, 0x10);
          passed += udp4(check, packet, client, pod, 40000 + f, 9) == PolicyCheck.PASS ? 1 : 0;
          passed += icmp4(check, packet, client, pod, f % 2 == 0 ? 8 : 0, f);
          passed += udp6(check, packet, f, 1001);
        }
        if (round % 16 == 0) {
          check.publishCounters();
        }
        now += 1_000_000; // 1 ms a round: nothing expires, the pick-up window passes
      }
      return passed;
    } finally {
      file.delete();
      new File(file.getPath() + ".lock").delete();
    }
  }

  /**
   * 16 pods, ingress-isolated (UDP 1001 from 10.254.0.0/16, TCP 80 from anywhere), egress-isolated
   * every other round (everything allowed out): echo requests to them are denied, and echo replies
   * without a request are picked up (the window is open throughout).
   */
  private static List<PolicySpec> specs(int round) {
    List<PolicySpec> specs = new ArrayList<>();
    for (int p = 1; p <= 16; p++) {
      specs.add(
          new PolicySpec(
              "warm-up/pod-" + p,
              List.of("10.255.0." + p, "fd00:255::" + Integer.toHexString(p)),
              true,
              round % 2 == 0,
              List.of(
                  rule(round, 0, List.of("10.254.0.0/16", "fd00:254::/64"), "UDP", 1001),
                  rule(round, 1, List.of(), "TCP", 80)),
              List.of(new PolicySpec.Rule("warm-up/out", 0, true, List.of(), true, List.of()))));
    }
    return specs;
  }

  private static PolicySpec.Rule rule(
      int round, int index, List<String> peers, String protocol, int port) {
    return new PolicySpec.Rule(
        "warm-up/pol-" + round % 4,
        index,
        peers.isEmpty(),
        peers.stream().map(c -> new PolicySpec.Peer(c, List.of())).toList(),
        false,
        List.of(new PolicySpec.PortRange(protocol, port, port)));
  }

  private static void ipv4(long ip, int protocol, int source, int destination, int l4Length) {
    NativeMemory.putU8(ip, 0x45);
    NativeMemory.putU16Be(ip + 2, 20 + l4Length);
    NativeMemory.putU16Be(ip + 6, 0);
    NativeMemory.putU8(ip + 9, protocol);
    NativeMemory.putIntBe(ip + 12, source);
    NativeMemory.putIntBe(ip + 16, destination);
  }

  private static int udp4(
      PolicyCheck check, long ip, int source, int destination, int sport, int dport) {
    ipv4(ip, 17, source, destination, 8);
    NativeMemory.putU16Be(ip + 20, sport);
    NativeMemory.putU16Be(ip + 22, dport);
    return check.check4(ip, 28, false);
  }

  private static int tcp4(
      PolicyCheck check, long ip, int source, int destination, int sport, int dport, int flags) {
    ipv4(ip, 6, source, destination, 20);
    NativeMemory.putU16Be(ip + 20, sport);
    NativeMemory.putU16Be(ip + 22, dport);
    NativeMemory.putU8(ip + 33, flags);
    return check.check4(ip, 40, false) == PolicyCheck.PASS ? 1 : 0;
  }

  private static int icmp4(
      PolicyCheck check, long ip, int source, int destination, int type, int id) {
    ipv4(ip, 1, source, destination, 8);
    NativeMemory.putU8(ip + 20, type);
    NativeMemory.putU16Be(ip + 24, id);
    return check.check4(ip, 28, false) == PolicyCheck.PASS ? 1 : 0;
  }

  private static int udp6(PolicyCheck check, long ip, int flow, int dport) {
    NativeMemory.putU8(ip, 0x60);
    NativeMemory.putU16Be(ip + 4, 8);
    NativeMemory.putU8(ip + 6, 17);
    NativeMemory.putLongBe(ip + 8, 0xFD00_0254_0000_0000L);
    NativeMemory.putLongBe(ip + 16, flow + 1);
    NativeMemory.putLongBe(ip + 24, 0xFD00_0255_0000_0000L);
    NativeMemory.putLongBe(ip + 32, (flow & 15) + 1);
    NativeMemory.putU16Be(ip + 40, 50000 + flow);
    NativeMemory.putU16Be(ip + 42, dport);
    return check.check6(ip, 48, false) == PolicyCheck.PASS ? 1 : 0;
  }
}
