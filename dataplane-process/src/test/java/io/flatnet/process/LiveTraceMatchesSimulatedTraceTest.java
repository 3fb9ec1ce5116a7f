package io.flatnet.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.control.CaptureFile;
import io.flatnet.control.CaptureFilter;
import io.flatnet.control.JsonText;
import io.flatnet.control.PolicySpec;
import io.flatnet.dataplane.DropReason;
import io.flatnet.dataplane.PortTable;
import io.flatnet.dataplane.Router;
import io.flatnet.dataplane.capture.CaptureSpec;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.NextHops;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ctl trace --live} against the simulated {@code ctl trace} on the same flows, through a
 * real router (its worker thread, control thread and capture file): pod-a (a net_pcap port whose RX
 * is a pcap of the flows) sends a forwarded flow, one to an unresolved neighbour, one the router
 * answers, one with no route and one that network policy denies. For each, the live path and {@link
 * RouterQueries#trace} must agree on the decision, the next hop, the out port and the drop reason.
 * A difference is a bug in one of them.
 */
class LiveTraceMatchesSimulatedTraceTest {
  private static final long NEXT_MAC = 0x02_00_00_00_cc_01L;

  @TempDir File dir;

  private record Flow(String src, String dst, String proto, int sport, int dport) {}

  @Test
  void liveAndSimulatedTracesAgree() throws Exception {
    Eal.initOnce(
        EalArguments.forProgram("flatnet-process-test")
            .logLevel("warning")
            .extra("-m", "1024")
            .build());
    List<Flow> flows =
        List.of(
            new Flow("10.9.0.7", "10.1.2.3", "tcp", 40000, 80), // forwarded, allowed by policy
            new Flow("10.9.0.7", "10.3.1.1", "udp", 5000, 53), // held: neighbour unresolved
            new Flow("10.9.0.7", "10.9.0.1", "icmp", 0, 0), // the router answers
            new Flow("10.9.0.7", "10.200.0.1", "udp", 5000, 53), // no route
            new Flow("10.9.0.7", "10.1.2.3", "tcp", 40001, 22), // denied by policy
            // ECMP over two neighbours (unresolved: held): the live pick is the simulated one
            new Flow("10.9.0.7", "10.50.0.9", "udp", 6000, 53),
            new Flow("10.9.0.7", "10.50.0.9", "udp", 6001, 53),
            new Flow("10.9.0.7", "10.50.0.9", "udp", 6002, 53),
            new Flow("10.9.0.7", "10.50.0.9", "udp", 6003, 53),
            new Flow("10.9.0.7", "10.50.0.9", "tcp", 6004, 443),
            new Flow("10.9.0.8", "10.50.0.9", "tcp", 6005, 443));
    File flowsPcap = new File(dir, "flows.pcap");
    pcap(flowsPcap, flows.stream().map(LiveTraceMatchesSimulatedTraceTest::frame).toList());
    File empty = new File(dir, "empty.pcap");
    pcap(empty, List.of());
    try (Router router = Router.open(Router.Sizes.defaults(), dir)) {
      int uplink =
          router.addPort(
              new Router.PortSpec(
                  "uplink",
                  "net_pcap_up"
                      + ProcessHandle.current().pid()
                      + ",rx_pcap="
                      + empty
                      + ",tx_pcap="
                      + new File(dir, "up-out.pcap"),
                  PortTable.ROLE_UPLINK,
                  1500,
                  0,
                  0,
                  0));
      router.routeDirect(Ipv4Prefix.parse("10.1.0.0/16"), uplink, NEXT_MAC);
      router.routeVia(
          Ipv4Prefix.parse("10.3.0.0/16"), uplink, Ipv4Prefix.parseAddress("10.3.0.254"));
      router.addLocalAddress(Ipv4Prefix.parse("10.9.0.1/32"));
      int uplink2 =
          router.addPort(
              new Router.PortSpec(
                  "uplink2",
                  "net_pcap_up2"
                      + ProcessHandle.current().pid()
                      + ",rx_pcap="
                      + empty
                      + ",tx_pcap="
                      + new File(dir, "up2-out.pcap"),
                  PortTable.ROLE_UPLINK,
                  1500,
                  0,
                  0,
                  0));
      router.routeMultipath(
          Ipv4Prefix.parse("10.50.0.0/16"),
          new int[] {uplink, uplink2},
          new int[] {Ipv4Prefix.parseAddress("10.3.0.1"), Ipv4Prefix.parseAddress("10.4.0.1")},
          new int[] {1, 3});
      PolicySpec.Rule web =
          new PolicySpec.Rule(
              "ns/web",
              0,
              false,
              List.of(new PolicySpec.Peer("10.9.0.0/16", List.of())),
              false,
              List.of(new PolicySpec.PortRange("TCP", 80, 80)));
      router.setPolicies(
          List.of(
              new PolicySpec("ns/b", List.of("10.1.2.3"), true, false, List.of(web), List.of())));
      router.startWorker(-1, new SleepingMillisIdleStrategy(1));
      CaptureSpec spec =
          CaptureSpec.trace(
              router.nextCaptureSession(), router.captureFile(), 128, CaptureFilter.parse("ip"), 0);
      router.startCapture(spec);
      // The pod's port comes last: its RX pcap is read as soon as the worker polls it.
      int pod =
          router.addPort(
              new Router.PortSpec(
                  "pod-a",
                  "net_pcap_pod"
                      + ProcessHandle.current().pid()
                      + ",rx_pcap="
                      + flowsPcap
                      + ",tx_pcap="
                      + new File(dir, "pod-out.pcap"),
                  PortTable.ROLE_POD,
                  1500,
                  Ipv4Prefix.parseAddress("10.9.0.1"),
                  0,
                  0));
      Map<Integer, List<CaptureFile.Record>> paths = new LinkedHashMap<>();
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (System.nanoTime() < deadline && !settled(paths, flows.size())) {
        List<CaptureFile.Record> got = new ArrayList<>();
        router.captureFile().poll(got, 1024);
        for (CaptureFile.Record r : got) {
          paths.computeIfAbsent(r.traceId(), k -> new ArrayList<>()).add(r);
        }
        router.captureFile().renewLease(System.currentTimeMillis());
        Thread.sleep(5);
      }
      router.stopCapture(spec.session);
      assertTrue(settled(paths, flows.size()), "every flow's packet traced: " + paths);
      RouterQueries queries = new RouterQueries(router, null, Map::of);
      Map<Integer, String> names = Map.of(uplink, "uplink", uplink2, "uplink2", pod, "pod-a");
      for (Flow f : flows) {
        List<CaptureFile.Record> live = pathOf(paths, f);
        JsonText.Obj simulated =
            queries.trace(
                f.src(),
                f.dst(),
                "pod-a",
                f.proto(),
                Integer.toString(f.sport()),
                Integer.toString(f.dport()));
        compare(f, live, simulated, names);
      }
    }
  }

  private static void compare(
      Flow f, List<CaptureFile.Record> live, JsonText.Obj simulated, Map<Integer, String> names) {
    String what = f + ": live " + describe(live) + " vs simulated " + simulated;
    CaptureFile.Record lookup = lastStage(live, CaptureFile.STAGE_LOOKUP);
    assertEquals(simulated.text("nextHop"), Long.toString(lookup.a()), "next hop: " + what);
    if (!simulated.text("group").isEmpty()) { // ECMP: the group's lookup, then the member picked
      CaptureFile.Record group = stage(live, CaptureFile.STAGE_LOOKUP);
      assertEquals(simulated.text("group"), Long.toString(group.a()), "group: " + what);
      assertEquals(NextHops.KIND_GROUP, group.b(), what);
      assertEquals(simulated.text("group"), Long.toString((lookup.b() >>> 8) & 0xFFFF_FFFFL));
      assertEquals(simulated.text("bucket"), Long.toString(lookup.b() >>> 40), "bucket: " + what);
    }
    long lookupKind = lookup.b() & 0xFF; // an ECMP member's lookup also carries group and bucket
    CaptureFile.Record last = live.get(live.size() - 1);
    switch (simulated.text("decision")) {
      case "forward" -> {
        assertEquals(NextHops.KIND_FORWARD, lookupKind, what);
        assertEquals(CaptureFile.STAGE_TX, last.kind(), what);
        assertEquals(simulated.text("port"), names.get(last.port()), "out port: " + what);
      }
      case "resolve" -> {
        assertEquals(NextHops.KIND_RESOLVE, lookupKind, what);
        assertEquals(0, stage(live, CaptureFile.STAGE_NEIGHBOR).a(), "held: " + what);
        assertEquals(simulated.text("port"), names.get(lookup.port()), "via port: " + what);
      }
      case "local" -> {
        assertEquals(NextHops.KIND_LOCAL, lookupKind, what);
        stage(live, CaptureFile.STAGE_LOCAL);
        assertEquals(CaptureFile.STAGE_TX, last.kind(), what);
        assertEquals("pod-a", names.get(last.port()), "echo reply back: " + what);
      }
      case "drop" -> {
        assertEquals(CaptureFile.STAGE_DROP, last.kind(), what);
        String liveReason = DropReason.values()[last.reason()].label();
        String simulatedReason = simulated.text("drop");
        if (simulatedReason.isEmpty()) { // the simulated trace names only some drops; its kind
          simulatedReason = simulated.text("kind");
        }
        assertEquals(simulatedReason, liveReason, "drop reason: " + what);
        if (liveReason.startsWith("policy-")) {
          assertEquals(CaptureFile.STAGE_POLICY, live.get(live.size() - 2).kind(), what);
        }
      }
      default -> throw new AssertionError("unexpected decision: " + what);
    }
  }

  private static CaptureFile.Record lastStage(List<CaptureFile.Record> path, int stage) {
    CaptureFile.Record last = null;
    for (CaptureFile.Record r : path) {
      if (r.kind() == stage) {
        last = r;
      }
    }
    if (last == null) {
      throw new AssertionError("no " + CaptureFile.stageName(stage) + " in " + describe(path));
    }
    return last;
  }

  private static CaptureFile.Record stage(List<CaptureFile.Record> path, int stage) {
    return path.stream()
        .filter(r -> r.kind() == stage)
        .findFirst()
        .orElseThrow(
            () ->
                new AssertionError("no " + CaptureFile.stageName(stage) + " in " + describe(path)));
  }

  private static String describe(List<CaptureFile.Record> path) {
    return path.stream()
        .map(
            r ->
                CaptureFile.stageName(r.kind())
                    + "(a="
                    + r.a()
                    + ",b="
                    + r.b()
                    + ",port="
                    + r.port()
                    + ",reason="
                    + r.reason()
                    + ")")
        .toList()
        .toString();
  }

  /** Every flow's packet has left (tx, drop) or is held at the neighbour stage. */
  private static boolean settled(Map<Integer, List<CaptureFile.Record>> paths, int flows) {
    if (paths.size() < flows) {
      return false;
    }
    for (List<CaptureFile.Record> path : paths.values()) {
      int last = path.get(path.size() - 1).kind();
      if (last != CaptureFile.STAGE_TX
          && last != CaptureFile.STAGE_DROP
          && !(last == CaptureFile.STAGE_NEIGHBOR && path.get(path.size() - 1).a() == 0)) {
        return false;
      }
    }
    return true;
  }

  private static List<CaptureFile.Record> pathOf(
      Map<Integer, List<CaptureFile.Record>> paths, Flow f) {
    for (List<CaptureFile.Record> path : paths.values()) {
      byte[] d = path.get(0).data();
      if (path.get(0).kind() == CaptureFile.STAGE_RX
          && ip(d, 30).equals(f.dst())
          && (f.dport() == 0 || ((d[36] & 0xFF) << 8 | (d[37] & 0xFF)) == f.dport())
          && (f.sport() == 0 || ((d[34] & 0xFF) << 8 | (d[35] & 0xFF)) == f.sport())) {
        return path;
      }
    }
    throw new AssertionError("no live path for " + f + " in " + paths.keySet());
  }

  private static String ip(byte[] d, int at) {
    return (d[at] & 0xFF)
        + "."
        + (d[at + 1] & 0xFF)
        + "."
        + (d[at + 2] & 0xFF)
        + "."
        + (d[at + 3] & 0xFF);
  }

  /** An Ethernet + IPv4 frame for the flow: TCP SYN, UDP, or ICMP echo request. */
  static byte[] frame(Flow f) {
    int protocol =
        switch (f.proto()) {
          case "tcp" -> 6;
          case "udp" -> 17;
          default -> 1;
        };
    int l4 = protocol == 6 ? 20 : 8;
    int payload = 16;
    ByteBuffer b = ByteBuffer.allocate(14 + 20 + l4 + payload);
    b.putLong(0x02_00_00_00_ee_01L << 16).position(6);
    b.put(new byte[] {0x02, 0, 0, 0, 0x55, 0x01}).putShort((short) 0x0800);
    b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + l4 + payload)).putInt(0);
    b.put((byte) 64).put((byte) protocol).putShort((short) 0);
    b.putInt(Ipv4Prefix.parseAddress(f.src())).putInt(Ipv4Prefix.parseAddress(f.dst()));
    byte[] a = b.array();
    int sum = ones(a, 14, 20);
    a[24] = (byte) (~sum >> 8);
    a[25] = (byte) ~sum;
    int at = 34;
    if (protocol == 1) {
      a[at] = 8; // echo request, id 0x1234
      a[at + 4] = 0x12;
      a[at + 5] = 0x34;
      int icmp = ones(a, at, l4 + payload);
      a[at + 2] = (byte) (~icmp >> 8);
      a[at + 3] = (byte) ~icmp;
    } else {
      a[at] = (byte) (f.sport() >> 8);
      a[at + 1] = (byte) f.sport();
      a[at + 2] = (byte) (f.dport() >> 8);
      a[at + 3] = (byte) f.dport();
      if (protocol == 6) {
        a[at + 12] = 0x50;
        a[at + 13] = 0x02; // SYN
      } else {
        a[at + 5] = (byte) (l4 + payload);
      }
    }
    return a;
  }

  private static int ones(byte[] a, int from, int length) {
    int sum = 0;
    for (int i = from; i < from + length; i += 2) {
      sum += (a[i] & 0xFF) << 8 | (i + 1 < from + length ? a[i + 1] & 0xFF : 0);
    }
    while ((sum >>> 16) != 0) {
      sum = (sum & 0xFFFF) + (sum >>> 16);
    }
    return sum & 0xFFFF;
  }

  /** A classic pcap file of Ethernet frames (what net_pcap's rx_pcap reads). */
  static void pcap(File file, List<byte[]> frames) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteBuffer h = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
    h.putInt(0xa1b2c3d4).putShort((short) 2).putShort((short) 4).putInt(0).putInt(0);
    h.putInt(65535).putInt(1);
    out.write(h.array());
    for (byte[] f : frames) {
      ByteBuffer r = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
      r.putInt(1).putInt(0).putInt(f.length).putInt(f.length);
      out.write(r.array());
      out.write(f);
    }
    Files.write(file.toPath(), out.toByteArray());
  }
}
