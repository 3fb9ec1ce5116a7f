package io.flatnet.agent.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.control.CountersFile;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.junit.jupiter.api.Test;

/** The exposition text of counters labelled as the workers label them, scraped over HTTP. */
class MetricsServerTest {

  @Test
  void scrapeSumsWorkersPerPortReasonAndEvent() throws Exception {
    // The counters file's layout, in memory: the dataplane's own writer is not on the agent's path.
    CountersManager counters =
        new CountersManager(
            new UnsafeBuffer(new byte[CountersFile.METADATA_LENGTH]),
            new UnsafeBuffer(new byte[CountersFile.VALUES_LENGTH]),
            StandardCharsets.US_ASCII);
    {
      counters.newCounter("worker 0 port default/web-1 rx-packets", CountersFile.TYPE_PORT).set(5);
      counters.newCounter("worker 1 port default/web-1 rx-packets", CountersFile.TYPE_PORT).set(7);
      counters.newCounter("worker 0 port uplink tx-packets", CountersFile.TYPE_PORT).set(3);
      counters.newCounter("worker 0 drop no-route", CountersFile.TYPE_DROP).set(2);
      counters.newCounter("worker 0 rx-packets", CountersFile.TYPE_WORKER).set(12);
      counters.newCounter("worker 1 icmp-sent", CountersFile.TYPE_WORKER).set(1);
      counters.newCounter("worker 0 longest-loop-ns", CountersFile.TYPE_LOOP).set(5000);
      counters.newCounter("worker 0 loops taking 1024-2048us", CountersFile.TYPE_LOOP).set(3);
      counters.newCounter("worker 1 loops taking 1024-2048us", CountersFile.TYPE_LOOP).set(4);
      try (MetricsServer server = MetricsServer.start("127.0.0.1:0", () -> counters)) {
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
        assertTrue(body.contains("# TYPE flatnet_worker_longest_loop_nanoseconds gauge\n"), body);
        assertTrue(
            body.contains("flatnet_worker_longest_loop_nanoseconds{worker=\"0\"} 5000\n"), body);
        assertTrue(body.contains("flatnet_worker_loops_total{took=\"1024-2048us\"} 7\n"), body);
        assertTrue(body.contains("flatnet_worker_rx_packets_total{worker=\"0\"} 12\n"), body);
        assertTrue(body.contains("flatnet_events_total{event=\"icmp-sent\"} 1\n"), body);
      }
    }
  }
}
