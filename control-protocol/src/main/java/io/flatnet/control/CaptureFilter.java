package io.flatnet.control;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The small packet filter of {@code ctl capture} and {@code ctl trace --live}, in the spirit of
 * tcpdump's: addresses ({@code host 10.244.1.2}, {@code src net 10.244.0.0/16}, {@code dst host
 * fd00::1}), protocols ({@code tcp udp sctp icmp icmp6 ip ip6 arp}, {@code proto 47}) and ports
 * ({@code port 80}, {@code dst port 8000-8080}), joined by {@code and}, {@code or}, {@code not} and
 * parentheses ({@code and} binds tighter). An empty filter matches every packet.
 *
 * <p>It is parsed and compiled once, when the capture starts, into a tree of small final tests over
 * a packet's {@link Fields}; the workers evaluate that tree, allocating nothing.
 */
public final class CaptureFilter {
  /** The fields a filter tests, extracted from a frame by the caller (reused, never allocated). */
  public static final class Fields {
    /** 4, 6, or 0 (not IP: ARP and others). */
    public int family;

    /** IPv4 addresses in the low 32 bits of {@code lo} (hi 0); IPv6 as two big-endian halves. */
    public long srcHi;

    public long srcLo;
    public long dstHi;
    public long dstLo;

    /** The IP protocol (IPv6: the first next header), or -1 when not IP. */
    public int protocol = -1;

    /** TCP/UDP/SCTP ports, or -1 when the packet has none. */
    public int srcPort = -1;

    public int dstPort = -1;

    /** An ARP frame (family 0). */
    public boolean arp;

    public void clear() {
      family = 0;
      srcHi = srcLo = dstHi = dstLo = 0;
      protocol = srcPort = dstPort = -1;
      arp = false;
    }
  }

  /** One compiled test. */
  abstract static sealed class Test permits And, Or, Not, Any, Address, Protocol, Family, Port {
    abstract boolean test(Fields f);
  }

  static final class And extends Test {
    final Test a;
    final Test b;

    And(Test a, Test b) {
      this.a = a;
      this.b = b;
    }

    @Override
    boolean test(Fields f) {
      return a.test(f) && b.test(f);
    }

    @Override
    public String toString() {
      return "(" + a + " and " + b + ")";
    }
  }

  static final class Or extends Test {
    final Test a;
    final Test b;

    Or(Test a, Test b) {
      this.a = a;
      this.b = b;
    }

    @Override
    boolean test(Fields f) {
      return a.test(f) || b.test(f);
    }

    @Override
    public String toString() {
      return "(" + a + " or " + b + ")";
    }
  }

  static final class Not extends Test {
    final Test a;

    Not(Test a) {
      this.a = a;
    }

    @Override
    boolean test(Fields f) {
      return !a.test(f);
    }

    @Override
    public String toString() {
      return "not " + a;
    }
  }

  static final class Any extends Test {
    @Override
    boolean test(Fields f) {
      return true;
    }

    @Override
    public String toString() {
      return "any";
    }
  }

  static final int SRC = 1;
  static final int DST = 2;
  static final int EITHER = SRC | DST;

  static final class Address extends Test {
    final int side;
    final int family;
    final long hi;
    final long lo;
    final long maskHi;
    final long maskLo;
    final String text;

    Address(int side, int family, long hi, long lo, int length, String text) {
      this.side = side;
      this.family = family;
      int bits = family == 4 ? 32 : 128;
      if (length < 0 || length > bits) {
        throw new IllegalArgumentException("prefix length " + length + " out of range: " + text);
      }
      if (family == 4) {
        this.maskHi = 0;
        this.maskLo = length == 0 ? 0 : (0xFFFF_FFFFL << (32 - length)) & 0xFFFF_FFFFL;
      } else {
        this.maskHi = length == 0 ? 0 : length >= 64 ? -1L : -1L << (64 - length);
        this.maskLo = length <= 64 ? 0 : length == 128 ? -1L : -1L << (128 - length);
      }
      this.hi = hi & maskHi;
      this.lo = lo & maskLo;
      this.text = text;
    }

    @Override
    boolean test(Fields f) {
      if (f.family != family) {
        return false;
      }
      return ((side & SRC) != 0 && (f.srcHi & maskHi) == hi && (f.srcLo & maskLo) == lo)
          || ((side & DST) != 0 && (f.dstHi & maskHi) == hi && (f.dstLo & maskLo) == lo);
    }

    @Override
    public String toString() {
      return sideName(side) + "net " + text;
    }
  }

  static final class Protocol extends Test {
    final int protocol;
    final int family; // 0: either family

    Protocol(int protocol, int family) {
      this.protocol = protocol;
      this.family = family;
    }

