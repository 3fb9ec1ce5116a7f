package io.flatnet.perf;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.JsonGeneratorDelegate;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Locale;
import java.util.function.DoubleFunction;

/**
 * The benchmarks' JSON, written with Jackson. Doubles keep 6 significant digits (a whole number
 * without a fraction); NaN and infinities are written as {@code null}.
 *
 * <p>{@link #line} writes one line ({@code bench e2e}'s report, the generator's trial lines), small
 * or large numbers in exponent form ({@code 1.06908e-05}); {@link #pretty} writes an indented
 * object ({@code bench lpm --json}), numbers in plain form ({@code 0.0000106908}).
 */
public final class BenchJson {
  private BenchJson() {}

  private static final ObjectWriter LINE = mapper(BenchJson::sixDigits).writer();

  private static final ObjectWriter PRETTY =
      mapper(BenchJson::sixDigitsPlain)
          .writer(
              new DefaultPrettyPrinter(
                      Separators.createDefaultInstance()
                          .withObjectFieldValueSpacing(Separators.Spacing.AFTER)
                          .withObjectEmptySeparator("")
                          .withArrayValueSpacing(Separators.Spacing.AFTER)
                          .withArrayEmptySeparator(""))
                  .withObjectIndenter(new DefaultIndenter("  ", "\n"))
                  .withArrayIndenter(DefaultPrettyPrinter.NopIndenter.instance));

  private static final ObjectMapper READER = JsonMapper.builder().build();

  /** A new, empty object node. */
  public static ObjectNode object() {
    return JsonNodeFactory.instance.objectNode();
  }

  /** {@code values} as an array node. */
  public static ArrayNode array(double... values) {
    ArrayNode a = JsonNodeFactory.instance.arrayNode(values.length);
    for (double v : values) {
      a.add(v);
    }
    return a;
  }

  /** {@code values} as an array node. */
  public static ArrayNode array(long... values) {
    ArrayNode a = JsonNodeFactory.instance.arrayNode(values.length);
    for (long v : values) {
      a.add(v);
    }
    return a;
  }

  /** {@code value} (a tree, a map, a record, ...) as one line of JSON. */
  public static String line(Object value) {
    try {
      return LINE.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code value} as indented JSON (two spaces, arrays on one line), without a final newline. */
  public static String pretty(Object value) {
    try {
      return PRETTY.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Parses one JSON text. */
  public static JsonNode parse(String text) throws JsonProcessingException {
    return READER.readTree(text);
  }

  /** 6 significant digits as {@code %g} writes them, trailing zeros dropped. */
  static String sixDigits(double d) {
    String s = String.format(Locale.ROOT, "%.6g", d);
    int e = s.indexOf('e');
    String mantissa = e < 0 ? s : s.substring(0, e);
    if (mantissa.indexOf('.') >= 0) { // only a fraction's zeros: 151480 stays 151480
      mantissa = mantissa.replaceFirst("\\.?0+$", "");
    }
    return e < 0 ? mantissa : mantissa + s.substring(e);
  }

  /** 6 significant digits without an exponent, trailing zeros dropped. */
  static String sixDigitsPlain(double d) {
    return new BigDecimal(d).round(new MathContext(6)).stripTrailingZeros().toPlainString();
  }

  private static ObjectMapper mapper(DoubleFunction<String> format) {
    JsonFactory factory =
        JsonFactory.builder().addDecorator((f, g) -> new DoubleFormatting(g, format)).build();
    return JsonMapper.builder(factory).build();
  }

  /** Writes every double (alone or in an array, from any serializer or tree node) in one format. */
  private static final class DoubleFormatting extends JsonGeneratorDelegate {
    private final DoubleFunction<String> format;

    DoubleFormatting(JsonGenerator delegate, DoubleFunction<String> format) {
      super(delegate, false);
      this.format = format;
    }

    @Override
    public void writeNumber(double d) throws IOException {
      if (!Double.isFinite(d)) {
        writeNull();
      } else if (d == Math.rint(d) && Math.abs(d) < 1e15) {
        writeNumber((long) d);
      } else {
        writeNumber(format.apply(d));
      }
    }

    @Override
    public void writeNumber(float f) throws IOException {
      writeNumber((double) f);
    }

    @Override
    public void writeArray(double[] array, int offset, int length) throws IOException {
      writeStartArray(array, length);
      for (int i = offset; i < offset + length; i++) {
        writeNumber(array[i]);
      }
      writeEndArray();
    }
  }
}
