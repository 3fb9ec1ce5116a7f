package io.flatnet.perf;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BenchJsonTest {

  @Test
  void lineEscapesWritesNullForNonFiniteAndKeepsSixDigits() {
    ObjectNode o =
        BenchJson.object()
            .put("a", "q\"\n")
            .put("b", 0.25)
            .put("c", Double.NaN)
            .put("e", 12.0)
            .put("f", 1.0 / 3)
            .put("g", 1.069081234e-5)
            .put("h", Double.POSITIVE_INFINITY)
            .put("i", (String) null);
    o.set("d", BenchJson.array(1L, 2L));
    o.set("x", BenchJson.array(0.5, Double.NaN, 3.0));
    assertEquals(
        "{\"a\":\"q\\\"\\n\",\"b\":0.25,\"c\":null,\"e\":12,\"f\":0.333333,\"g\":1.06908e-05,"
            + "\"h\":null,\"i\":null,\"d\":[1,2],\"x\":[0.5,null,3]}",
        BenchJson.line(o));
  }

  @Test
  void sixDigitsDropsOnlyAFractionsZeros() {
    assertEquals("151480", BenchJson.sixDigits(151480.4));
    assertEquals("100000", BenchJson.sixDigits(100000));
    assertEquals("10000", BenchJson.sixDigits(10000));
    assertEquals("12", BenchJson.sixDigits(12.0));
    assertEquals("0.25", BenchJson.sixDigits(0.25));
    assertEquals("1.5e+06", BenchJson.sixDigits(1.5e6));
    assertEquals("1.06908e-05", BenchJson.sixDigits(1.069081234e-5));
    assertEquals("1e+06", BenchJson.sixDigits(1e6));
    assertEquals("-20", BenchJson.sixDigits(-20));
  }

  @Test
  void prettyIndentsObjectsKeepsArraysOnOneLineAndWritesPlainNumbers() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("per_round", new double[] {1.5, 2.0, 1.069081234e-5});
    m.put("histogram", new int[] {0, 3});
    m.put("empty", Map.of());
    m.put("list", List.of(Map.of("k", 1234567.891)));
    assertEquals(
        """
        {
          "per_round": [1.5, 2, 0.0000106908],
          "histogram": [0, 3],
          "empty": {},
          "list": [{
            "k": 1234570
          }]
        }""",
        BenchJson.pretty(m));
  }
}
