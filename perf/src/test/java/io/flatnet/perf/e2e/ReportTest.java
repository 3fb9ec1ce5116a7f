package io.flatnet.perf.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.flatnet.perf.gen.GenTrial;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The per-size rows (Mpps, Gbit/s, flatnet/l3fwd) and the route-churn figures of the report. */
class ReportTest {
  private static final int IMIX = FrameSize.IMIX;

  private static Report.Setup setup(List<Integer> sizes, List<DutSystem> systems, double fixed) {
    return new Report.Setup(
        2,
        2,
        2,
        sizes,
        systems,
        1,
        0,
        0,
        RouteSet.standard(),
        RouteSet.check(),
        0,
        2,
        0.5,
        new double[0],
        2,
        20000,
        null,
        null,
        Double.NaN,
        Map.of("cpus", "2"),
        Map.of(),
        "2026-12-02T13:00:00Z",
        fixed,
        10_000);
  }

  private static FlatnetSummary summary(long longestNs, long churnPerS) {
    String churn =
        churnPerS < 0
            ? ""
            : ",\"route_churn\":{\"target_per_s\":10000,\"per_s\":"
                + churnPerS
                + ",\"adds_per_s\":5000,\"deletes_per_s\":5000,\"adds\":60000,\"deletes\":59000,"
                + "\"update_mean_ns\":2500,\"update_max_ns\":180000,\"installed\":1000,"
                + "\"skipped\":0,\"window_seconds\":2.00}";
    return FlatnetSummary.parse(
            "{\"forwarded\":100,\"forwarded_mpps\":1.0,\"rx\":100,\"tx\":100,\"seconds\":6.0,"
                + "\"gc_collections\":0,\"worker_allocated_bytes\":0,"
                + "\"tx_by_port\":{\"net_vhost0\":50,\"net_vhost1\":50},\"drops\":{},"
                + "\"worker_loops\":{\"longest_ns\":"
                + longestNs
                + ",\"loops\":1000,\"loops_8us_or_more\":3,\"loops_taking\":[990,5,2,0,3,0,0,0,0,0,"
                + "0,0,0,0,0,0],\"longest_since_start_ns\":9000000}"
                + churn
                + "}")
        .orElseThrow();
  }

  private static TrialResult trial(
      int round, DutSystem s, int size, double mpps, FlatnetSummary f) {
    long rx = Math.round(mpps * 1e6);
    TestpmdStats.Window w =
        new TestpmdStats.Window(
            mpps, new long[] {rx / 2, rx / 2}, new long[] {rx / 2, rx / 2}, new double[] {mpps}, 2);
    return new TrialResult(
        round, s, size, w, Map.of(), new long[0], f, null, new double[0], false, null, Map.of());
  }

  private static SearchResult fixed(
      int round, DutSystem s, int size, double rateMpps, long lost, FlatnetSummary f) {
    long offered = 1_000_000;
    GenTrial t =
        new GenTrial(
            "search1",
            Math.round(rateMpps * 1e6),
            2.0,
            new long[] {offered / 2, offered / 2},
            new long[] {offered / 2, offered / 2},
            new long[] {offered / 2 - lost, offered / 2},
            0,
            0,
            0,
            0,
            0,
            null);
    return new SearchResult(
        round,
        s,
        size,
        rateMpps,
        rateMpps / 2,
        null,
        List.of(new SearchResult.SearchStep(rateMpps, t, lost == 0)),
        lost == 0 ? rateMpps : 0,
        List.of(),
        null,
        new double[0],
        f,
        java.util.Map.of());
  }

  @Test
  void theTableNamesEachTrialWhoseWorkersAllocatedOrCollected() {
    FlatnetSummary clean = summary(5000, -1);
    FlatnetSummary allocated =
        FlatnetSummary.parse(
                clean
                    .line()
                    .replace("\"worker_allocated_bytes\":0", "\"worker_allocated_bytes\":208"))
            .orElseThrow();
    List<TrialResult> trials =
        List.of(
            trial(1, DutSystem.FLATNET, 64, 9, clean),
            trial(2, DutSystem.FLATNET, 64, 9, allocated),
            trial(2, DutSystem.FLATNET, IMIX, 4, clean));
    Report report =
        new Report(
            setup(List.of(64, IMIX), List.of(DutSystem.FLATNET), 0), trials, List.of(), List.of());
    String table = report.table();
    assertTrue(
        table.contains(
            "0 garbage collections and 208 bytes allocated on worker threads over 3 trials"),
        table);
    assertTrue(table.contains("  round 2 64 B flatnet: 208 bytes, 0 collections"), table);
    assertEquals(1, table.lines().filter(l -> l.startsWith("  round ")).count(), table);
  }

