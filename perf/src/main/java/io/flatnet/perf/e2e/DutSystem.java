package io.flatnet.perf.e2e;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The devices under test, in the order each round runs them. */
public enum DutSystem {
  TESTPMD_IO("testpmd-io", "dpdk-testpmd io forwarding: no lookup, no rewrite (the ceiling)"),
  L3FWD("l3fwd", "DPDK l3fwd example, LPM lookup, RFC 1812 checks, MAC rewrite (C)"),
  FLATNET("flatnet", "flatnet run: the Java 25 router");

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
            "unknown system '" + part.strip() + "' (testpmd-io, l3fwd, flatnet)");
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