    @Override
    boolean test(Fields f) {
      return f.protocol == protocol && (family == 0 || f.family == family);
    }

    @Override
    public String toString() {
      return "proto " + protocol + (family == 0 ? "" : " (ipv" + family + ")");
    }
  }

  static final class Family extends Test {
    final int family; // 4, 6, or 0 for ARP

    Family(int family) {
      this.family = family;
    }

    @Override
    boolean test(Fields f) {
      return family == 0 ? f.arp : f.family == family;
    }

    @Override
    public String toString() {
      return family == 4 ? "ip" : family == 6 ? "ip6" : "arp";
    }
  }

  static final class Port extends Test {
    final int side;
    final int first;
    final int last;

    Port(int side, int first, int last) {
      this.side = side;
      this.first = first;
      this.last = last;
    }

    @Override
    boolean test(Fields f) {
      return ((side & SRC) != 0 && f.srcPort >= first && f.srcPort <= last)
          || ((side & DST) != 0 && f.dstPort >= first && f.dstPort <= last);
    }

    @Override
    public String toString() {
      return sideName(side) + "port " + (first == last ? "" + first : first + "-" + last);
    }
  }

  private static String sideName(int side) {
    return side == SRC ? "src " : side == DST ? "dst " : "";
  }

  /** The filter that matches every packet. */
  public static final CaptureFilter ANY = new CaptureFilter("", new Any());

  private final String source;
  private final Test root;

  private CaptureFilter(String source, Test root) {
    this.source = source;
    this.root = root;
  }

  /** True if the packet whose fields are {@code f} passes. */
  public boolean matches(Fields f) {
    return root.test(f);
  }

  /** The expression as given. */
  public String source() {
    return source;
  }

  /** The compiled tree, fully parenthesised (for answers and tests). */
  public String compiled() {
    return root.toString();
  }

  @Override
  public String toString() {
    return source.isEmpty() ? "any" : source;
  }

  /**
   * Parses and compiles {@code expression} (null or blank: every packet).
   *
   * @throws IllegalArgumentException saying what was expected where
   */
  public static CaptureFilter parse(String expression) {
    if (expression == null || expression.isBlank()) {
      return ANY;
    }
    Parser p = new Parser(tokens(expression), expression.trim());
    Test root = p.or();
    if (p.at < p.tokens.size()) {
      throw p.error("unexpected '" + p.tokens.get(p.at) + "'");
    }
    return new CaptureFilter(expression.trim(), root);
  }