  @Test
  void eachFrameSizeGetsItsRowRatioAndGbps() throws Exception {
    List<DutSystem> systems = List.of(DutSystem.L3FWD, DutSystem.FLATNET);
    List<TrialResult> trials = new ArrayList<>();
    double[][] l3fwd = {{10, 12}, {0.8, 0.8}, {4, 5}};
    double[][] flatnet = {{9, 12}, {0.8, 0.72}, {4, 6}};
    List<Integer> sizes = List.of(64, 1518, IMIX);
    for (int r = 1; r <= 2; r++) {
      for (int i = 0; i < sizes.size(); i++) {
        trials.add(trial(r, DutSystem.L3FWD, sizes.get(i), l3fwd[i][r - 1], null));
        trials.add(trial(r, DutSystem.FLATNET, sizes.get(i), flatnet[i][r - 1], summary(5000, -1)));
      }
    }
    Report report = new Report(setup(sizes, systems, 0), trials, List.of(), List.of());
    List<Report.SizeRow> rows = report.sizeRows();
    assertEquals(3, rows.size());
    assertEquals(0.95, rows.get(0).flatnetOverL3fwd().summary().median(), 1e-9); // 0.9, 1.0
    assertEquals(0.95, rows.get(1).flatnetOverL3fwd().summary().median(), 1e-9); // 1.0, 0.9
    assertEquals(1.1, rows.get(2).flatnetOverL3fwd().summary().median(), 1e-9); // 1.0, 1.2
    assertEquals(IMIX, rows.get(2).frameBytes());
    assertEquals(4.5 * (4246 / 12.0 + 20) * 8 / 1000, rows.get(2).l3fwdGbps(), 1e-9);
    assertEquals(
        List.of(
            "flatnet/l3fwd 0.95, 7.1 Gbit/s",
            "flatnet/l3fwd 0.95, 9.4 Gbit/s",
            "flatnet/l3fwd 1.10, 15.0 Gbit/s"),
        report.chartNotes());

    String table = report.table();
    assertTrue(table.contains("flatnet/l3fwd by frame size"), table);
    assertTrue(
        table.lines().anyMatch(l -> l.startsWith("imix") && l.contains("1.100 (1.000..1.200)")),
        table);
    assertTrue(
        table.lines().anyMatch(l -> l.matches("64 B\\s+flatnet\\s+10\\.50 .* 7\\.06")), table);

    JsonNode json = new ObjectMapper().readTree(report.json("now", List.of()));
    JsonNode results = json.get("results");
    assertEquals(3, results.size());
    assertEquals("64", results.get(0).get("frame").asText());
    assertEquals(64, results.get(0).get("frame_bytes").asInt());
    assertEquals(60, results.get(0).get("pkt_len").asInt());
    assertEquals(1514, results.get(1).get("pkt_len").asInt());
    JsonNode imix = results.get(2);
    assertEquals("imix", imix.get("frame").asText());
    assertEquals(353.83, imix.get("mean_frame_bytes").asDouble(), 0.01);
    assertEquals("[64,570,1518]", imix.get("imix").get("frame_bytes").toString().replace(".0", ""));
    assertEquals(1.1, imix.get("flatnet_l3fwd").asDouble(), 1e-9);
    JsonNode flatnetRow = imix.get("systems").get(1);
    assertEquals("flatnet", flatnetRow.get("system").asText());
    assertEquals(
        5.0 * (4246 / 12.0 + 20) * 8 / 1000,
        flatnetRow.get("median_gbps_l1").asDouble(),
        1e-3); // 6 digits
    assertEquals(
        1.1, json.get("summary").get("flatnet_l3fwd_by_size").get("imix").asDouble(), 1e-9);
    assertEquals("[\"64\",\"1518\",\"imix\"]", json.get("config").get("frames").toString());
  }

