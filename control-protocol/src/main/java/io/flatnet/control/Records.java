package io.flatnet.control;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;

/**
 * The command channel's records: message types and the flat binary layout of the specs, written and
 * read in one place. Every command starts with its correlation id (a long); a response is {@code
 * [correlation id][status int][more int][payload...]}, and a payload longer than {@link
 * CommandChannel#CHUNK} is split over several responses with {@code more} set on all but the last.
 * Strings are an int length (-1 for null) and UTF-8 bytes; lists are an int count and their items.
 */
public final class Records {
  private Records() {}

  // Commands (agent -> dataplane).
  public static final int HELLO = 1;
  public static final int INSTALLED = 2;
  public static final int ADD_PORT = 3;
  public static final int REMOVE_PORT = 4;
  public static final int ADD_POD = 5;
  public static final int REMOVE_POD = 6;
  public static final int ADD_ROUTE = 7;
  public static final int REMOVE_ROUTE = 8;
  public static final int REPLACE_ROUTE = 9;
  public static final int COMMIT = 10;
  public static final int POD_PROBLEMS = 11;
  public static final int QUERY = 12;
  public static final int SET_POLICY = 13;
  public static final int REMOVE_POLICY = 14;

  /**
   * A batch of route changes, in one or more parts (protocol 4): {@code [batch id long][protocol
   * version int][part int][last int][generation long][count int][changes...]}, each change {@code
   * [kind int][route]} and, for a replace, {@code [previous route]}. Parts of one batch share its
   * id and come in order; only the last is answered: OK with the count applied, or REFUSED/FAILED
   * with {@code [message][index int]} (the change that failed, -1 for the batch as a whole). The
   * dataplane applies the whole batch when the last part comes, atomically, and commits {@code
   * generation} with it unless it is negative.
   */
  public static final int ROUTE_BATCH = 15;

  /** The one response type (dataplane -> agent). */
  public static final int RESPONSE = 100;

  public static final int OK = 0;

  /** The command was refused: the request was wrong (IllegalArgumentException's message). */
  public static final int REFUSED = 1;

  /** The command failed in the dataplane (any other exception's message). */
  public static final int FAILED = 2;

  /** The command type is not one this dataplane knows. */
  public static final int UNKNOWN = 3;

  /** Appends to a growing buffer. */
  public static final class Writer {
    private final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(256);
    private int length;

    public Writer reset() {
      length = 0;
      return this;
    }

    public ExpandableArrayBuffer buffer() {
      return buffer;
    }

    public int length() {
      return length;
    }

    public Writer putLong(long v) {
      buffer.putLong(length, v);
      length += Long.BYTES;
      return this;
    }

    public Writer putInt(int v) {
      buffer.putInt(length, v);
      length += Integer.BYTES;
      return this;
    }

    public Writer putString(String s) {
      if (s == null) {
        return putInt(-1);
      }
      byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
      putInt(bytes.length);
      buffer.putBytes(length, bytes);
      length += bytes.length;
      return this;
    }

    public Writer putStrings(List<String> list) {
      putInt(list.size());
      list.forEach(this::putString);
      return this;
    }

    public Writer putBytes(DirectBuffer src, int offset, int count) {
      buffer.putBytes(length, src, offset, count);
      length += count;
      return this;
    }

    public Writer put(PortSpec p) {
      return putString(p.name())
          .putString(p.device())
          .putString(p.role())
          .putStrings(p.addresses())
          .putInt(p.mtu());
    }

    public Writer put(PodSpec p) {
      return putString(p.name())
          .putString(p.kind())
          .putString(p.socket())
          .putString(p.mode())
          .putString(p.iface())
          .putStrings(p.ips())
          .putString(p.mac())
          .putStrings(p.gateways());
    }

    public Writer put(RouteSpec r) {
      putString(r.prefix()).putString(r.via()).putString(r.port());
      putInt(r.paths().size());
      for (RouteSpec.Path path : r.paths()) {
        putString(path.via()).putString(path.port()).putInt(path.weight());
      }
      return putString(r.origin());
    }

    public Writer put(RouteChange c) {
      putInt(c.kind().ordinal()).put(c.route());
      return c.previous() == null ? this : put(c.previous());
    }

    public Writer put(PolicySpec p) {
      putString(p.pod()).putStrings(p.addresses());
      putInt((p.ingressIsolated() ? 1 : 0) | (p.egressIsolated() ? 2 : 0));
      putRules(p.ingress());
      return putRules(p.egress());
    }

    private Writer putRules(List<PolicySpec.Rule> rules) {
      putInt(rules.size());
      for (PolicySpec.Rule r : rules) {
        putString(r.policy()).putInt(r.rule());
        putInt((r.anyPeer() ? 1 : 0) | (r.anyPort() ? 2 : 0));
        putInt(r.peers().size());
        for (PolicySpec.Peer peer : r.peers()) {
          putString(peer.cidr()).putStrings(peer.except());
        }
        putInt(r.ports().size());
        for (PolicySpec.PortRange range : r.ports()) {
          putString(range.protocol()).putInt(range.first()).putInt(range.last());
        }
      }
      return this;
    }

