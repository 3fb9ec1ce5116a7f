package io.flatnet.agent.ctl;

import com.fasterxml.jackson.databind.JsonNode;
import io.flatnet.control.CaptureFile;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code ctl trace --live}: prints the path of each marked packet, one line per stage, when the
 * packet leaves (sent, dropped, consumed); packets still held when the session ends are printed as
 * they are.
 */
final class LiveTrace implements LiveCapture.Sink {
  private final PrintWriter out;
  private final long count;
  private Map<Integer, String> names;
  private List<String> reasons;
  private final Map<Integer, List<CaptureFile.Record>> open = new LinkedHashMap<>();
  long finished;
  long ringFull;

  LiveTrace(PrintWriter out, long count) {
    this.out = out;
    this.count = count;
  }

  @Override
  public void start(JsonNode answer) {
    names = LiveCapture.ports(answer);
    reasons = LiveCapture.dropReasons(answer);
    out.println(
        "tracing the next "
            + (count == 0 ? "" : count + " ")
            + "packets matching '"
            + answer.path("filter").asText()
            + "' (session "
            + answer.path("session").asLong()
            + ")");
    out.flush();
  }

  @Override
  public boolean accept(CaptureFile.Record r, CaptureFile.Mapped file) {
    if (!r.isTrace()) {
      return false;
    }
    List<CaptureFile.Record> path =
        open.computeIfAbsent(r.worker() << 24 ^ r.traceId(), k -> new ArrayList<>());
    path.add(r);
    if (r.kind() == CaptureFile.STAGE_TX
        || r.kind() == CaptureFile.STAGE_DROP
        || r.kind() == CaptureFile.STAGE_CONSUMED) {
      open.remove(r.worker() << 24 ^ r.traceId());
      print(path, true);
      finished++;
    }
    return count > 0 && finished >= count;
  }

  @Override
  public void finish(long full) {
    for (List<CaptureFile.Record> path : open.values()) {
      print(path, false);
    }
    ringFull = full;
    out.println(
        finished
            + " packets traced, "
            + open.size()
            + " still held, "
            + full
            + " records lost (ring full)");
    out.flush();
  }

  private void print(List<CaptureFile.Record> path, boolean complete) {
    CaptureFile.Record first = path.get(0);
    out.println(
        "packet "
            + first.traceId()
            + " (worker "
            + first.worker()
            + "): "
            + (first.kind() == CaptureFile.STAGE_RX
                ? LiveCapture.describe(first.data(), first.length())
                : "?"));
    for (CaptureFile.Record r : path) {
      out.printf(
          "  %+9d ns  %-9s  %s%n",
          r.time() - first.time(), CaptureFile.stageName(r.kind()), detail(r));
    }
    if (!complete) {
      out.println("  (still held when the trace ended)");
    }
    out.flush();
  }

  private String port(int id) {
    return id == CaptureFile.NO_PORT ? "-" : names.getOrDefault(id, "#" + id);
  }

  String detail(CaptureFile.Record r) {
    return switch (r.kind()) {
      case CaptureFile.STAGE_RX -> "port " + port(r.port());
      case CaptureFile.STAGE_PARSED ->
          r.a() == 4 ? "ipv4" : r.a() == 6 ? "ipv6" : "family " + r.a();
      case CaptureFile.STAGE_LOOKUP ->
          (r.b() >>> 8) != 0
              ? member(r)
              : "next hop "
                  + r.a()
                  + " ("
                  + kind((int) r.b())
                  + ")"
                  + (r.port() == CaptureFile.NO_PORT ? "" : " via port " + port(r.port()));
      case CaptureFile.STAGE_NEIGHBOR ->
          r.a() == 1
              ? "resolved " + LiveCapture.mac(r.b())
              : "hold: waiting for the neighbour (ARP/NDP) on " + port(r.port());
      case CaptureFile.STAGE_POLICY ->
          (r.a() == 0 ? "pass" : r.a() == 1 ? "deny egress" : "deny ingress") + ": " + r.text();
      case CaptureFile.STAGE_REWRITE ->
          "dst "
              + LiveCapture.mac(r.a())
              + " src "
              + LiveCapture.mac(r.b())
              + ", ttl-1, out "
              + port(r.port());
      case CaptureFile.STAGE_LOCAL -> "for the router: answered on " + port(r.port());
      case CaptureFile.STAGE_TX -> "port " + port(r.port());
      case CaptureFile.STAGE_DROP -> LiveCapture.reason(reasons, r.reason());
      case CaptureFile.STAGE_CONSUMED -> "taken by the router (ARP/NDP)";
      default -> "";
    };
  }

  /** An ECMP pick: {@code b} is the member's kind | group next hop << 8 | bucket << 40. */
  private String member(CaptureFile.Record r) {
    return "ecmp: group "
        + ((r.b() >>> 8) & 0xFFFF_FFFFL)
        + " bucket "
        + (r.b() >>> 40)
        + " -> next hop "
        + r.a()
        + " ("
        + kind((int) (r.b() & 0xFF))
        + ")"
        + (r.port() == CaptureFile.NO_PORT ? "" : " via port " + port(r.port()));
  }

  /** NextHops.KIND_* names. */
  static String kind(int kind) {
    return switch (kind) {
      case 1 -> "forward";
      case 2 -> "resolve";
      case 3 -> "local";
      case 4 -> "drop";
      case 5 -> "ecmp group";
      default -> "no-route";
    };
  }
}
