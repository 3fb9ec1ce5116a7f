package io.flatnet.agent.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.dataplane.DataplaneCounters;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The exposition text of counters labelled as the workers label them, scraped over HTTP. */
class MetricsServerTest {

  @TempDir Path dir;

  @Test
  void scrapeSumsWorkersPerPortReasonAndEvent() throws Exception {
    try (DataplaneCounters counters = DataplaneCounters.create(dir.resolve("c.dat").toFile())) {
      counters
          .newCounter(DataplaneCounters.TYPE_PORT, "worker 0 port default/web-1 rx-packets")
          .set(5);
      counters
          .newCounter(DataplaneCounters.TYPE_PORT, "worker 1 port default/web-1 rx-packets")
          .set(7);
      counters.newCounter(DataplaneCounters.TYPE_PORT, "worker 0 port uplink tx-packets").set(3);
      counters.newCounter(DataplaneCounters.TYPE_DROP, "worker 0 drop no-route").set(2);
      counters.newCounter(DataplaneCounters.TYPE_WORKER, "worker 0 rx-packets").set(12);
      counters.newCounter(DataplaneCounters.TYPE_WORKER, "worker 1 icmp-sent").set(1);
      try (MetricsServer server = MetricsServer.start("127.0.0.1:0", counters.reader())) {
        HttpResponse<String> r =
            HttpClient.newHttpClient()
                .send(
                    HttpRequest.newBuilder(
                            URI.create(
                                "http://127.0.0.1:" + server.address().getPort() + "/metrics"))
                        .build(),
                    HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
        String body = r.body();
        assertTrue(body.contains("# TYPE flatnet_port_rx_packets_total counter\n"), body);
        assertTrue(
            body.contains("flatnet_port_rx_packets_total{port=\"default/web-1\"} 12\n"), body);
        assertTrue(body.contains("flatnet_port_tx_packets_total{port=\"uplink\"} 3\n"), body);
        assertTrue(body.contains("flatnet_drops_total{reason=\"no-route\"} 2\n"), body);
        assertTrue(body.contains("flatnet_worker_rx_packets_total{worker=\"0\"} 12\n"), body);
        assertTrue(body.contains("flatnet_events_total{event=\"icmp-sent\"} 1\n"), body);
      }
    }
  }
}
