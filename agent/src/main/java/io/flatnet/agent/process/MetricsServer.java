package io.flatnet.agent.process;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.flatnet.control.CountersFile;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.agrona.concurrent.status.CountersReader;

/**
 * {@code GET /metrics}: the router's counters in the Prometheus text exposition format (0.0.4),
 * summed over workers, read from the same shared memory as {@code ctl counters}:
 *
 * <ul>
 *   <li>{@code flatnet_port_rx_packets_total{port="..."}}, {@code flatnet_port_tx_packets_total};
 *   <li>{@code flatnet_drops_total{reason="..."}};
 *   <li>{@code flatnet_events_total{event="..."}} (ARP replies, ICMP sent, ...);
 *   <li>{@code flatnet_worker_rx_packets_total{worker="N"}}, {@code
 *       flatnet_worker_tx_packets_total}.
 * </ul>
 */
public final class MetricsServer implements AutoCloseable {

  private static final Pattern WORKER = Pattern.compile("worker (\\d+) (.+)");
  private static final Pattern PORT = Pattern.compile("port (.+) (rx|tx)-packets");

  private final HttpServer server;

  private MetricsServer(HttpServer server) {
    this.server = server;
  }

  /**
   * Serves the counters on {@code host:port} (port 0: any free port); {@code reader} is asked at
   * each scrape, so it can follow a restarted dataplane's new counters file.
   */
  public static MetricsServer start(String hostPort, Supplier<CountersReader> reader)
      throws IOException {
    int colon = hostPort.lastIndexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException("--metrics wants HOST:PORT, not " + hostPort);
    }
    String host = hostPort.substring(0, colon).replaceAll("^\\[|]$", "");
    int port = Integer.parseInt(hostPort.substring(colon + 1));
    HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 8);
    server.createContext(
        "/metrics",
        exchange -> {
          try (exchange) {
            if (!exchange.getRequestMethod().equals("GET")
                && !exchange.getRequestMethod().equals("HEAD")) {
              exchange.sendResponseHeaders(405, -1);
              return;
            }
            byte[] body = render(reader.get()).getBytes(StandardCharsets.UTF_8);
            send(exchange, body);
          }
        });
    server.setExecutor(
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "flatnet-metrics");
              t.setDaemon(true);
              return t;
            }));
    server.start();
    return new MetricsServer(server);
  }

  private static void send(HttpExchange exchange, byte[] body) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    boolean head = exchange.getRequestMethod().equals("HEAD");
    exchange.sendResponseHeaders(200, head ? -1 : body.length);
    if (!head) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
  }

  public InetSocketAddress address() {
    return server.getAddress();
  }

  private static final String LONGEST_LOOP = "flatnet_worker_longest_loop_nanoseconds";

  /** The exposition text of every counter in {@code reader}. */
  public static String render(CountersReader reader) {
    Map<String, Map<String, Long>> families = new TreeMap<>();
    reader.forEach(
        (id, type, key, label) -> {
          Matcher w = WORKER.matcher(label);
          if (!w.matches()) {
            return;
          }
          long value = reader.getCounterValue(id);
          String worker = w.group(1);
          String rest = w.group(2);
          Matcher p = PORT.matcher(rest);
          if (type == CountersFile.TYPE_LOOP) {
            if (rest.equals(CountersFile.LONGEST_LOOP)) {
              add(families, LONGEST_LOOP, "worker", worker, value);
            } else if (rest.startsWith("loops taking ")) {
              add(families, "flatnet_worker_loops_total", "took", rest.substring(13), value);
            }
            // longest-loop-at-epoch-ms and the loop count: ctl counters shows them
          } else if (p.matches()) {
            add(
                families,
                "flatnet_port_" + p.group(2) + "_packets_total",
                "port",
                p.group(1),
                value);
          } else if (rest.startsWith("drop ")) {
            add(families, "flatnet_drops_total", "reason", rest.substring(5), value);
          } else if (rest.equals("rx-packets") || rest.equals("tx-packets")) {
            add(
                families,
                "flatnet_worker_" + rest.substring(0, 2) + "_packets_total",
                "worker",
                worker,
                value);
          } else {
            add(families, "flatnet_events_total", "event", rest, value);
          }
        });
    StringBuilder out = new StringBuilder();
    for (Map.Entry<String, Map<String, Long>> family : families.entrySet()) {
      out.append("# HELP ").append(family.getKey()).append(' ').append(help(family.getKey()));
      out.append("\n# TYPE ")
          .append(family.getKey())
          .append(family.getKey().equals(LONGEST_LOOP) ? " gauge\n" : " counter\n");
      family
          .getValue()
          .forEach(
              (labels, v) ->
                  out.append(family.getKey()).append(labels).append(' ').append(v).append('\n'));
    }
    return out.toString();
  }

  private static void add(
      Map<String, Map<String, Long>> families, String name, String label, String value, long v) {
    families
        .computeIfAbsent(name, k -> new TreeMap<>())
        .merge("{" + label + "=\"" + escape(value) + "\"}", v, Long::sum);
  }

  private static String escape(String value) {
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }

  private static String help(String name) {
    return switch (name) {
      case "flatnet_port_rx_packets_total" -> "Packets received on a port.";
      case "flatnet_port_tx_packets_total" -> "Packets sent on a port.";
      case "flatnet_drops_total" -> "Packets dropped, by reason.";
      case "flatnet_worker_rx_packets_total" -> "Packets a worker received.";
      case "flatnet_worker_tx_packets_total" -> "Packets a worker sent.";
      case LONGEST_LOOP ->
          "A worker's longest loop since it started: how long its queues went unpolled.";
      case "flatnet_worker_loops_total" -> "Worker loops by how long they took (all workers).";
      default -> "Control events of the workers (ARP/NDP, ICMP, neighbours).";
    };
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
