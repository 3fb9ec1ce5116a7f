package io.flatnet.agent.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.flatnet.control.CaptureFile;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/** How ctl prints ECMP: {@code show routes} with a row per path, the live trace's pick. */
class EcmpOutputTest {
  @Test
  void showRoutesPrintsTheOriginAndEveryPathWithItsWeight() throws Exception {
    String json =
        """
        [{"prefix":"10.1.0.0/16","origin":"peer","nextHop":3,"kind":"resolve","port":"up1",
          "via":"10.3.0.1","state":"reachable"},
         {"prefix":"10.50.0.0/16","origin":"bgp","nextHop":9,"kind":"ecmp","via":"2 paths",
          "buckets":64,"paths":[
           {"nextHop":7,"kind":"forward","port":"up1","via":"10.3.0.1","state":"reachable",
            "mac":"02:00:00:00:00:01","weight":1,"buckets":32},
           {"nextHop":8,"kind":"resolve","port":"up2","via":"10.4.0.1","state":"incomplete",
            "weight":1,"buckets":32}]}]
        """;
    StringWriter text = new StringWriter();
    CtlMain.routes(new ObjectMapper().readTree(json), new PrintWriter(text, true));
    String[] lines = text.toString().split("\n");
    assertEquals(5, lines.length, text.toString());
    assertTrue(lines[0].startsWith("PREFIX"), lines[0]);
    assertTrue(lines[0].contains("ORIGIN") && lines[0].contains("WEIGHT"), lines[0]);
    assertTrue(lines[2].contains("bgp") && lines[2].contains("ecmp"), lines[2]);
    assertTrue(lines[3].contains("path 1") && lines[3].contains("1 (32/64)"), lines[3]);
    assertTrue(lines[4].contains("path 2") && lines[4].contains("incomplete"), lines[4]);
  }

  @Test
  void liveTraceNamesTheGroupBucketAndMember() throws Exception {
    StringWriter text = new StringWriter();
    LiveTrace trace = new LiveTrace(new PrintWriter(text, true), 1);
    trace.start(
        new ObjectMapper()
            .readTree("{\"filter\":\"ip\",\"session\":1,\"ports\":[{\"id\":2,\"name\":\"up2\"}]}"));
    long b = 1 | 9L << 8 | 17L << 40; // forward, group 9, bucket 17
    CaptureFile.Record member =
        new CaptureFile.Record(
            CaptureFile.TYPE_TRACE, CaptureFile.STAGE_LOOKUP, 0, 2, 0, 0, 1, -1, 8, b, null);
    assertEquals(
        "ecmp: group 9 bucket 17 -> next hop 8 (forward) via port up2", trace.detail(member));
    CaptureFile.Record group =
        new CaptureFile.Record(
            CaptureFile.TYPE_TRACE,
            CaptureFile.STAGE_LOOKUP,
            0,
            CaptureFile.NO_PORT,
            0,
            0,
            1,
            -1,
            9,
            5,
            null);
    assertEquals("next hop 9 (ecmp group)", trace.detail(group));
  }
}
