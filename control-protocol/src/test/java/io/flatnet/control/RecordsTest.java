package io.flatnet.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class RecordsTest {
  static final PortSpec PORT =
      new PortSpec("p0", "0000:01:00.0", "uplink", List.of("10.0.0.1/24", "fd00::1/64"), 9000);
  static final PortSpec BARE_PORT = new PortSpec("p1", null, null, List.of(), 1500);
  static final PodSpec POD =
      new PodSpec(
          "default/vm-1",
          PodKinds.VHOST_USER,
          "/run/flatnet/vm-1.sock",
          "client",
          null,
          List.of("10.244.1.5", "fd00:244:1::5"),
          "02:00:00:00:00:05",
          List.of("10.244.1.1", "fd00:244:1::1"));
  static final PodSpec BARE_POD =
      new PodSpec("ns/é-✓-😀", PodKinds.BRIDGE, null, null, null, List.of(), null, List.of());
  static final RouteSpec ROUTE = new RouteSpec("10.244.2.0/24", "10.0.0.2", "p0");
  static final RouteSpec ON_LINK = new RouteSpec("fd00:2::/64", null, "p0");
  static final RouteSpec ECMP =
      RouteSpec.multipath(
          "10.244.8.0/24",
          List.of(new RouteSpec.Path("10.1.0.1", "p0", 1), new RouteSpec.Path("10.2.0.1", "p1", 3)),
          RouteSpec.ORIGIN_BGP);

  static final PolicySpec POLICY =
      new PolicySpec(
          "default/vm-1",
          List.of("10.244.1.5", "fd00:244:1::5"),
          true,
          false,
          List.of(
              new PolicySpec.Rule(
                  "default/allow-web",
                  0,
                  false,
                  List.of(
                      new PolicySpec.Peer("10.0.0.0/8", List.of("10.1.0.0/16", "10.2.0.0/16")),
                      new PolicySpec.Peer("fd00:244:2::7/128", List.of())),
                  false,
                  List.of(
                      new PolicySpec.PortRange("TCP", 80, 80),
                      new PolicySpec.PortRange("UDP", 1000, 2000))),
              new PolicySpec.Rule("default/allow-all", 1, true, List.of(), true, List.of())),
          List.of());
  static final PolicySpec DENY_ALL =
      new PolicySpec("ns/é-✓-😀", List.of(), true, true, List.of(), List.of());

  static final State STATE =
      State.of(
          42,
          List.of(PORT, BARE_PORT),
          List.of(POD, BARE_POD),
          List.of(ROUTE, ON_LINK),
          List.of(POLICY, DENY_ALL));

  private static <T> T roundTrip(Records.Writer w, Function<Records.Reader, T> read) {
    Records.Reader r = new Records.Reader(w.buffer(), 0, w.length());
    T t = read.apply(r);
    assertEquals(0, r.remaining(), "the reader consumed the whole record");
    return t;
  }

  @Test
  void specsRoundTrip() {
    assertEquals(PORT, roundTrip(new Records.Writer().put(PORT), Records.Reader::getPort));
    assertEquals(
        BARE_PORT, roundTrip(new Records.Writer().put(BARE_PORT), Records.Reader::getPort));
    assertEquals(POD, roundTrip(new Records.Writer().put(POD), Records.Reader::getPod));
    assertEquals(BARE_POD, roundTrip(new Records.Writer().put(BARE_POD), Records.Reader::getPod));
    assertEquals(ROUTE, roundTrip(new Records.Writer().put(ROUTE), Records.Reader::getRoute));
    assertEquals(ON_LINK, roundTrip(new Records.Writer().put(ON_LINK), Records.Reader::getRoute));
    assertEquals(ECMP, roundTrip(new Records.Writer().put(ECMP), Records.Reader::getRoute));
    assertEquals(2, ECMP.effectivePaths().size());
    assertEquals(RouteSpec.ORIGIN_BGP, ECMP.origin());
    assertEquals(POLICY, roundTrip(new Records.Writer().put(POLICY), Records.Reader::getPolicy));
    assertEquals(
        DENY_ALL, roundTrip(new Records.Writer().put(DENY_ALL), Records.Reader::getPolicy));
  }

  @Test
  void statesRoundTrip() {
    assertEquals(STATE, roundTrip(new Records.Writer().put(STATE), Records.Reader::getState));
    assertEquals(
        State.EMPTY, roundTrip(new Records.Writer().put(State.EMPTY), Records.Reader::getState));
  }

  @Test
  void scalarsStringsAndMapsRoundTrip() {
    Map<String, String> map = new LinkedHashMap<>();
    map.put("src", "10.0.0.1");
    map.put("nothing", null);
    map.put("", "empty key");
    Records.Writer w =
        new Records.Writer()
            .putLong(Long.MIN_VALUE)
            .putInt(-7)
            .putString(null)
            .putString("")
            .putString("ünïcödé 😀")
            .putStrings(List.of())
            .putStrings(List.of("a", "", "c"))
            .put(map)
            .put(Map.of());
    Records.Reader r = new Records.Reader(w.buffer(), 0, w.length());
    assertEquals(Long.MIN_VALUE, r.getLong());
    assertEquals(-7, r.getInt());
    assertNull(r.getString());
    assertEquals("", r.getString());
    assertEquals("ünïcödé 😀", r.getString());
    assertEquals(List.of(), r.getStrings());
    assertEquals(List.of("a", "", "c"), r.getStrings());
    Map<String, String> back = r.getMap();
    assertEquals(map, back);
    assertEquals(List.copyOf(map.keySet()), List.copyOf(back.keySet()), "order kept");
    assertEquals(Map.of(), r.getMap());
    assertEquals(0, r.remaining());
  }

  @Test
  void readsAtAnOffset() {
    Records.Writer w = new Records.Writer().putLong(99).put(ROUTE);
    Records.Reader r = new Records.Reader(w.buffer(), Long.BYTES, w.length() - Long.BYTES);
    assertEquals(ROUTE, r.getRoute());
  }

  @Test
  void writerResetStartsOver() {
    Records.Writer w = new Records.Writer().put(STATE);
    w.reset().put(ROUTE);
    assertEquals(ROUTE, roundTrip(w, Records.Reader::getRoute));
  }

  @Test
  void writerGrowsPastItsInitialBuffer() {
    String big = "x".repeat(100_000);
    Records.Writer w = new Records.Writer().putString(big).putString(big);
    Records.Reader r = new Records.Reader(w.buffer(), 0, w.length());
    assertEquals(big, r.getString());
    assertEquals(big, r.getString());
  }

  /**
   * Every strict prefix of a record is a truncated record: reading it throws
   * IllegalArgumentException, even though the buffer behind the reader holds the rest (the reader
   * must check its limit, not rely on the buffer's bounds), and also over an exact-size copy.
   */
  @Test
  void everyTruncationOfAStateThrowsIllegalArgument() {
    Records.Writer w = new Records.Writer().put(STATE);
    byte[] bytes = new byte[w.length()];
    w.buffer().getBytes(0, bytes);
    for (int length = 0; length < w.length(); length++) {
      int n = length;
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> new Records.Reader(w.buffer(), 0, n).getState(),
              "prefix of " + n + " bytes");
      assertTrue(
          e.getMessage().startsWith("truncated record") || e.getMessage().startsWith("bad count"),
          e.getMessage());
      byte[] prefix = java.util.Arrays.copyOf(bytes, n);
      assertThrows(
          IllegalArgumentException.class,
          () -> new Records.Reader(new UnsafeBuffer(prefix), 0, n).getState(),
          "exact-size prefix of " + n + " bytes");
    }
  }

  @Test
  void everyTruncationOfSpecsThrowsIllegalArgument() {
    List<Records.Writer> writers =
        List.of(
            new Records.Writer().put(PORT),
            new Records.Writer().put(POD),
            new Records.Writer().put(ROUTE));
    List<Function<Records.Reader, ?>> readers =
        List.of(Records.Reader::getPort, Records.Reader::getPod, Records.Reader::getRoute);
    for (int i = 0; i < writers.size(); i++) {
      Records.Writer w = writers.get(i);
      Function<Records.Reader, ?> read = readers.get(i);
      for (int length = 0; length < w.length(); length++) {
        Records.Reader r = new Records.Reader(w.buffer(), 0, length);
        assertThrows(IllegalArgumentException.class, () -> read.apply(r));
      }
    }
  }

  @Test
  void truncatedMessageSaysHowMuchWasWantedAndLeft() {
    Records.Writer w = new Records.Writer().putInt(7);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new Records.Reader(w.buffer(), 0, w.length()).getLong());
    assertEquals("truncated record: 8 bytes wanted, 4 left", e.getMessage());
  }

  @Test
  void absurdLengthsAndCountsThrowIllegalArgument() {
    // A string length near Integer.MAX_VALUE: position + length must not overflow past the check.
    for (int n : new int[] {Integer.MAX_VALUE, Integer.MAX_VALUE - 3, 1 << 30, -2, -100}) {
      Records.Writer w = new Records.Writer().putLong(1).putInt(n).putString("abc");
      Records.Reader r = new Records.Reader(w.buffer(), 0, w.length());
      r.getLong();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::getString);
      assertTrue(e.getMessage().startsWith("truncated record"), e.getMessage());
    }
    for (int n : new int[] {Integer.MAX_VALUE, 1 << 20, -1, Integer.MIN_VALUE}) {
      Records.Writer w = new Records.Writer().putInt(n).putString("abc");
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> new Records.Reader(w.buffer(), 0, w.length()).getStrings());
      assertTrue(e.getMessage().startsWith("bad count " + n), e.getMessage());
      assertThrows(
          IllegalArgumentException.class,
          () -> new Records.Reader(w.buffer(), 0, w.length()).getMap());
      Records.Writer s = new Records.Writer().putLong(1).putInt(n);
      assertThrows(
          IllegalArgumentException.class,
          () -> new Records.Reader(s.buffer(), 0, s.length()).getState());
    }
  }

  @Test
  void aStateWithDuplicateKeysIsRefused() {
    Records.Writer w = new Records.Writer().putLong(1).putInt(2).put(PORT).put(PORT);
    w.putInt(0).putInt(0).putInt(0);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new Records.Reader(w.buffer(), 0, w.length()).getState());
    assertEquals("duplicate PORT p0", e.getMessage());
  }
}
