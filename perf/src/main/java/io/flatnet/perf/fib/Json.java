package io.flatnet.perf.fib;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * A minimal JSON writer for the benchmark report: maps (in their iteration order), lists, double
 * and int arrays, numbers, strings, booleans and null. Doubles keep 6 significant digits; NaN and
 * infinities become null.
 */
final class Json {
  private Json() {}

  static String write(Object value) {
    StringBuilder out = new StringBuilder();
    write(out, value, 0);
    return out.append('\n').toString();
  }

  private static void write(StringBuilder out, Object value, int indent) {
    switch (value) {
      case null -> out.append("null");
      case String s -> string(out, s);
      case Boolean b -> out.append(b);
      case Double d -> number(out, d);
      case Float f -> number(out, f);
      case Number n -> out.append(n.longValue());
      case double[] a -> {
        out.append('[');
        for (int i = 0; i < a.length; i++) {
          out.append(i == 0 ? "" : ", ");
          number(out, a[i]);
        }
        out.append(']');
      }
      case int[] a -> {
        out.append('[');
        for (int i = 0; i < a.length; i++) {
          out.append(i == 0 ? "" : ", ").append(a[i]);
        }
        out.append(']');
      }
      case Map<?, ?> map -> {
        if (map.isEmpty()) {
          out.append("{}");
          return;
        }
        out.append("{\n");
        Iterator<? extends Map.Entry<?, ?>> it = map.entrySet().iterator();
        while (it.hasNext()) {
          Map.Entry<?, ?> e = it.next();
          out.repeat(' ', indent + 2);
          string(out, String.valueOf(e.getKey()));
          out.append(": ");
          write(out, e.getValue(), indent + 2);
          out.append(it.hasNext() ? ",\n" : "\n");
        }
        out.repeat(' ', indent).append('}');
      }
      case List<?> list -> {
        if (list.isEmpty()) {
          out.append("[]");
          return;
        }
        out.append("[\n");
        for (int i = 0; i < list.size(); i++) {
          out.repeat(' ', indent + 2);
          write(out, list.get(i), indent + 2);
          out.append(i + 1 < list.size() ? ",\n" : "\n");
        }
        out.repeat(' ', indent).append(']');
      }
      default -> string(out, value.toString());
    }
  }

  private static void number(StringBuilder out, double d) {
    if (Double.isNaN(d) || Double.isInfinite(d)) {
      out.append("null");
    } else if (d == Math.rint(d) && Math.abs(d) < 1e15) {
      out.append((long) d);
    } else {
      out.append(new BigDecimal(d).round(new MathContext(6)).stripTrailingZeros().toPlainString());
    }
  }

  private static void string(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }
}
