package io.flatnet.route;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class PrefixTest {

  private static void rejects(String text, String... fragments) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> parse(text), text);
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), "message \"" + e.getMessage() + "\" lacks " + f);
    }
  }

  private static Object parse(String text) {
    return text != null && text.contains(":") ? Ipv6Prefix.parse(text) : Ipv4Prefix.parse(text);
  }

  @Test
  void ipv4Parses() {
    Ipv4Prefix p = Ipv4Prefix.parse("10.0.0.0/8");
    assertEquals(0x0A00_0000, p.address());
    assertEquals(8, p.length());
    assertEquals("10.0.0.0/8", p.toString());
    assertEquals(Ipv4Prefix.DEFAULT, Ipv4Prefix.parse("0.0.0.0/0"));
    assertEquals(-1, Ipv4Prefix.parse("255.255.255.255/32").address());
    assertEquals(0x0A00_00FF, Ipv4Prefix.parse("10.0.0.0/24").last());
    assertTrue(p.contains(0x0AFF_FFFF));
  }

  @Test
  void ipv4RejectsBadTextNamingIt() {
    rejects("10.0.0.0/33", "\"10.0.0.0/33\"", "out of range");
    rejects("10.0.0.0/-1", "\"10.0.0.0/-1\"");
    rejects("10.0.0.1/8", "10.0.0.1/8", "host bits set", "10.0.0.0/8");
    rejects("10.0.0/8", "\"10.0.0\"", "10.0.0/8");
    rejects("10.0.0.256/32", "10.0.0.256");
    rejects("10.0.0.01/32", "10.0.0.01");
    rejects("10.0.0.0", "\"10.0.0.0\"", "a.b.c.d/length");
    rejects("10.0.0.0/8/8", "10.0.0.0/8/8");
    rejects("10.0.0.0/", "\"\"");
    rejects("10.0.0.0/ 8", "\" 8\"");
    rejects(" 10.0.0.0/8", " 10.0.0.0");
    rejects("", "\"\"");
    assertThrows(IllegalArgumentException.class, () -> Ipv4Prefix.parse(null));
    assertThrows(IllegalArgumentException.class, () -> new Ipv4Prefix(1, 31));
    assertThrows(IllegalArgumentException.class, () -> new Ipv4Prefix(0, 33));
  }

  @Test
  void ipv6Parses() {
    Ipv6Prefix p = Ipv6Prefix.parse("fd00::/64");
    assertEquals(0xfd00_0000_0000_0000L, p.hi());
    assertEquals(0, p.lo());
    assertEquals("fd00::/64", p.toString());
    assertEquals(Ipv6Prefix.DEFAULT, Ipv6Prefix.parse("::/0"));
    assertArrayEquals(new long[] {0, 1}, Ipv6Prefix.parseAddress("::1"));
    assertArrayEquals(
        new long[] {0x2001_0db8_0000_0000L, 0x0000_0000_0000_0001L},
        Ipv6Prefix.parseAddress("2001:DB8::1"));
    assertArrayEquals(
        new long[] {0, 0x0000_ffff_c000_0201L}, Ipv6Prefix.parseAddress("::ffff:192.0.2.1"));
    assertArrayEquals(
        new long[] {0x0001_0002_0003_0004L, 0x0005_0006_0007_0008L},
        Ipv6Prefix.parseAddress("1:2:3:4:5:6:7:8"));
    assertArrayEquals(new long[] {0x0001_0000_0000_0000L, 0}, Ipv6Prefix.parseAddress("1::"));
    assertEquals(
        "2001:db8::1:0:0:1", Ipv6Prefix.format(0x2001_0db8_0000_0000L, 0x0001_0000_0000_0001L));
    assertEquals("::", Ipv6Prefix.format(0, 0));
    assertEquals("1:0:2::", Ipv6Prefix.format(0x0001_0000_0002_0000L, 0));
  }

  @Test
  void ipv6FormatRoundTrips() {
    Random rnd = new Random(7);
    for (int i = 0; i < 2000; i++) {
      long hi = rnd.nextBoolean() ? rnd.nextLong() : rnd.nextLong() & 0xFFFF_0000_FFFF_0000L;
      long lo = rnd.nextBoolean() ? rnd.nextLong() : rnd.nextLong() & 0x0000_FFFF_0000_0000L;
      String text = Ipv6Prefix.format(hi, lo);
      assertArrayEquals(new long[] {hi, lo}, Ipv6Prefix.parseAddress(text), text);
    }
  }

  @Test
  void ipv6RejectsBadTextNamingIt() {
    rejects("fd00::/129", "\"fd00::/129\"", "out of range");
    rejects("fd00::1/64", "fd00::1/64", "host bits set", "fd00::/64");
    rejects("fd00:::/64", "fd00:::");
    rejects("1::2::3/128", "more than one");
    rejects("1:2:3:4:5:6:7:8:9/128", "more than 8 groups");
    rejects("1:2:3:4:5:6:7/128", "expected 8 groups");
    rejects("12345::/16", "longer than 4 hex digits");
    rejects("fd00::g/128", "unexpected character 'g'");
    rejects("fe80::1%eth0/128", "fe80::1%eth0");
    rejects(":1::/16", "leading single ':'");
    rejects("1:/16", "1:");
    rejects("::1.2.3/128", "embedded IPv4");
    rejects("fd00::", "expected address/length");
    assertThrows(IllegalArgumentException.class, () -> new Ipv6Prefix(0, 1, 64));
    assertThrows(IllegalArgumentException.class, () -> new Ipv6Prefix(0, 0, 129));
  }
}