    public Writer put(State s) {
      putLong(s.generation());
      putInt(s.ports().size());
      s.ports().values().forEach(this::put);
      putInt(s.pods().size());
      s.pods().values().forEach(this::put);
      putInt(s.routes().size());
      s.routes().values().forEach(this::put);
      putInt(s.policies().size());
      s.policies().values().forEach(this::put);
      return this;
    }

    public Writer put(Map<String, String> map) {
      putInt(map.size());
      map.forEach(
          (k, v) -> {
            putString(k);
            putString(v);
          });
      return this;
    }
  }

  /** Reads what a {@link Writer} wrote, in the same order; a short record throws. */
  public static final class Reader {
    private final DirectBuffer buffer;
    private final int limit;
    private int position;

    public Reader(DirectBuffer buffer, int offset, int length) {
      this.buffer = buffer;
      this.position = offset;
      this.limit = offset + length;
    }

    private void need(int bytes) {
      if (bytes < 0 || bytes > limit - position) { // not position + bytes: it may overflow
        throw new IllegalArgumentException(
            "truncated record: " + bytes + " bytes wanted, " + (limit - position) + " left");
      }
    }

    public int remaining() {
      return limit - position;
    }

    public int position() {
      return position;
    }

    public long getLong() {
      need(Long.BYTES);
      long v = buffer.getLong(position);
      position += Long.BYTES;
      return v;
    }

    public int getInt() {
      need(Integer.BYTES);
      int v = buffer.getInt(position);
      position += Integer.BYTES;
      return v;
    }

    public String getString() {
      int n = getInt();
      if (n == -1) {
        return null;
      }
      need(n);
      byte[] bytes = new byte[n];
      buffer.getBytes(position, bytes);
      position += n;
      return new String(bytes, StandardCharsets.UTF_8);
    }

    private int count() {
      int n = getInt();
      if (n < 0 || n > remaining()) {
        throw new IllegalArgumentException("bad count " + n + " in a record");
      }
      return n;
    }

    public List<String> getStrings() {
      int n = count();
      List<String> list = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        list.add(getString());
      }
      return list;
    }

    public PortSpec getPort() {
      return new PortSpec(getString(), getString(), getString(), getStrings(), getInt());
    }

    public PodSpec getPod() {
      return new PodSpec(
          getString(),
          getString(),
          getString(),
          getString(),
          getString(),
          getStrings(),
          getString(),
          getStrings());
    }

    public RouteSpec getRoute() {
      String prefix = getString();
      String via = getString();
      String port = getString();
      int n = count();
      List<RouteSpec.Path> paths = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        paths.add(new RouteSpec.Path(getString(), getString(), getInt()));
      }
      return new RouteSpec(prefix, via, port, paths, getString());
    }

    public RouteChange getRouteChange() {
      int kind = getInt();
      RouteChange.Kind[] kinds = RouteChange.Kind.values();
      if (kind < 0 || kind >= kinds.length) {
        throw new IllegalArgumentException("bad route change kind " + kind);
      }
      RouteSpec route = getRoute();
      RouteSpec previous = kinds[kind] == RouteChange.Kind.REPLACE ? getRoute() : null;
      return new RouteChange(kinds[kind], route, previous);
    }

    public PolicySpec getPolicy() {
      String pod = getString();
      List<String> addresses = getStrings();
      int flags = getInt();
      List<PolicySpec.Rule> ingress = getRules();
      List<PolicySpec.Rule> egress = getRules();
      return new PolicySpec(pod, addresses, (flags & 1) != 0, (flags & 2) != 0, ingress, egress);
    }

    private List<PolicySpec.Rule> getRules() {
      List<PolicySpec.Rule> rules = new ArrayList<>();
      for (int i = count(); i > 0; i--) {
        String policy = getString();
        int rule = getInt();
        int flags = getInt();
        List<PolicySpec.Peer> peers = new ArrayList<>();
        for (int j = count(); j > 0; j--) {
          peers.add(new PolicySpec.Peer(getString(), getStrings()));
        }
        List<PolicySpec.PortRange> ports = new ArrayList<>();
        for (int j = count(); j > 0; j--) {
          ports.add(new PolicySpec.PortRange(getString(), getInt(), getInt()));
        }
        rules.add(
            new PolicySpec.Rule(policy, rule, (flags & 1) != 0, peers, (flags & 2) != 0, ports));
      }
      return rules;
    }

    public State getState() {
      long generation = getLong();
      List<PortSpec> ports = new ArrayList<>();
      for (int i = count(); i > 0; i--) {
        ports.add(getPort());
      }
      List<PodSpec> pods = new ArrayList<>();
      for (int i = count(); i > 0; i--) {
        pods.add(getPod());
      }
      List<RouteSpec> routes = new ArrayList<>();
      for (int i = count(); i > 0; i--) {
        routes.add(getRoute());
      }
      List<PolicySpec> policies = new ArrayList<>();
      for (int i = count(); i > 0; i--) {
        policies.add(getPolicy());
      }
      return State.of(generation, ports, pods, routes, policies);
    }

    public Map<String, String> getMap() {
      Map<String, String> map = new LinkedHashMap<>();
      for (int i = count(); i > 0; i--) {
        map.put(getString(), getString());
      }
      return map;
    }
  }
}
