package io.flatnet.perf.e2e;

import java.util.Locale;

/**
 * A minimal streaming JSON writer (objects, arrays, strings, numbers, booleans), enough for the
 * bench's report without a library. Non-finite numbers are written as {@code null}.
 */
public final class Json {
  private final StringBuilder out = new StringBuilder();
  private boolean needComma;

  public Json beginObject() {
    comma();
    out.append('{');
    needComma = false;
    return this;
  }

  public Json endObject() {
    out.append('}');
    needComma = true;
    return this;
  }

  public Json beginArray() {
    comma();
    out.append('[');
    needComma = false;
    return this;
  }

  public Json endArray() {
    out.append(']');
    needComma = true;
    return this;
  }

  /** Writes a key; the next call writes its value. */
  public Json key(String key) {
    comma();
    string(key);
    out.append(':');
    needComma = false;
    return this;
  }

  public Json value(String s) {
    comma();
    if (s == null) {
      out.append("null");
    } else {
      string(s);
    }
    needComma = true;
    return this;
  }

  public Json value(double d) {
    comma();
    if (Double.isFinite(d)) {
      if (d == Math.rint(d) && Math.abs(d) < 1e15) {
        out.append((long) d);
      } else {
        out.append(String.format(Locale.ROOT, "%.6g", d).replaceFirst("\\.?0+(e|$)", "$1"));
      }
    } else {
      out.append("null");
    }
    needComma = true;
    return this;
  }

  public Json value(long n) {
    comma();
    out.append(n);
    needComma = true;
    return this;
  }

  public Json value(boolean b) {
    comma();
    out.append(b);
    needComma = true;
    return this;
  }

  public Json field(String key, String v) {
    return key(key).value(v);
  }

  public Json field(String key, double v) {
    return key(key).value(v);
  }

  public Json field(String key, long v) {
    return key(key).value(v);
  }

  public Json field(String key, boolean v) {
    return key(key).value(v);
  }

  public Json array(String key, double[] values) {
    key(key).beginArray();
    for (double v : values) {
      value(v);
    }
    return endArray();
  }

  public Json array(String key, long[] values) {
    key(key).beginArray();
    for (long v : values) {
      value(v);
    }
    return endArray();
  }

  public Json array(String key, Iterable<String> values) {
    key(key).beginArray();
    for (String v : values) {
      value(v);
    }
    return endArray();
  }

  private void comma() {
    if (needComma) {
      out.append(',');
    }
    needComma = false;
  }

  private void string(String s) {
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
            out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }

  @Override
  public String toString() {
    return out.toString();
  }
}
