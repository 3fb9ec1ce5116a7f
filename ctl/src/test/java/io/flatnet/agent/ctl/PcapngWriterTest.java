package io.flatnet.agent.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.FileOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pcapng the capture writes opens in tshark, with interfaces, directions and comments. */
class PcapngWriterTest {
  @TempDir Path dir;

  /** An Ethernet + IPv4 + ICMP echo frame. */
  static byte[] echo(int[] src, int[] dst, int type) {
    byte[] f = new byte[14 + 20 + 8 + 8];
    f[12] = 0x08;
    f[14] = 0x45;
    int total = 20 + 8 + 8;
    f[16] = (byte) (total >> 8);
    f[17] = (byte) total;
    f[22] = 64;
    f[23] = 1;
    for (int i = 0; i < 4; i++) {
      f[26 + i] = (byte) src[i];
      f[30 + i] = (byte) dst[i];
    }
    int sum = 0;
    for (int i = 14; i < 34; i += 2) {
      sum += (f[i] & 0xFF) << 8 | (f[i + 1] & 0xFF);
    }
    sum = (sum & 0xFFFF) + (sum >>> 16);
    sum = ~((sum & 0xFFFF) + (sum >>> 16)) & 0xFFFF;
    f[24] = (byte) (sum >> 8);
    f[25] = (byte) sum;
    f[34] = (byte) type;
    f[38] = 0x12;
    f[40] = 1;
    return f;
  }

  @Test
  void tsharkReadsInterfacesDirectionsAndComments() throws Exception {
    Path file = dir.resolve("t.pcapng");
    try (PcapngWriter w = new PcapngWriter(new FileOutputStream(file.toFile()), "test", 256)) {
      w.addInterface(0, "pod-a");
      w.addInterface(3, "uplink");
      long t = 1_700_000_000_123_456_789L;
      w.packet(
          0,
          t,
          echo(new int[] {10, 244, 1, 2}, new int[] {10, 244, 2, 3}, 8),
          50,
          PcapngWriter.INBOUND,
          null);
      w.packet(
          3,
          t + 1000,
          echo(new int[] {10, 244, 2, 3}, new int[] {10, 244, 1, 2}, 0),
          50,
          PcapngWriter.OUTBOUND,
          null);
      byte[] cut =
          java.util.Arrays.copyOf(echo(new int[] {10, 0, 0, 1}, new int[] {192, 0, 2, 1}, 8), 40);
      w.packet(0, t + 2000, cut, 50, PcapngWriter.INBOUND, "drop: no-route");
      assertEquals(3, w.packets());
    }
    List<String> lines =
        tshark(
            file,
            "-e",
            "frame.interface_name",
            "-e",
            "frame.p2p_dir",
            "-e",
            "frame.comment",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "icmp.type",
            "-e",
            "frame.len",
            "-e",
            "frame.cap_len");
    assertEquals(3, lines.size(), lines.toString());
    String[] first = lines.get(0).split("\t", -1);
    assertEquals("pod-a", first[0]);
    assertEquals("10.244.1.2", first[3]);
    assertEquals("8", first[5]);
    String[] second = lines.get(1).split("\t", -1);
    assertEquals("uplink", second[0]);
    assertEquals("0", second[5]);
    String[] third = lines.get(2).split("\t", -1);
    assertEquals("drop: no-route", third[2]);
    assertEquals("50", third[6]);
    assertEquals("40", third[7]);
    // direction: tshark shows epb_flags as frame.packet_flags_direction (1 inbound, 2 outbound)
    List<String> dirs = tshark(file, "-e", "frame.packet_flags_direction");
    assertEquals(
        List.of("1", "2", "1"),
        dirs.stream().map(d -> d.replace("0x", "").replaceFirst("^0+", "")).toList());
  }

  @Test
  void headerOnlyStreamIsValid() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (PcapngWriter w = new PcapngWriter(bytes, "test", 128)) {
      w.addInterface(1, "in");
    }
    Path file = dir.resolve("empty.pcapng");
    Files.write(file, bytes.toByteArray());
    assertEquals(List.of(), tshark(file, "-e", "frame.number"));
  }

  static List<String> tshark(Path file, String... fields) throws Exception {
    // Fails, never skips: ./flatnet installs tshark for the tests (TEST_PKGS).
    assertTrue(
        Files.isExecutable(Path.of("/usr/bin/tshark")),
        "tshark is not installed (apt-get install tshark)");
    List<String> cmd = new ArrayList<>(List.of("tshark", "-r", file.toString(), "-T", "fields"));
    cmd.addAll(List.of(fields));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor(30, TimeUnit.SECONDS);
    assertEquals(0, p.exitValue(), "tshark: " + err);
    return out.isEmpty() ? List.of() : List.of(out.split("\n"));
  }
}
