package io.flatnet.control;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON tree for the dataplane's query answers: the dataplane process has no JSON library
 * (it keeps its classpath small), and its answers are objects, arrays, strings and numbers only.
 * The agent parses the text with Jackson.
 */
public final class JsonText {
  private JsonText() {}

  /** An object; keys keep their insertion order. */
  public static final class Obj {
    private final Map<String, Object> fields = new LinkedHashMap<>();

    public Obj put(String key, String value) {
      fields.put(key, value);
      return this;
    }

    public Obj put(String key, long value) {
      fields.put(key, value);
      return this;
    }

    public Obj put(String key, boolean value) {
      fields.put(key, value);
      return this;
    }

    public Obj put(String key, double value) {
      fields.put(key, value);
      return this;
    }

    public Obj putObject(String key) {
      Obj o = new Obj();
      fields.put(key, o);
      return o;
    }

    public Arr putArray(String key) {
      Arr a = new Arr();
      fields.put(key, a);
      return a;
    }

    /** The string at {@code key}, or "" (like Jackson's {@code path(key).asText()}). */
    public String text(String key) {
      Object v = fields.get(key);
      return v == null ? "" : v.toString();
    }

    @Override
    public String toString() {
      StringBuilder b = new StringBuilder();
      write(this, b);
      return b.toString();
    }
  }

  /** An array. */
  public static final class Arr {
    private final List<Object> items = new ArrayList<>();

    public Obj addObject() {
      Obj o = new Obj();
      items.add(o);
      return o;
    }

    public Arr add(String value) {
      items.add(value);
      return this;
    }

    public int size() {
      return items.size();
    }

    @Override
    public String toString() {
      StringBuilder b = new StringBuilder();
      write(this, b);
      return b.toString();
    }
  }

  public static Obj object() {
    return new Obj();
  }

  public static Arr array() {
    return new Arr();
  }

  private static void write(Object v, StringBuilder b) {
    switch (v) {
      case null -> b.append("null");
      case Obj o -> {
        b.append('{');
        boolean first = true;
        for (Map.Entry<String, Object> e : o.fields.entrySet()) {
          if (!first) {
            b.append(',');
          }
          first = false;
          string(e.getKey(), b);
          b.append(':');
          write(e.getValue(), b);
        }
        b.append('}');
      }
      case Arr a -> {
        b.append('[');
        for (int i = 0; i < a.items.size(); i++) {
          if (i > 0) {
            b.append(',');
          }
          write(a.items.get(i), b);
        }
        b.append(']');
      }
      case String s -> string(s, b);
      case Double d when d.isNaN() || d.isInfinite() -> b.append("null");
      default -> b.append(v); // Long, Double, Boolean
    }
  }

  private static void string(String s, StringBuilder b) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    b.append('"');
  }
}
