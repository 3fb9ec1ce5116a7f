package io.flatnet.agent.ctl;

import com.fasterxml.jackson.databind.JsonNode;
import io.flatnet.agent.api.AgentClient;
import io.flatnet.agent.api.AgentProtocol;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ./flatnet ctl}: asks a running router's agent (over {@code <dir>/agent.sock}) what the
 * router holds, changes its runtime routes, traces a forwarding decision; {@code ctl counters}
 * reads the shared-memory counters. Tables by default, {@code --json} for machines.
 *
 * <p>Exit codes: 0 ok; 1 the agent refused (the reason on stderr); 2 usage; 3 the agent cannot be
 * reached.
 */
@Command(
    name = "flatnet ctl",
    mixinStandardHelpOptions = true,
    subcommands = {
      CtlMain.Show.class,
      CtlMain.Route.class,
      CtlMain.Trace.class,
      CountersCommand.class,
      CaptureCommand.class,
      BgpCommand.class
    },
    description = "Inspect and steer a running flatnet router.")
public final class CtlMain implements Callable<Integer> {

  /** Where {@code ./flatnet run} keeps its run files unless told otherwise. */
  public static final String DEFAULT_RUN_DIR = "/run/flatnet";

  static final int REFUSED = 1;
  static final int USAGE = 2;
  static final int UNAVAILABLE = 3;