  @Test
  void routeChurnReportsRateLossAndTheWorkersLongestLoop() throws Exception {
    List<DutSystem> systems = List.of(DutSystem.FLATNET, DutSystem.FLATNET_ROUTECHURN);
    List<TrialResult> trials = new ArrayList<>();
    List<SearchResult> searches = new ArrayList<>();
    for (int r = 1; r <= 2; r++) {
      trials.add(trial(r, DutSystem.FLATNET, 64, 8, summary(4000 + r, -1)));
      trials.add(trial(r, DutSystem.FLATNET_ROUTECHURN, 64, 7.9, summary(9000 + r, 9990 + r)));
      searches.add(fixed(r, DutSystem.FLATNET, 64, 4.0, 0, summary(3000, -1)));
      searches.add(
          fixed(r, DutSystem.FLATNET_ROUTECHURN, 64, 4.0, r == 2 ? 50 : 0, summary(7000, 10000)));
    }
    Report report = new Report(setup(List.of(64), systems, 0.5), trials, List.of(), searches);
    Map<String, double[]> m = report.routeChurnPerRound(64);
    assertEquals(9991, m.get("offered_updates_per_s")[0], 0);
    assertEquals(9992, m.get("offered_updates_per_s")[1], 0);
    assertEquals(2.5, m.get("offered_update_mean_us")[0], 1e-9);
    assertEquals(180, m.get("offered_update_max_us")[0], 1e-9);
    assertEquals(4.001, m.get("offered_longest_loop_us flatnet")[0], 1e-9);
    assertEquals(9.002, m.get("offered_longest_loop_us flatnet-routechurn")[1], 1e-9);
    assertEquals(0, m.get("fixed_loss_fraction flatnet-routechurn")[0], 0);
    assertEquals(50 / 1e6, m.get("fixed_loss_fraction flatnet-routechurn")[1], 1e-12);
    assertEquals(10000, m.get("fixed_updates_per_s")[0], 0);
    assertEquals(7.0, m.get("fixed_longest_loop_us flatnet-routechurn")[0], 1e-9);

    String table = report.table();
    assertTrue(table.contains("route churn (64 B; flatnet-routechurn asks 10000 updates/s"), table);
    assertTrue(table.contains("updates/s achieved 9991 / 9992"), table);
    assertTrue(table.contains("flatnet 4.0 / 4.0;  flatnet-routechurn 9.0 / 9.0;"), table);
    assertTrue(
        table.contains("flatnet-routechurn at 4.00 / 4.00 Mpps lost 0.0000 / 0.0050 %"), table);
    assertTrue(table.contains("flatnet-routechurn/flatnet 0.988"), table);

    JsonNode json = new ObjectMapper().readTree(report.json("now", List.of()));
    JsonNode churn = json.get("results").get(0).get("route_churn_per_round");
    assertEquals(10000, churn.get("target_updates_per_s").asInt());
    assertEquals(9991, churn.get("offered_updates_per_s").get(0).asDouble(), 0);
    assertEquals(
        9.001, churn.get("offered_longest_loop_us@flatnet-routechurn").get(0).asDouble(), 1e-9);
  }

  @Test
  void summariesWithoutLoopsOrChurnGiveNothing() {
    FlatnetSummary old =
        FlatnetSummary.parse("{\"forwarded\":1,\"forwarded_mpps\":1.0,\"rx\":1,\"drops\":{}}")
            .orElseThrow();
    assertTrue(old.routeChurn().isEmpty());
    assertTrue(Double.isNaN(old.longestLoopMicros()));
    FlatnetSummary s = summary(12_345, 10_000);
    assertEquals(12.345, s.longestLoopMicros(), 1e-9);
    assertEquals(3L, s.workerLoops().get("loops_8us_or_more"));
    assertEquals(10_000L, s.routeChurn().get("per_s"));
    assertEquals(1000L, s.routeChurn().get("installed"));
  }
}
