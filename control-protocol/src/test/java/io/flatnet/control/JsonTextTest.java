package io.flatnet.control;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

class JsonTextTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void escapesQuotesBackslashesAndControlCharacters() {
    assertEquals(
        "{\"a\\\"b\":\"x\\\"y\\\\z\\n\\r\\t\\u0000\\u0008\\u000c\\u001f\"}",
        JsonText.object().put("a\"b", "x\"y\\z\n\r\t\u0000\b\f\u001f").toString());
    assertEquals(
        "{\"s\":\"é ✓ 😀 \u007f /\"}", JsonText.object().put("s", "é ✓ 😀 \u007f /").toString());
  }

  @Test
  void everyCharacterBelowSpaceSurvivesJackson() throws Exception {
    StringBuilder all = new StringBuilder();
    for (char c = 0; c < 0x80; c++) {
      all.append(c);
    }
    all.append("\u2028\u2029\uFFFF😀");
    String text = JsonText.object().put(all.toString(), all.toString()).toString();
    JsonNode parsed = JSON.readTree(text);
    assertEquals(all.toString(), parsed.path(all.toString()).asText());
  }

  @Test
  void writesScalarsNestedObjectsAndArrays() {
    JsonText.Obj o = JsonText.object();
    o.put("n", 42L).put("neg", Long.MIN_VALUE).put("t", true).put("f", false).put("d", 1.5);
    o.put("nothing", (String) null);
    JsonText.Arr ports = o.putArray("ports");
    ports.addObject().put("name", "p0").putObject("stats").put("rx", 7);
    ports.add("plain").add(null);
    o.putObject("empty");
    o.putArray("none");
    assertEquals(
        "{\"n\":42,\"neg\":-9223372036854775808,\"t\":true,\"f\":false,\"d\":1.5,"
            + "\"nothing\":null,\"ports\":[{\"name\":\"p0\",\"stats\":{\"rx\":7}},\"plain\",null],"
            + "\"empty\":{},\"none\":[]}",
        o.toString());
    assertEquals(3, ports.size());
    assertEquals("[{\"name\":\"p0\",\"stats\":{\"rx\":7}},\"plain\",null]", ports.toString());
    assertEquals("[]", JsonText.array().toString());
    assertEquals("{}", JsonText.object().toString());
  }

  @Test
  void nonFiniteNumbersAreNull() {
    assertEquals(
        "{\"nan\":null,\"inf\":null,\"minusInf\":null,\"zero\":0.0,\"small\":1.0E-7,\"big\":1.0E21}",
        JsonText.object()
            .put("nan", Double.NaN)
            .put("inf", Double.POSITIVE_INFINITY)
            .put("minusInf", Double.NEGATIVE_INFINITY)
            .put("zero", 0.0)
            .put("small", 1e-7)
            .put("big", 1e21)
            .toString());
  }

  @Test
  void jacksonReadsWhatItWrites() throws Exception {
    String tricky = "q\" b\\ nl\n cr\r tab\t nul\u0000 us\u001f é😀 </script>";
    JsonText.Obj o = JsonText.object();
    o.put("name", tricky).put("count", 3).put("ratio", 0.25).put("nan", Double.NaN).put("up", true);
    o.put("missing", (String) null);
    JsonText.Obj inner = o.putObject("inner\"key");
    inner.putObject("deeper").putArray("list").add("a").add(tricky).addObject().put("x", -1);
    JsonText.Arr arr = o.putArray("rows");
    for (int i = 0; i < 3; i++) {
      arr.addObject().put("i", i).put("s", "row " + i);
    }

    JsonNodeFactory f = JsonNodeFactory.instance;
    ObjectNode expected = f.objectNode();
    expected.put("name", tricky).put("count", 3).put("ratio", 0.25).putNull("nan").put("up", true);
    expected.putNull("missing");
    ArrayNode list = expected.putObject("inner\"key").putObject("deeper").putArray("list");
    list.add("a").add(tricky).addObject().put("x", -1);
    ArrayNode rows = expected.putArray("rows");
    for (int i = 0; i < 3; i++) {
      rows.addObject().put("i", i).put("s", "row " + i);
    }

    JsonNode parsed = JSON.readTree(o.toString());
    assertEquals(expected, parsed);
    assertEquals(o.toString(), o.toString(), "writing twice gives the same text");
  }

  @Test
  void textReadsAStringOrEmpty() {
    JsonText.Obj o = JsonText.object().put("s", "v").put("n", 5);
    assertEquals("v", o.text("s"));
    assertEquals("5", o.text("n"));
    assertEquals("", o.text("absent"));
  }
}