  @Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /** The command line, for tests (set its out/err). */
  public static CommandLine commandLine() {
    return new CommandLine(new CtlMain());
  }

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getErr());
    return USAGE;
  }

  /** The options every agent command shares. */
  static final class Common {
    @Option(
        names = "--dir",
        description =
            "The router's run directory, holding agent.sock (default " + DEFAULT_RUN_DIR + ").")
    Path dir = Path.of(DEFAULT_RUN_DIR);

    @Option(names = "--json", description = "Print the agent's answer as JSON.")
    boolean json;

    @Spec(Spec.Target.MIXEE)
    CommandLine.Model.CommandSpec mixee;

    /** Sends the request; prints the failure and returns its exit code, or null on success. */
    Object call(AgentProtocol.Request request) {
      PrintWriter err = mixee.commandLine().getErr();
      Path socket = dir.resolve("agent.sock");
      AgentProtocol.Response r;
      try {
        r = new AgentClient(socket, Duration.ofSeconds(10)).call(request);
      } catch (AgentClient.UnavailableException e) {
        err.println("flatnet ctl: " + e.getMessage());
        err.flush();
        return UNAVAILABLE;
      } catch (IOException e) {
        err.println("flatnet ctl: bad answer from the agent at " + socket + ": " + e);
        err.flush();
        return UNAVAILABLE;
      }
      if (!r.ok()) {
        err.println("flatnet ctl: " + r.error());
        err.flush();
        return REFUSED;
      }
      return r;
    }

    PrintWriter out() {
      return mixee.commandLine().getOut();
    }
  }

  /** Runs {@code request}, prints its data as JSON or through {@code table}. */
  static int run(Common common, AgentProtocol.Request request, Runnable onEmpty, Table table) {
    Object answer = common.call(request);
    if (answer instanceof Integer code) {
      return code;
    }
    AgentProtocol.Response r = (AgentProtocol.Response) answer;
    PrintWriter out = common.out();
    if (common.json) {
      out.println(r.data() == null ? "null" : r.data().toPrettyString());
    } else if (r.data() != null && r.data().isArray() && r.data().isEmpty() && onEmpty != null) {
      onEmpty.run();
    } else if (r.data() != null) {
      table.print(r.data(), out);
    }
    out.flush();
    return 0;
  }

  @FunctionalInterface
  interface Table {
    void print(JsonNode data, PrintWriter out);
  }

  /** A table of {@code rows} (objects) with {@code columns}; lists are joined with commas. */
  static void table(JsonNode rows, PrintWriter out, String... columns) {
    List<String[]> lines = new ArrayList<>();
    String[] header = new String[columns.length];
    for (int i = 0; i < columns.length; i++) {
      header[i] = columns[i].toUpperCase(java.util.Locale.ROOT);
    }
    lines.add(header);
    for (JsonNode row : rows) {
      String[] line = new String[columns.length];
      for (int i = 0; i < columns.length; i++) {
        line[i] = text(row.path(columns[i]));
      }
      lines.add(line);
    }
    int[] width = new int[columns.length];
    for (String[] line : lines) {
      for (int i = 0; i < line.length; i++) {
        width[i] = Math.max(width[i], line[i].length());
      }
    }
    for (String[] line : lines) {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < line.length; i++) {
        b.append(line[i]);
        if (i < line.length - 1) {
          b.append(" ".repeat(width[i] - line[i].length() + 2));
        }
      }
      out.println(b.toString().stripTrailing());
    }
  }

  /**
   * {@code show routes}: one row per prefix with its origin; an ECMP route's row is followed by one
   * row per path (weight, buckets of the group, neighbour state).
   */
  static void routes(JsonNode rows, PrintWriter out) {
    com.fasterxml.jackson.databind.node.ArrayNode flat =
        com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.arrayNode();
    for (JsonNode row : rows) {
      flat.add(row);
      JsonNode paths = row.path("paths");
      for (int i = 0; i < paths.size(); i++) {
        com.fasterxml.jackson.databind.node.ObjectNode path =
            ((com.fasterxml.jackson.databind.node.ObjectNode) paths.get(i)).deepCopy();
        path.put("prefix", (i == paths.size() - 1 ? "  └ " : "  ├ ") + "path " + (i + 1));
        path.put(
            "weight",
            path.path("weight").asText()
                + " ("
                + path.path("buckets").asText()
                + "/"
                + row.path("buckets").asText()
                + ")");
        flat.add(path);
      }
    }
    table(
        flat, out, "prefix", "origin", "kind", "port", "via", "weight", "state", "mac", "nextHop");
  }

  /** {@code show policies}: one block per policed pod, then each policy's flows allowed. */
  static void policies(JsonNode d, PrintWriter o) {
    o.printf(
        "generation %s, live flows per worker: %s%n",
        text(d.path("generation")), text(d.path("liveFlowsPerWorker")));
    if (d.path("pods").isEmpty()) {
      o.println("no pod is selected by a network policy: every pod is open");
      return;
    }
    for (JsonNode pod : d.path("pods")) {
      o.printf(
          "%npod %s (%s)%n  ingress %s, egress %s; denied packets in %s, out %s%n",
          text(pod.path("pod")),
          text(pod.path("addresses")),
          pod.path("ingressIsolated").asBoolean() ? "isolated" : "open",
          pod.path("egressIsolated").asBoolean() ? "isolated" : "open",
          text(pod.path("deniedIngress")),
          text(pod.path("deniedEgress")));
      for (String direction : List.of("ingress", "egress")) {
        for (JsonNode rule : pod.path(direction)) {
          o.printf(
              "  %-7s %s rule %s: %s %s, ports %s%n",
              direction,
              text(rule.path("policy")),
              text(rule.path("rule")),
              direction.equals("ingress") ? "from" : "to",
              rule.path("anyPeer").asBoolean()
                  ? "any peer"
                  : rule.path("peers").isEmpty() ? "no peer (yet)" : text(rule.path("peers")),
              rule.path("anyPort").asBoolean()
                  ? "any"
                  : rule.path("ports").isEmpty() ? "none" : text(rule.path("ports")));
        }
      }
    }
    o.println();
    for (JsonNode policy : d.path("policies")) {
      o.printf(
          "policy %s: %s flows allowed%n",
          text(policy.path("name")), text(policy.path("flowsAllowed")));
    }
  }

  /**
   * Prints nested objects and lists as indented "key: value" lines: one line per scalar, a header
   * line per object or list of objects.
   */
  static void tree(JsonNode n, PrintWriter out, String indent) {
    if (n.isArray()) {
      for (JsonNode e : n) {
        if (e.isContainerNode()) {
          out.println(indent + "-");
          tree(e, out, indent + "  ");
        } else {
          out.println(indent + "- " + text(e));
        }
      }
      return;
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = n.properties().iterator(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      JsonNode v = e.getValue();
      boolean nested = v.isObject() || (v.isArray() && v.size() > 0 && v.get(0).isContainerNode());
      if (nested) {
        out.println(indent + e.getKey() + ":");
        tree(v, out, indent + "  ");
      } else {
        out.printf("%s%-9s %s%n", indent, e.getKey() + ":", text(v));
      }
    }
  }

  static String text(JsonNode n) {
    if (n.isMissingNode() || n.isNull()) {
      return "-";
    }
    if (n.isArray()) {
      List<String> parts = new ArrayList<>();
      n.forEach(e -> parts.add(e.asText()));
      return String.join(",", parts);
    }
    return n.asText();
  }

  @Command(
      name = "show",
      mixinStandardHelpOptions = true,
      description = "Shows the router's ports, pods, routes, neighbors or policies.")
  static final class Show implements Callable<Integer> {
    @Mixin Common common;

    @Parameters(
        paramLabel = "WHAT",
        description = "ports, pods, routes, neighbors or policies",
        completionCandidates = Whats.class)
    String what;

    static final class Whats extends ArrayList<String> {
      private static final long serialVersionUID = 1L;

      Whats() {
        super(List.of("ports", "pods", "routes", "neighbors", "policies"));
      }
    }

    @Override
    public Integer call() {
      PrintWriter out = common.out();
      return switch (what) {
        case "ports" ->
            run(
                common,
                AgentProtocol.Request.of(AgentProtocol.SHOW_PORTS),
                () -> out.println("no ports"),
                (d, o) -> table(d, o, "id", "name", "role", "mac", "mtu", "ipv4", "ipv6"));
        case "pods" ->
            run(
                common,
                AgentProtocol.Request.of(AgentProtocol.SHOW_PODS),
                () -> out.println("no pods"),
                (d, o) -> table(d, o, "name", "kind", "port", "state", "attach", "ips", "mac"));
        case "routes" ->
            run(
                common,
                AgentProtocol.Request.of(AgentProtocol.SHOW_ROUTES),
                () -> out.println("no routes"),
                CtlMain::routes);
        case "neighbors", "neighbours" ->
            run(
                common,
                AgentProtocol.Request.of(AgentProtocol.SHOW_NEIGHBORS),
                () -> out.println("no neighbors"),
                (d, o) -> table(d, o, "via", "port", "state", "mac", "nextHop", "routes"));
        case "policies" ->
            run(
                common,
                AgentProtocol.Request.of(AgentProtocol.SHOW_POLICIES),
                null,
                CtlMain::policies);
        default -> {
          common
              .mixee
              .commandLine()
              .getErr()
              .println(
                  "flatnet ctl show: unknown \""
                      + what
                      + "\"; ports, pods, routes, neighbors or policies");
          yield USAGE;
        }
      };
    }
  }

  @Command(
      name = "route",
      mixinStandardHelpOptions = true,
      description = {
        "Adds or removes a runtime static route, kept by the agent across restarts.",
        "  route add PREFIX via ADDRESS port NAME",
        "  route add PREFIX port NAME       (a host route: the prefix's own address is the"
            + " neighbour)",
        "  route del PREFIX"
      })
  static final class Route implements Callable<Integer> {
    @Mixin Common common;

    @Parameters(paramLabel = "WORDS", description = "add|del PREFIX [via ADDRESS] [port NAME]")
    List<String> words = new ArrayList<>();

    @Override
    public Integer call() {
      PrintWriter err = common.mixee.commandLine().getErr();
      if (words.size() < 2 || !List.of("add", "del").contains(words.get(0))) {
        err.println("flatnet ctl route: expected add PREFIX via ADDRESS port NAME, or del PREFIX");
        err.flush();
        return USAGE;
      }
      String prefix = words.get(1);
      AgentProtocol.Request request;
      if (words.get(0).equals("del")) {
        if (words.size() != 2) {
          err.println("flatnet ctl route del: expected only PREFIX");
          err.flush();
          return USAGE;
        }
        request = AgentProtocol.Request.routeDel(prefix);
      } else {
        String via = null;
        String port = null;
        Iterator<String> it = words.subList(2, words.size()).iterator();
        while (it.hasNext()) {
          String key = it.next();
          if (!it.hasNext() || !(key.equals("via") || key.equals("port"))) {
            err.println("flatnet ctl route add: expected via ADDRESS and port NAME, not " + key);
            err.flush();
            return USAGE;
          }
          String value = it.next();
          if (key.equals("via")) {
            via = value;
          } else {
            port = value;
          }
        }
        if (port == null) {
          err.println("flatnet ctl route add: port NAME is required");
          err.flush();
          return USAGE;
        }
        request = AgentProtocol.Request.routeAdd(prefix, via, port);
      }
      Object answer = common.call(request);
      if (answer instanceof Integer code) {
        return code;
      }
      PrintWriter out = common.out();
      out.println(common.json ? "{\"ok\":true}" : "ok");
      out.flush();
      return 0;
    }
  }

  @Command(
      name = "trace",
      mixinStandardHelpOptions = true,
      description =
          "Explains how the router forwards SRC -> DST now: the matched prefix, the next hop,"
              + " the neighbour's state and MAC, the out port, or why it drops; with --proto and"
              + " --dport, which network policy and rule allow or deny it.")
  static final class Trace implements Callable<Integer> {
    @Mixin Common common;

    @Parameters(index = "0", paramLabel = "SRC", arity = "0..1")
    String src;

    @Parameters(index = "1", paramLabel = "DST", arity = "0..1")
    String dst;

    @Option(
        names = "--live",
        description =
            "Trace real packets instead: mark the next --count packets matching --filter and print"
                + " each one's path through the workers (rx, parse, lookup, neighbour, policy,"
                + " rewrite, tx or drop), one line per stage.")
    boolean live;

    @Option(names = "--count", paramLabel = "N", description = "--live: packets to trace (1).")
    long count = 1;

    @Option(
        names = "--filter",
        paramLabel = "EXPR",
        description = "--live: which packets (as ctl capture's --filter; default: any).")
    String filter;

    @Option(
        names = "--timeout",
        paramLabel = "S",
        description = "--live: give up after S seconds (default 10).")
    long timeout = 10;

    @Option(names = "--in", paramLabel = "PORT", description = "The port the packet arrives on.")
    String in;

    @Option(
        names = "--proto",
        paramLabel = "PROTO",
        description = "tcp, udp, sctp, icmp or a protocol number, for the policy verdict.")
    String proto;

    @Option(names = "--sport", paramLabel = "PORT", description = "The source port.")
    Integer sport;

    @Option(names = "--dport", paramLabel = "PORT", description = "The destination port.")
    Integer dport;

    @Override
    public Integer call() {
      if (live) {
        Map<String, String> args = new java.util.LinkedHashMap<>();
        args.put("trace", "true");
        args.put("count", Long.toString(count));
        if (filter != null) {
          args.put("filter", filter);
        }
        return LiveCapture.run(
            common, args, Duration.ofSeconds(timeout), new LiveTrace(common.out(), count));
      }
      if (src == null || dst == null) {
        common
            .mixee
            .commandLine()
            .getErr()
            .println("flatnet ctl: trace needs SRC and DST (or --live)");
        common.mixee.commandLine().getErr().flush();
        return USAGE;
      }
      Map<String, String> flow = new java.util.LinkedHashMap<>();
      if (proto != null) {
        flow.put("proto", proto);
      }
      if (sport != null) {
        flow.put("sport", sport.toString());
      }
      if (dport != null) {
        flow.put("dport", dport.toString());
      }
      return run(
          common, AgentProtocol.Request.trace(src, dst, in, flow), null, (d, o) -> tree(d, o, ""));
    }
  }
}
