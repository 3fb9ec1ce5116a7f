package io.flatnet.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CaptureFilterTest {
  private static CaptureFilter.Fields v4(String src, String dst, int proto, int sport, int dport) {
    CaptureFilter.Fields f = new CaptureFilter.Fields();
    f.family = 4;
    f.srcLo = CaptureFilter.parseIpv4(src) & 0xFFFF_FFFFL;
    f.dstLo = CaptureFilter.parseIpv4(dst) & 0xFFFF_FFFFL;
    f.protocol = proto;
    f.srcPort = sport;
    f.dstPort = dport;
    return f;
  }

  private static CaptureFilter.Fields v6(String src, String dst, int proto) {
    CaptureFilter.Fields f = new CaptureFilter.Fields();
    f.family = 6;
    long[] s = CaptureFilter.parseIpv6(src);
    long[] d = CaptureFilter.parseIpv6(dst);
    f.srcHi = s[0];
    f.srcLo = s[1];
    f.dstHi = d[0];
    f.dstLo = d[1];
    f.protocol = proto;
    return f;
  }

  @Test
  void emptyMatchesEverything() {
    assertTrue(CaptureFilter.parse("").matches(new CaptureFilter.Fields()));
    assertTrue(CaptureFilter.parse(null).matches(v4("1.2.3.4", "5.6.7.8", 6, 1, 2)));
  }

  @Test
  void hostProtocolAndPort() {
    CaptureFilter f = CaptureFilter.parse("host 10.244.1.2 and tcp and port 80");
    assertTrue(f.matches(v4("10.244.1.2", "10.0.0.1", 6, 40000, 80)));
    assertTrue(f.matches(v4("10.0.0.1", "10.244.1.2", 6, 80, 40000)), "either side, either port");
    assertFalse(f.matches(v4("10.244.1.2", "10.0.0.1", 17, 40000, 80)), "udp");
    assertFalse(f.matches(v4("10.244.1.3", "10.0.0.1", 6, 40000, 80)), "other host");
    assertFalse(f.matches(v4("10.244.1.2", "10.0.0.1", 6, 40000, 81)), "other port");
  }

  @Test
  void sidesNetsAndRanges() {
    CaptureFilter f = CaptureFilter.parse("src net 10.244.0.0/16 and dst port 8000-8080");
    assertTrue(f.matches(v4("10.244.9.9", "1.1.1.1", 17, 5, 8000)));
    assertTrue(f.matches(v4("10.244.9.9", "1.1.1.1", 17, 5, 8080)));
    assertFalse(f.matches(v4("10.245.9.9", "1.1.1.1", 17, 5, 8000)), "src outside the net");
    assertFalse(f.matches(v4("1.1.1.1", "10.244.9.9", 17, 8000, 8000)), "only dst is in the net");
    assertFalse(f.matches(v4("10.244.9.9", "1.1.1.1", 17, 8000, 9000)), "dst port outside");
  }

  @Test
  void orNotAndParentheses() {
    CaptureFilter f = CaptureFilter.parse("icmp or (udp and not port 53)");
    assertTrue(f.matches(v4("1.1.1.1", "2.2.2.2", 1, -1, -1)));
    assertTrue(f.matches(v4("1.1.1.1", "2.2.2.2", 17, 1000, 2000)));
    assertFalse(f.matches(v4("1.1.1.1", "2.2.2.2", 17, 1000, 53)));
    assertFalse(f.matches(v4("1.1.1.1", "2.2.2.2", 6, 1000, 2000)));
    // and binds tighter than or
    CaptureFilter g = CaptureFilter.parse("tcp or udp and port 53");
    assertTrue(g.matches(v4("1.1.1.1", "2.2.2.2", 6, 1, 2)));
    assertEquals("(proto 6 or (proto 17 and port 53))", g.compiled());
  }

  @Test
  void ipv6AndFamilies() {
    CaptureFilter f = CaptureFilter.parse("net fd00:10:244::/48 and icmp6");
    assertTrue(f.matches(v6("fd00:10:244:1::5", "fd00:10:244:2::6", 58)));
    assertFalse(f.matches(v6("fd00:10:245::5", "fd00:11::6", 58)));
    assertFalse(f.matches(v4("10.0.0.1", "10.0.0.2", 58, -1, -1)), "icmp6 is IPv6 only");
    assertTrue(CaptureFilter.parse("ip6").matches(v6("::1", "::2", 6)));
    assertFalse(CaptureFilter.parse("ip").matches(v6("::1", "::2", 6)));
    CaptureFilter.Fields arp = new CaptureFilter.Fields();
    arp.arp = true;
    assertTrue(CaptureFilter.parse("arp").matches(arp));
    assertFalse(CaptureFilter.parse("host 10.0.0.1").matches(arp));
    assertTrue(
        CaptureFilter.parse("fd00::1").matches(v6("fd00::1", "fd00::2", 17)), "bare address");
  }

  @Test
  void errorsSayWhere() {
    assertThrows(IllegalArgumentException.class, () -> CaptureFilter.parse("host"));
    assertThrows(IllegalArgumentException.class, () -> CaptureFilter.parse("host 10.0.0.300"));
    assertThrows(IllegalArgumentException.class, () -> CaptureFilter.parse("port 70000"));
    assertThrows(IllegalArgumentException.class, () -> CaptureFilter.parse("tcp and"));
    assertThrows(IllegalArgumentException.class, () -> CaptureFilter.parse("(tcp"));
    assertThrows(IllegalArgumentException.class, () -> CaptureFilter.parse("tcp udp"));
    assertThrows(IllegalArgumentException.class, () -> CaptureFilter.parse("host 10.0.0.0/8"));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> CaptureFilter.parse("bogus"));
    assertTrue(e.getMessage().contains("unknown term 'bogus'"), e.getMessage());
  }
}
