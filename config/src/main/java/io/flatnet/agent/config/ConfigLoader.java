package io.flatnet.agent.config;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the node config YAML into a {@link NodeConfig}. Strict: an unknown key anywhere is an error
 * naming its path and the closest known key ({@code pods[2].sockt: unknown key (did you mean
 * socket?)}), as is a duplicate key or a value of the wrong type. Every unknown key is reported,
 * not just the first; binding itself runs with {@link
 * DeserializationFeature#FAIL_ON_UNKNOWN_PROPERTIES} as a backstop.
 *
 * <p>Only the shape is checked here; run {@link ConfigValidator} on the result.
 */
public final class ConfigLoader {

  private static final ObjectMapper MAPPER =
      YAMLMapper.builder(YAMLFactory.builder().build())
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .build();

  private ConfigLoader() {}

  /** Reads and parses {@code file}. */
  public static NodeConfig load(Path file) throws ConfigException {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new ConfigException(
          file.toString(),
          List.of(new ConfigError("(file)", file.toString(), "cannot read: " + e)));
    }
    return parse(text, file.toString());
  }

  /** Parses YAML text; {@code source} names it in the exception message. */
  public static NodeConfig parse(String yaml, String source) throws ConfigException {
    JsonNode tree;
    try {
      tree = MAPPER.readTree(yaml);
    } catch (JacksonException e) {
      throw new ConfigException(source, List.of(syntaxError(e)));
    }
    if (tree == null || tree.isMissingNode() || tree.isNull()) {
      throw new ConfigException(
          source, List.of(new ConfigError("(file)", null, "config is empty")));
    }
    if (!tree.isObject()) {
      throw new ConfigException(
          source,
          List.of(
              new ConfigError(
                  "(file)", null, "expected a mapping with node, ports, pods, ... at the top")));
    }
    List<ConfigError> unknown = new ArrayList<>();
    checkKeys(tree, NodeConfig.class, "", unknown);
    if (!unknown.isEmpty()) {
      throw new ConfigException(source, unknown);
    }
    try {
      NodeConfig config = MAPPER.treeToValue(tree, NodeConfig.class);
      if (config == null) {
        throw new ConfigException(
            source, List.of(new ConfigError("(file)", null, "config is empty")));
      }
      return config;
    } catch (JacksonException e) {
      throw new ConfigException(source, List.of(bindError(e)));
    }
  }

  /**
   * Binds a {@code policy:} section given as a tree (the Kubernetes watch builds one), with the
   * same strict key and type checks as a config file's; paths start with {@code policy}.
   */
  public static io.flatnet.agent.config.policy.PolicySection parsePolicySection(
      JsonNode tree, String source) throws ConfigException {
    List<ConfigError> unknown = new ArrayList<>();
    checkKeys(tree, io.flatnet.agent.config.policy.PolicySection.class, "policy", unknown);
    if (!unknown.isEmpty()) {
      throw new ConfigException(source, unknown);
    }
    try {
      return MAPPER.treeToValue(tree, io.flatnet.agent.config.policy.PolicySection.class);
    } catch (JacksonException e) {
      throw new ConfigException(source, List.of(bindError(e)));
    }
  }

  /** The JSON key names of a record's components, in declaration order. */
  static Map<String, Type> keysOf(Class<?> record) {
    Map<String, Type> keys = new LinkedHashMap<>();
    for (RecordComponent rc : record.getRecordComponents()) {
      JsonProperty p = rc.getAccessor().getAnnotation(JsonProperty.class);
      String name = p != null && !p.value().isEmpty() ? p.value() : rc.getName();
      keys.put(name, rc.getGenericType());
    }
    return keys;
  }

  private static void checkKeys(JsonNode node, Type type, String path, List<ConfigError> out) {
    if (type instanceof Class<?> c && c.isRecord() && !isScalarRecord(c)) {
      if (!node.isObject()) {
        return; // a type error, reported by binding
      }
      Map<String, Type> keys = keysOf(c);
      for (Map.Entry<String, JsonNode> e : node.properties()) {
        String childPath = path.isEmpty() ? e.getKey() : path + "." + e.getKey();
        Type childType = keys.get(e.getKey());
        if (childType == null) {
          out.add(new ConfigError(childPath, null, unknownKeyMessage(e.getKey(), keys.keySet())));
        } else {
          checkKeys(e.getValue(), childType, childPath, out);
        }
      }
    } else if (type instanceof ParameterizedType pt
        && pt.getRawType() == List.class
        && node.isArray()) {
      Type element = pt.getActualTypeArguments()[0];
      for (int i = 0; i < node.size(); i++) {
        checkKeys(node.get(i), element, path + "[" + i + "]", out);
      }
    }
  }

  /** A record bound from a scalar (a delegating creator, such as IntOrString): it has no keys. */
  private static boolean isScalarRecord(Class<?> c) {
    for (java.lang.reflect.Method m : c.getDeclaredMethods()) {
      JsonCreator jc = m.getAnnotation(JsonCreator.class);
      if (jc != null && jc.mode() == JsonCreator.Mode.DELEGATING) {
        return true;
      }
    }
    return false;
  }

  /** "unknown key (did you mean socket?)" or "unknown key (known keys: a, b, c)". */
  static String unknownKeyMessage(String key, Iterable<String> known) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    List<String> all = new ArrayList<>();
    for (String k : known) {
      all.add(k);
      int d =
          distance(key.toLowerCase(java.util.Locale.ROOT), k.toLowerCase(java.util.Locale.ROOT));
      if (d < bestDistance) {
        bestDistance = d;
        best = k;
      }
    }
    if (best != null && bestDistance <= Math.max(2, key.length() / 3)) {
      return "unknown key (did you mean " + best + "?)";
    }
    return "unknown key (known keys: " + String.join(", ", all) + ")";
  }

  /** Levenshtein distance with adjacent transpositions (optimal string alignment). */
  static int distance(String a, String b) {
    int[][] d = new int[a.length() + 1][b.length() + 1];
    for (int i = 0; i <= a.length(); i++) {
      d[i][0] = i;
    }
    for (int j = 0; j <= b.length(); j++) {
      d[0][j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
        if (i > 1
            && j > 1
            && a.charAt(i - 1) == b.charAt(j - 2)
            && a.charAt(i - 2) == b.charAt(j - 1)) {
          d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    return d[a.length()][b.length()];
  }

  private static ConfigError syntaxError(JacksonException e) {
    JsonLocation loc = e.getLocation();
    String where =
        loc == null ? "(file)" : "line " + loc.getLineNr() + ", column " + loc.getColumnNr();
    String msg = "YAML syntax error: " + e.getOriginalMessage();
    if (e.getOriginalMessage() != null && e.getOriginalMessage().contains("numeric value")) {
      msg +=
          " (YAML 1.1 reads unquoted values with colons, such as 0000:00:08.0 or"
              + " 10:20:30:40:50:59, as numbers: quote them)";
    }
    return new ConfigError(where, null, msg);
  }

  private static ConfigError bindError(JacksonException e) {
    String path = "(file)";
    if (e instanceof JsonMappingException jme) {
      path = pathOf(jme.getPath());
    }
    if (e instanceof UnrecognizedPropertyException upe) {
      List<String> known = new ArrayList<>();
      if (upe.getKnownPropertyIds() != null) {
        upe.getKnownPropertyIds().forEach(o -> known.add(String.valueOf(o)));
      }
      return new ConfigError(path, null, unknownKeyMessage(upe.getPropertyName(), known));
    }
    if (e instanceof ValueInstantiationException vie && vie.getCause() != null) {
      // a creator's own message (IntOrString: "expected a port number or a port name, ...")
      return new ConfigError(path, null, vie.getCause().getMessage());
    }
    if (e instanceof InvalidFormatException ife) {
      return new ConfigError(
          path, String.valueOf(ife.getValue()), "expected " + describe(ife.getTargetType()));
    }
    if (e instanceof MismatchedInputException mie && mie.getTargetType() != null) {
      return new ConfigError(path, null, "expected " + describe(mie.getTargetType()));
    }
    return new ConfigError(path, null, e.getOriginalMessage());
  }

  private static String describe(Class<?> t) {
    if (t == Integer.class || t == int.class || t == Long.class || t == long.class) {
      return "an integer";
    }
    if (t == String.class) {
      return "a string";
    }
    if (List.class.isAssignableFrom(t)) {
      return "a list";
    }
    if (t.isRecord()) {
      return "a mapping with keys " + String.join(", ", keysOf(t).keySet());
    }
    return t.getSimpleName();
  }

  private static String pathOf(List<JsonMappingException.Reference> refs) {
    StringBuilder sb = new StringBuilder();
    for (JsonMappingException.Reference r : refs) {
      if (r.getFieldName() != null) {
        if (!sb.isEmpty()) {
          sb.append('.');
        }
        sb.append(r.getFieldName());
      } else if (r.getIndex() >= 0) {
        sb.append('[').append(r.getIndex()).append(']');
      }
    }
    return sb.isEmpty() ? "(file)" : sb.toString();
  }
}
