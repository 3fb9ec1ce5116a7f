package io.flatnet.perf.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.perf.gen.PacketTemplates;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Frame sizes and the IMIX: parsing, labels, L1 Gbit/s, and who generates the IMIX. */
class FrameSizeTest {
  @Test
  void sizesAndImixParse() {
    assertEquals(
        List.of(64, 128, 256, 512, 1024, 1518, FrameSize.IMIX),
        Stats.parseSizes("64,128,256,512,1024,1518,imix"));
    assertEquals(List.of(FrameSize.IMIX, 64), Stats.parseSizes(" IMIX ,64,imix"));
    assertThrows(IllegalArgumentException.class, () -> Stats.parseSizes("imix2"));
    assertThrows(IllegalArgumentException.class, () -> Stats.parseSizes("63"));
    assertEquals("imix", FrameSize.label(FrameSize.IMIX));
    assertEquals("imix", FrameSize.display(FrameSize.IMIX));
    assertEquals("128 B", FrameSize.display(128));
    assertEquals("1518", FrameSize.label(1518));
  }

  @Test
  void theImixIsSevenFourOneOf64_570_1518() {
    int[] p = PacketTemplates.IMIX_PATTERN;
    assertEquals(12, p.length);
    assertEquals(7, java.util.Arrays.stream(p).filter(f -> f == 64).count());
    assertEquals(4, java.util.Arrays.stream(p).filter(f -> f == 570).count());
    assertEquals(1, java.util.Arrays.stream(p).filter(f -> f == 1518).count());
    assertEquals(4246 / 12.0, FrameSize.meanFrameBytes(FrameSize.IMIX), 1e-9);
    // Interleaved: no more than three 64 B frames in a row, wrapping around.
    int run = 0;
    int longest = 0;
    for (int i = 0; i < 2 * p.length; i++) {
      run = p[i % p.length] == 64 ? run + 1 : 0;
      longest = Math.max(longest, run);
    }
    assertTrue(longest <= 2, "longest run of 64 B frames " + longest);
    assertEquals(64, FrameSize.meanFrameBytes(64), 0);
  }

  @Test
  void l1GbpsCountsPreambleAndGap() {
    // Line rate of 10 GbE: 14.88 Mpps of 64 B frames, 0.8127 Mpps of 1518 B.
    assertEquals(10.0, FrameSize.l1Gbps(14.880952, 64), 1e-4);
    assertEquals(10.0, FrameSize.l1Gbps(0.812744, 1518), 1e-4);
    assertEquals(1.0 * (4246 / 12.0 + 20) * 8 / 1000, FrameSize.l1Gbps(1.0, FrameSize.IMIX), 1e-9);
  }

  @Test
  void theImixGoesToFlatnetsGeneratorNotToFlowgen() {
    Commands c = new Commands("dpdk-testpmd", null, "java", "cp", "gencp", 1, 0, 6, null, null);
    Path s0 = Path.of("/tmp/p0.sock");
    Path s1 = Path.of("/tmp/p1.sock");
    assertTrue(c.generator(s0, s1, 128).contains("--txpkts=124"), "pkt_len = frame - 4");
    assertThrows(IllegalArgumentException.class, () -> c.generator(s0, s1, FrameSize.IMIX));
    assertThrows(IllegalArgumentException.class, () -> Commands.packetLength(FrameSize.IMIX));
    List<String> gen = c.javaGenerator(s0, s1, FrameSize.IMIX, RouteSet.standard());
    int i = gen.indexOf("--frame-size");
    assertEquals("imix", gen.get(i + 1));
    assertEquals("128", c.javaGenerator(s0, s1, 128, null).get(i + 1));
    assertEquals("imix/imix", c.expand("{frame_size}/{pkt_len}", s0, s1, Path.of("/tmp"), 0, 1));
  }

  @Test
  void theGeneratorsPatternIsOneSizeOrTheImix() {
    assertEquals(
        List.of(256), java.util.Arrays.stream(PacketTemplates.pattern("256")).boxed().toList());
    assertEquals(12, PacketTemplates.pattern("imix").length);
    assertThrows(IllegalArgumentException.class, () -> PacketTemplates.pattern("1519"));
    assertThrows(IllegalArgumentException.class, () -> PacketTemplates.pattern("mix"));
    // Each size's template carries its own lengths (IP total length, UDP length).
    for (int f : new int[] {64, 570, 1518}) {
      byte[] t = PacketTemplates.template(3, f, 0x02_00_00_00_00_0aL, 0x02_00_00_00_00_00L);
      int ipLen = (t[PacketTemplates.IP + 2] & 0xff) << 8 | (t[PacketTemplates.IP + 3] & 0xff);
      assertEquals(f - 4 - PacketTemplates.ETH, ipLen);
    }
  }
}