  private static List<String> tokens(String s) {
    List<String> out = new ArrayList<>();
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '(' || c == ')' || c == '!' || Character.isWhitespace(c)) {
        if (b.length() > 0) {
          out.add(b.toString());
          b.setLength(0);
        }
        if (!Character.isWhitespace(c)) {
          out.add(String.valueOf(c));
        }
      } else {
        b.append(c);
      }
    }
    if (b.length() > 0) {
      out.add(b.toString());
    }
    return out;
  }

  private static final class Parser {
    final List<String> tokens;
    final String text;
    int at;

    Parser(List<String> tokens, String text) {
      this.tokens = tokens;
      this.text = text;
    }

    IllegalArgumentException error(String what) {
      return new IllegalArgumentException("filter '" + text + "': " + what);
    }

    String peek() {
      return at < tokens.size() ? tokens.get(at).toLowerCase(Locale.ROOT) : null;
    }

    String next(String expected) {
      if (at >= tokens.size()) {
        throw error("expected " + expected + " at the end");
      }
      return tokens.get(at++);
    }

    Test or() {
      Test t = and();
      while ("or".equals(peek()) || "||".equals(peek())) {
        at++;
        t = new Or(t, and());
      }
      return t;
    }

    Test and() {
      Test t = unary();
      while ("and".equals(peek()) || "&&".equals(peek())) {
        at++;
        t = new And(t, unary());
      }
      return t;
    }

    Test unary() {
      String k = peek();
      if (k == null) {
        throw error("expected a term at the end");
      }
      if (k.equals("not") || k.equals("!")) {
        at++;
        return new Not(unary());
      }
      if (k.equals("(")) {
        at++;
        Test t = or();
        if (!")".equals(peek())) {
          throw error("expected ')'");
        }
        at++;
        return t;
      }
      return primitive();
    }

    Test primitive() {
      int side = EITHER;
      String k = peek();
      if (k.equals("src") || k.equals("dst")) {
        side = k.equals("src") ? SRC : DST;
        at++;
        k = peek();
        if (k == null) {
          throw error("expected host, net or port after " + (side == SRC ? "src" : "dst"));
        }
      }
      switch (k) {
        case "host", "net" -> {
          at++;
          return address(side, next("an address"), k.equals("host"));
        }
        case "port", "portrange" -> {
          at++;
          return port(side, next("a port"));
        }
        default -> {}
      }
      if (side != EITHER) {
        return address(side, next("an address"), false);
      }
      at++;
      return switch (k) {
        case "tcp" -> new Protocol(6, 0);
        case "udp" -> new Protocol(17, 0);
        case "sctp" -> new Protocol(132, 0);
        case "icmp" -> new Protocol(1, 4);
        case "icmp6", "icmpv6" -> new Protocol(58, 6);
        case "ip", "ip4", "ipv4" -> new Family(4);
        case "ip6", "ipv6" -> new Family(6);
        case "arp" -> new Family(0);
        case "proto" -> new Protocol(number(next("a protocol number"), 255, "protocol"), 0);
        default -> {
          if (k.contains(".") || k.contains(":")) {
            yield address(EITHER, tokens.get(at - 1), false);
          }
          throw error(
              "unknown term '"
                  + tokens.get(at - 1)
                  + "' (expected host, net, port, src, dst, tcp, udp, sctp, icmp, icmp6, ip,"
                  + " ip6, arp, proto, not, and, or)");
        }
      };
    }

    int number(String s, int max, String what) {
      try {
        int n = Integer.parseInt(s);
        if (n >= 0 && n <= max) {
          return n;
        }
      } catch (NumberFormatException e) {
        // below
      }
      throw error("bad " + what + " '" + s + "' (0.." + max + ")");
    }

    Test port(int side, String s) {
      int dash = s.indexOf('-');
      int first = number(dash < 0 ? s : s.substring(0, dash), 65535, "port");
      int last = dash < 0 ? first : number(s.substring(dash + 1), 65535, "port");
      if (last < first) {
        throw error("empty port range " + s);
      }
      return new Port(side, first, last);
    }

    Test address(int side, String s, boolean host) {
      int slash = s.indexOf('/');
      if (host && slash >= 0) {
        throw error("host takes an address, not a prefix: " + s + " (use net)");
      }
      String address = slash < 0 ? s : s.substring(0, slash);
      boolean v6 = address.contains(":");
      int length = v6 ? 128 : 32;
      if (slash >= 0) {
        length = number(s.substring(slash + 1), v6 ? 128 : 32, "prefix length");
      }
      try {
        if (v6) {
          long[] a = parseIpv6(address);
          return new Address(side, 6, a[0], a[1], length, s);
        }
        return new Address(side, 4, 0, parseIpv4(address) & 0xFFFF_FFFFL, length, s);
      } catch (IllegalArgumentException e) {
        throw error("bad address '" + s + "': " + e.getMessage());
      }
    }
  }

  /** A dotted-quad IPv4 address. */
  static int parseIpv4(String s) {
    String[] parts = s.split("\\.", -1);
    if (parts.length != 4) {
      throw new IllegalArgumentException("expected four dotted numbers");
    }
    int v = 0;
    for (String part : parts) {
      int n;
      try {
        n = Integer.parseInt(part);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("not a number: " + part);
      }
      if (n < 0 || n > 255 || part.isEmpty()) {
        throw new IllegalArgumentException("out of range: " + part);
      }
      v = v << 8 | n;
    }
    return v;
  }

  /** An IPv6 address (with :: and no zone), as two big-endian halves. */
  static long[] parseIpv6(String s) {
    int gap = s.indexOf("::");
    if (gap >= 0 && s.indexOf("::", gap + 1) >= 0) {
      throw new IllegalArgumentException("more than one ::");
    }
    List<Integer> head = groups(gap < 0 ? s : s.substring(0, gap));
    List<Integer> tail = gap < 0 ? List.of() : groups(s.substring(gap + 2));
    int missing = 8 - head.size() - tail.size();
    if ((gap < 0 && missing != 0) || (gap >= 0 && missing < 1)) {
      throw new IllegalArgumentException("expected eight groups");
    }
    int[] all = new int[8];
    for (int i = 0; i < head.size(); i++) {
      all[i] = head.get(i);
    }
    for (int i = 0; i < tail.size(); i++) {
      all[8 - tail.size() + i] = tail.get(i);
    }
    long hi = 0;
    long lo = 0;
    for (int i = 0; i < 4; i++) {
      hi = hi << 16 | all[i];
      lo = lo << 16 | all[i + 4];
    }
    return new long[] {hi, lo};
  }

  private static List<Integer> groups(String s) {
    List<Integer> out = new ArrayList<>();
    if (s.isEmpty()) {
      return out;
    }
    for (String g : s.split(":", -1)) {
      if (g.isEmpty() || g.length() > 4) {
        throw new IllegalArgumentException("bad group '" + g + "'");
      }
      out.add(Integer.parseInt(g, 16));
    }
    return out;
  }
}
