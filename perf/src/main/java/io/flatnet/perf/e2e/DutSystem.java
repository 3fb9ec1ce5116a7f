package io.flatnet.perf.e2e;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The devices under test, in the order each round runs them. */
public enum DutSystem {
  TESTPMD_IO("testpmd-io", "dpdk-testpmd io forwarding: no lookup, no rewrite (the ceiling)"),
  L3FWD("l3fwd", "DPDK l3fwd example, LPM lookup, RFC 1812 checks, MAC rewrite (C)"),
  FLATNET("flatnet", "flatnet run: the Java 25 router"),
  FLATNET_POLICY(
      "flatnet-policy",
      "flatnet run with --policy-pods (default 1,024 ingress-isolated pods, one policy each, covering"
          + " every destination) x --policy-rules (default 10); only each pod's last rule allows"),
  FLATNET_CHURN(
      "flatnet-churn",
      "flatnet-policy, a new generation (one pod's policy changed) every --policy-churn-ms"),
  FLATNET_NEWFLOW(
      "flatnet-newflow",
      "flatnet-policy with an 8-slot flow table: every packet misses it, is classified and evicts"
          + " (the new-flow rate)"),
  FLATNET_CUT(
      "flatnet-cut",
      "flatnet-policy; mid-trial the table is replaced by one denying every flow (the cut time)"),
  FLATNET_ROUTECHURN(
      "flatnet-routechurn",
      "flatnet run adding and deleting routes (/28s of 10.200.0.0/16, none covering the traffic)"
          + " at --route-churn-per-second (default 10,000 updates a second) while it forwards"),
  FLATNET_NODE(
      "flatnet-node",
      "flatnet run --config: the node's two processes (dataplane and agent, supervised), the"
          + " routes from a node config, next hops resolved by ARP; the agent idle"),
  FLATNET_AGENTCHURN(
      "flatnet-agentchurn",
      "flatnet-node with its agent kept busy: route add/del through its socket (up to"
          + " --agent-route-changes a second), a pod added and deleted every 100 ms, a show"
          + " routes and a /metrics scrape every second"),
  FLATNET_AGENTRESTART(
      "flatnet-agentrestart",
      "flatnet-node, then one more trial (8 s at half its zero-loss rate) in which its agent is"
          + " killed (SIGKILL) 2 s in; the supervisor starts a new one, which must change nothing"),
  FLATNET_CAPTURE1(
      "flatnet-capture1",
      "flatnet run capturing (ctl capture's rings) the received packets of 10 of the 1,024"
          + " destinations (0.98 %)"),
  FLATNET_CAPTURE10(
      "flatnet-capture10",
      "flatnet run capturing the received packets of 102 of the 1,024 destinations (9.96 %)"),
  FLATNET_CAPTURE100(
      "flatnet-capture100",
      "flatnet run capturing every received packet (a filter matching all 1,024 destinations)");

  private final String label;
  private final String description;

  DutSystem(String label, String description) {
    this.label = label;
    this.description = description;
  }

  public String label() {
    return label;
  }

  public String description() {
    return description;
  }

  /** Whether it is {@code flatnet run} (with or without policies or a capture). */
  public boolean flatnet() {
    return this == FLATNET || this == FLATNET_ROUTECHURN || policy() || capture();
  }

  /**
   * Whether it is a node run from its config ({@code flatnet run --config}: the dataplane and the
   * agent processes), rather than the one-process {@code flatnet run --port}.
   */
  public boolean node() {
    return this == FLATNET_NODE || this == FLATNET_AGENTCHURN || this == FLATNET_AGENTRESTART;
  }

  /** Whether it is {@code flatnet run} with a capture running. */
  public boolean capture() {
    return this == FLATNET_CAPTURE1 || this == FLATNET_CAPTURE10 || this == FLATNET_CAPTURE100;
  }

  /**
   * The capture filter of a capture system: destinations of the generators' 1,024 (10.253.0.0 to
   * 10.253.3.255, spread evenly), so it takes that share of the flows; null for the others.
   */
  public String captureFilter() {
    return switch (this) {
      case FLATNET_CAPTURE1 -> "dst net 10.253.0.0/29 or dst net 10.253.1.0/31";
      case FLATNET_CAPTURE10 ->
          "dst net 10.253.0.0/26 or dst net 10.253.1.0/27 or dst net 10.253.2.0/30"
              + " or dst net 10.253.3.0/31";
      case FLATNET_CAPTURE100 -> "dst net 10.253.0.0/22";
      default -> null;
    };
  }

  /** Whether it is {@code flatnet run} with the synthetic policies. */
  public boolean policy() {
    return this == FLATNET_POLICY
        || this == FLATNET_CHURN
        || this == FLATNET_NEWFLOW
        || this == FLATNET_CUT;
  }

  /** Whether it routes (and so must send each packet out of the routed port). */
  public boolean routes() {
    return this != TESTPMD_IO;
  }

  /** Parses a comma-separated list of labels, keeping the given order. */
  public static List<DutSystem> parseList(String text) {
    List<DutSystem> out = new ArrayList<>();
    for (String part : text.split(",")) {
      String s = part.strip().toLowerCase(Locale.ROOT);
      if (s.isEmpty()) {
        continue;
      }
      DutSystem found = null;
      for (DutSystem d : values()) {
        if (d.label.equals(s)) {
          found = d;
        }
      }
      if (found == null) {
        throw new IllegalArgumentException(
            "unknown system '"
                + part.strip()
                + "' (testpmd-io, l3fwd, flatnet, flatnet-policy, flatnet-churn,"
                + " flatnet-newflow, flatnet-cut, flatnet-routechurn, flatnet-node,"
                + " flatnet-agentchurn, flatnet-agentrestart, flatnet-capture1/10/100)");
      }
      if (!out.contains(found)) {
        out.add(found);
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("no systems in '" + text + "'");
    }
    return List.copyOf(out);
  }
}
