package io.flatnet.agent.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kubernetes' network policy conformance cases ({@code test/e2e/network/netpol/network_policy.go},
 * translated into {@code netpol/cases.yaml}) against real flatnet nodes: the nine pods of
 * upstream's model (x, y, z times a, b, c) are netns pods the real CNI plugin added, each serving
 * TCP and UDP on 80 and 81; every step of a case writes the node configs' {@code policy:} section,
 * SIGHUPs the agents, waits for their answers and probes every client/server pair (72) on each port
 * the step names, all at once. One dynamic test per case; a failure prints the expected and the
 * observed matrix of each probe ({@code .} reachable, {@code X} not, {@code !} wrong). Subclasses
 * place the pods: {@link NetworkPolicyConformanceTest} (one node, every case), {@link
 * NetworkPolicyTwoNodeTest} (two nodes, the cases marked {@code twoNodes}).
 *
 * <p>{@code -Dnetpol.case=WORDS} runs the cases whose name or upstream name contains WORDS; {@code
 * -Dnetpol.timeout=SECONDS} is the probe timeout (1.0); {@code -Dnetpol.strict=true} fails on the
 * first look (no second probe of wrong cells); {@code -Dnetpol.holdSeconds=N} keeps the node up N
 * seconds after the warm-up, to look at it by hand. Needs root (network namespaces); skipped
 * otherwise.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class NetpolConformance {

  static final String CASES = "/netpol/cases.yaml";

  NetpolCluster cluster;

  /** Why the agent refused a {@code policy:} section, or null if it takes one. */
  String policyRefused;

  /** Starts the nodes and adds the pods. */
  abstract NetpolCluster startCluster(Path tmp) throws Exception;

  /** Which cases run here. */
  abstract boolean include(NetpolCase c);

  /** Where the nodes' logs go, under target/. */
  abstract String logName();

  @BeforeAll
  void start(@TempDir Path tmp) throws Exception {
    Assumptions.assumeTrue(
        "0".equals(RouterChild.sh("id", "-u").output().strip()), "needs root (netns, veth)");
    long t0 = System.nanoTime();
    cluster = startCluster(tmp);
    System.out.printf(
        Locale.ROOT,
        "netpol: %d node(s) up, 9 pods added and serving in %d ms: %s%n",
        cluster.nodes.size(),
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0),
        cluster.ipv4());
    for (NetpolCluster.Reload r : cluster.apply(NetpolCase.emptyPolicies(), Map.of(), Map.of())) {
      if (!r.ok() && policyRefused == null) {
        policyRefused = r.answer() + "\n" + r.log();
      }
    }
    if (policyRefused != null) {
      System.out.println(
          "netpol: the agent refuses a policy: section (network policy not merged yet?); only"
              + " the cases without policies run, the others fail:\n"
              + policyRefused);
      for (NetpolCluster.Reload base : cluster.apply(null, Map.of(), Map.of())) {
        assertEquals(true, base.ok(), "the config without a policy section: " + base);
      }
    }
    warmUp();
    // To look at the node by hand (ip netns exec fnq-xa ..., flatnet ctl --dir ...).
    Thread.sleep(TimeUnit.SECONDS.toMillis(Long.getLong("netpol.holdSeconds", 0)));
  }

  /** Every pair reachable on the open network (ARP settled), a few tries with a long timeout. */
  private void warmUp() throws Exception {
    List<String> all = List.of("80/TCP", "81/TCP", "80/UDP", "81/UDP");
    Map<String, NetpolCluster.Seen> seen = Map.of();
    for (int attempt = 0; attempt < 3; attempt++) {
      seen = cluster.probe(all, null, 3.0);
      if (seen.values().stream().allMatch(NetpolCluster.Seen::reachable)) {
        return;
      }
      Thread.sleep(1000);
    }
    StringBuilder sb = new StringBuilder("the open network (no policy) is not fully reachable:\n");
    seen.forEach(
        (k, v) -> {
          if (!v.reachable()) {
            sb.append("  ").append(k).append(": ").append(v.detail()).append('\n');
          }
        });
    StringBuilder logs = new StringBuilder();
    cluster.nodes.forEach(
        n -> logs.append("\nrouter log (").append(n.ns).append("):\n").append(n.logText()));
    fail(sb.toString() + logs);
  }

  @AfterAll
  void stop() throws Exception {
    if (cluster != null) {
      Files.createDirectories(Path.of("target"));
      for (int i = 0; i < cluster.nodes.size(); i++) {
        Files.writeString(
            Path.of("target", logName() + "-node" + i + ".log"), cluster.nodes.get(i).logText());
      }
      cluster.close();
    }
    afterNodes();
  }

  /** After the nodes are gone (and if none started). */
  void afterNodes() {}

  @TestFactory
  Stream<DynamicTest> upstreamCases() throws Exception {
    String only = System.getProperty("netpol.case", "").toLowerCase(Locale.ROOT);
    List<NetpolCase> cases = NetpolCase.load(CASES);
    return cases.stream()
        .filter(this::include)
        .filter(
            c ->
                only.isEmpty()
                    || c.name().toLowerCase(Locale.ROOT).contains(only)
                    || c.upstream().toLowerCase(Locale.ROOT).contains(only))
        .map(c -> DynamicTest.dynamicTest(c.name(), () -> run(c)));
  }

  interface Action {
    void run() throws Exception;
  }

  void run(NetpolCase c) throws Exception {
    run(c, null);
  }

  /** Runs a case; {@code afterApply} (if any) runs after each step's config is applied. */
  void run(NetpolCase c, Action afterApply) throws Exception {
    long t0 = System.nanoTime();
    boolean needsPolicy =
        c.steps().stream()
            .anyMatch(
                s ->
                    !s.policies().isEmpty()
                        || !s.podLabels().isEmpty()
                        || !s.namespaceLabels().isEmpty());
    if (needsPolicy && policyRefused != null) {
      fail(
          "case \""
              + c.name()
              + "\" needs network policy, and the agent refuses the policy: section:\n"
              + policyRefused);
    }
    StringBuilder report = new StringBuilder();
    report.append("=== ").append(c.name());
    if (!c.upstream().isEmpty()) {
      report.append("\n    upstream: \"").append(c.upstream()).append('"');
    }
    if (!c.note().isEmpty()) {
      report.append("\n    note: ").append(c.note());
    }
    report.append('\n');
    List<String> wrong = new ArrayList<>();
    for (int i = 0; i < c.steps().size(); i++) {
      NetpolCase.Step step = c.steps().get(i);
      String stepName = "step " + (i + 1) + (step.what().isEmpty() ? "" : " (" + step.what() + ")");
      long tApply = System.nanoTime();
      for (NetpolCluster.Reload r :
          cluster.apply(
              policyRefused != null ? null : step.policies(),
              step.namespaceLabels(),
              step.podLabels())) {
        if (!r.ok()) {
          fail(
              c.name()
                  + ", "
                  + stepName
                  + ": the agent did not apply the config: "
                  + r.answer()
                  + "\n"
                  + r.log());
        }
      }
      Thread.sleep(Long.getLong("netpol.settleMillis", 200));
      if (afterApply != null) {
        afterApply.run();
      }
      List<String> labels = step.probes().stream().map(NetpolCase.Probe::label).toList();
      long tProbe = System.nanoTime();
      Map<String, NetpolCluster.Seen> seen = cluster.probe(labels, null, cluster.timeoutSeconds);
      long tDone = System.nanoTime();
      // Mismatching pairs get one more look (a late apply, a lost datagram, a starved CPU): a
      // second, longer probe after a second; it decides, unless -Dnetpol.strict=true.
      List<String[]> retry = new ArrayList<>();
      for (NetpolCase.Probe p : step.probes()) {
        for (String from : NetpolCase.PODS) {
          for (String to : NetpolCase.PODS) {
            if (!from.equals(to)
                && seen.get(key(from, to, p)).reachable() != p.expect().get(from, to)) {
              retry.add(new String[] {from, to});
            }
          }
        }
      }
      List<String> late = new ArrayList<>();
      if (!retry.isEmpty() && !Boolean.getBoolean("netpol.strict")) {
        Thread.sleep(1000);
        Map<String, NetpolCluster.Seen> again =
            cluster.probe(labels, retry, Math.max(2.0, cluster.timeoutSeconds * 2));
        for (NetpolCase.Probe p : step.probes()) {
          for (String[] pair : retry) {
            String k = key(pair[0], pair[1], p);
            if (seen.get(k).reachable() != p.expect().get(pair[0], pair[1])
                && again.get(k).reachable() == p.expect().get(pair[0], pair[1])) {
              late.add(
                  k + " (first " + seen.get(k).detail() + ", then " + again.get(k).detail() + ")");
            }
            seen.put(k, again.get(k));
          }
        }
      }
      report
          .append("--- ")
          .append(stepName)
          .append(": ")
          .append(step.policies().size())
          .append(" policies");
      report.append(
          String.format(
              Locale.ROOT,
              " (applied in %d ms, probed in %d ms%s)",
              TimeUnit.NANOSECONDS.toMillis(tProbe - tApply),
              TimeUnit.NANOSECONDS.toMillis(tDone - tProbe),
              retry.isEmpty() ? "" : ", " + retry.size() + " pairs probed again"));
      if (!step.namespaceLabels().isEmpty()) {
        report.append(", namespace labels ").append(step.namespaceLabels());
      }
      if (!step.podLabels().isEmpty()) {
        report.append(", pod labels ").append(step.podLabels());
      }
      report.append('\n');
      for (NetpolCase.Probe p : step.probes()) {
        NetpolCase.Truth observed = new NetpolCase.Truth(false);
        List<String> bad = new ArrayList<>();
        for (String from : NetpolCase.PODS) {
          for (String to : NetpolCase.PODS) {
            if (from.equals(to)) {
              continue;
            }
            NetpolCluster.Seen s = seen.get(key(from, to, p));
            observed.set(from, to, s.reachable());
            if (s.reachable() != p.expect().get(from, to)) {
              bad.add(
                  String.format(
                      Locale.ROOT,
                      "%s -> %s %s: expected %s, observed %s (%s)",
                      from,
                      to,
                      p.label(),
                      p.expect().get(from, to) ? "reachable" : "unreachable",
                      s.reachable() ? "reachable" : "unreachable",
                      s.detail()));
            }
          }
        }
        report.append(p.label()).append(bad.isEmpty() ? ": as expected" : ": WRONG").append('\n');
        if (!bad.isEmpty()) {
          report.append("expected:\n").append(p.expect().render(null));
          report.append("observed:\n").append(observed.render(p.expect()));
          bad.forEach(b -> report.append("  ").append(b).append('\n'));
          bad.forEach(b -> wrong.add(stepName + ": " + b));
        } else {
          report.append(observed.render(null));
        }
      }
      if (!late.isEmpty()) {
        report.append("right only on the second look: ").append(late).append('\n');
      }
    }
    report.append(
        String.format(
            Locale.ROOT, "(%d ms)%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)));
    System.out.print(report);
    if (!wrong.isEmpty()) {
      fail(wrong.size() + " wrong cells in \"" + c.name() + "\"\n" + report);
    }
  }

  /**
   * The harness itself, with no policy at all: drops the kernel makes inside the pods' own network
   * namespaces (iptables: x/a drops TCP 80 and UDP 81 coming in, y/b drops TCP 80 going out) must
   * show up as exactly those unreachable cells, both protocols, and nothing else.
   */
  @Test
  void harnessSeesDropsInsidePods() throws Exception {
    String xa = cluster.pods.get("x/a").netns();
    String yb = cluster.pods.get("y/b").netns();
    List<List<String>> rules =
        List.of(
            List.of(xa, "INPUT", "-p", "tcp", "--dport", "80"),
            List.of(xa, "INPUT", "-p", "udp", "--dport", "81"),
            List.of(yb, "OUTPUT", "-p", "tcp", "--dport", "80"));
    NetpolCase.Truth tcp80 = new NetpolCase.Truth(true);
    tcp80.apply("deny * -> x/a");
    tcp80.apply("deny y/b -> *");
    NetpolCase.Truth udp81 = new NetpolCase.Truth(true);
    udp81.apply("deny * -> x/a");
    NetpolCase selfCheck =
        new NetpolCase(
            "harness self-check: iptables drops inside the pods",
            "",
            "no NetworkPolicy; x/a drops TCP 80 and UDP 81 in, y/b drops TCP 80 out",
            true,
            List.of(
                new NetpolCase.Step(
                    "",
                    NetpolCase.emptyPolicies(),
                    Map.of(),
                    Map.of(),
                    List.of(
                        new NetpolCase.Probe(80, "TCP", tcp80),
                        new NetpolCase.Probe(81, "UDP", udp81),
                        new NetpolCase.Probe(81, "TCP", new NetpolCase.Truth(true)),
                        new NetpolCase.Probe(80, "UDP", new NetpolCase.Truth(true))))));
    try {
      run(
          selfCheck,
          () -> {
            for (List<String> r : rules) {
              List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", r.get(0)));
              cmd.addAll(List.of("iptables", "-I", r.get(1)));
              cmd.addAll(r.subList(2, r.size()));
              cmd.addAll(List.of("-j", "DROP"));
              RouterChild.must(cmd.toArray(String[]::new));
            }
          });
    } finally {
      for (List<String> r : rules) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", r.get(0)));
        cmd.addAll(List.of("iptables", "-D", r.get(1)));
        cmd.addAll(r.subList(2, r.size()));
        cmd.addAll(List.of("-j", "DROP"));
        RouterChild.sh(cmd.toArray(String[]::new));
      }
    }
  }

  static String key(String from, String to, NetpolCase.Probe p) {
    return from + ">" + to + "@" + p.label();
  }
}
