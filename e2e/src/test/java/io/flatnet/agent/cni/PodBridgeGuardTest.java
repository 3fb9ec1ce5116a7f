package io.flatnet.agent.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.flatnet.agent.config.IpAddress;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The pod bridge's guards with the real kernel, no DPDK: {@link IpCommandPlumber} ADDs two pods to
 * the shared bridge in a namespace that plays the node ({@value #NODE}), exactly as the CNI plugin
 * does; pod A, root in its namespace (CAP_NET_RAW), writes raw frames on its eth0 with pod B's MAC,
 * with the router end's MAC, with B's IPv4 and IPv6 as source, an ARP claiming B's address, and a
 * VLAN-tagged frame. {@code tcpdump -Q in} on the router's end ({@value PodSegment#ROUTER_END})
 * sees none of them, but sees A's own ARP for its gateway and A's own packet to the router; the
 * bridge FDB still maps B's MAC to B's port and the router's MAC to the router's; the drops are
 * counted. DEL of B removes B's guards and nothing of A's; CHECK names a missing guard. Needs root,
 * ip, bridge, nft, tcpdump and python3.
 */
class PodBridgeGuardTest {
  private static final java.util.regex.Pattern FRAME_LINE =
      java.util.regex.Pattern.compile("\\d\\d:\\d\\d:\\d\\d\\.\\d+ ");

  static final String NODE = "fng-node";
  static final String POD_A = "fng-a";
  static final String POD_B = "fng-b";

  static final String MAC_A = "02:fe:00:00:00:0a";
  static final String MAC_B = "02:fe:00:00:00:0b";
  static final List<IpAddress> IPS_A =
      List.of(IpAddress.parse("10.244.9.10"), IpAddress.parse("fd00:244:9::a"));
  static final List<IpAddress> IPS_B =
      List.of(IpAddress.parse("10.244.9.11"), IpAddress.parse("fd00:244:9::b"));
  static final List<IpAddress> GWS =
      List.of(IpAddress.parse("169.254.1.1"), IpAddress.parse("fe80::1"));

  static final String HOST_A = CniMain.hostIfaceName("guard-a", "eth0");
  static final String HOST_B = CniMain.hostIfaceName("guard-b", "eth0");

  static final JsonMapper JSON = JsonMapper.builder().build();

  Process holder;
  IpCommandPlumber plumber;
  final List<String> warnings = new CopyOnWriteArrayList<>();

  @BeforeEach
  void twoPodsOnTheBridge() throws Exception {
    Assumptions.assumeTrue(
        "0".equals(RouterChild.sh("id", "-u").output().strip()), "needs root (netns, veth)");
    Assumptions.assumeTrue(
        RouterChild.sh("nft", "--version").ok(), "needs nft (apt-get install nftables)");
    Assumptions.assumeTrue(RouterChild.sh("tcpdump", "--version").ok(), "needs tcpdump");
    Assumptions.assumeTrue(RouterChild.sh("python3", "--version").ok(), "needs python3");
    cleanUp();
    for (String ns : List.of(NODE, POD_A, POD_B)) {
      RouterChild.must("ip", "netns", "add", ns);
      RouterChild.mustIn(ns, "ip", "link", "set", "lo", "up");
    }
    // A process in the node namespace: the host ends of the pods' veth pairs go to it.
    holder = new ProcessBuilder("ip", "netns", "exec", NODE, "sleep", "3600").start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    Path cmdline = Path.of("/proc", Long.toString(holder.pid()), "cmdline");
    while (!Files.readString(cmdline).startsWith("sleep")) {
      assertTrue(System.nanoTime() < deadline, "ip netns exec " + NODE + " sleep did not start");
      Thread.sleep(10);
    }
    CommandRunner system = CommandRunner.system(20);
    CommandRunner inNode = argv -> system.run(RouterChild.in(NODE, argv.toArray(String[]::new)));
    plumber = new IpCommandPlumber(inNode, holder.pid(), new PodSegment(inNode, warnings::add));
    plumber.add(netns(POD_A), "eth0", HOST_A, MAC_A, IPS_A, GWS, 1500, true);
    plumber.add(netns(POD_B), "eth0", HOST_B, MAC_B, IPS_B, GWS, 1500, true);
  }

  @AfterEach
  void cleanUp() {
    if (holder != null) {
      holder.destroyForcibly();
    }
    for (String ns : List.of(POD_A, POD_B, NODE)) {
      RouterChild.sh("ip", "netns", "del", ns); // the bridge, the veths, the nft table go with it
    }
  }

  static String netns(String name) {
    return "/var/run/netns/" + name;
  }

  @Test
  void aPodCannotSendAsAnotherPodOrTheRouter() throws Exception {
    plumber.check(netns(POD_A), "eth0", HOST_A, IPS_A, GWS, true);
    plumber.check(netns(POD_B), "eth0", HOST_B, IPS_B, GWS, true);
    String router = RouterChild.mustIn(NODE, "cat", "/sys/class/net/fn-pods0/address").strip();
    byte[] r = mac(router);
    byte[] a = mac(MAC_A);
    byte[] b = mac(MAC_B);
    byte[] all = mac("ff:ff:ff:ff:ff:ff");
    // B talks first, so that a learning bridge would know B's MAC on B's port.
    sendRaw(POD_B, arp(all, b, 1, b, "10.244.9.11", new byte[6], "169.254.1.1"));

    List<String> seen =
        capture(
            () -> {
              sendRaw(
                  POD_A,
                  // B's MAC as source
                  udp4(r, b, "10.244.9.10", "10.244.9.1", 9001),
                  // the router's MAC as source (broadcast: a learning bridge would flood it)
                  udp4(all, r, "10.244.9.10", "10.244.9.1", 9002),
                  // B's IPv4 as source
                  udp4(r, a, "10.244.9.11", "10.244.9.1", 9003),
                  // B's IPv6 as source
                  udp6(r, a, "fd00:244:9::b", "fd00:244:9::1", 9004),
                  // gratuitous ARP claiming B's IPv4
                  arp(all, a, 2, a, "10.244.9.11", all, "10.244.9.11"),
                  // an ARP request whose sender MAC is B's
                  arp(all, a, 1, b, "10.244.9.10", new byte[6], "169.254.1.1"),
                  // B's IPv4 hidden behind a VLAN tag
                  tagged(udp4(r, a, "10.244.9.11", "10.244.9.1", 9005)),
                  // A's own traffic: its ARP for the gateway and a packet to the router
                  arp(all, a, 1, a, "10.244.9.10", new byte[6], "169.254.1.1"),
                  udp4(r, a, "10.244.9.10", "10.244.9.1", 9100));
            },
            "10.244.9.10.1234 > 10.244.9.1.9100");
    for (String line : seen) {
      assertTrue(
          line.startsWith(MAC_A + " > ") || line.contains("> 33:33:"),
          "a frame not from A's MAC (nor A's own IPv6 multicast) got through: " + line);
      for (String spoof :
          List.of(
              ".9001:", ".9002:", ".9003:", ".9004:", ".9005:", "is-at", "10.244.9.11", "802.1Q")) {
        assertFalse(line.contains(spoof), "a spoofed frame got through: " + line);
      }
    }

    // The bridge's table is intact: B's MAC on B's port, the router's on the router's.
    for (JsonNode e : fdb()) {
      String mac = e.path("mac").asText();
      String port = e.path("ifname").asText();
      if (mac.equals(MAC_B)) {
        assertEquals(HOST_B, port, "B's MAC moved: " + e);
      } else if (mac.equals(router)) {
        assertEquals(PodSegment.BRIDGE_END, port, "the router's MAC moved: " + e);
      } else if (mac.equals(MAC_A)) {
        assertEquals(HOST_A, port, e.toString());
      }
    }
    assertTrue(
        fdb().findValues("mac").stream().anyMatch(m -> m.asText().equals(MAC_B)),
        "no FDB entry for B's MAC");

    // A's own traffic still reaches the router's end.
    String text = String.join("\n", seen);
    assertTrue(
        text.contains(MAC_A + " > ff:ff:ff:ff:ff:ff") && text.contains("tell 10.244.9.10"),
        "A's ARP for its gateway did not reach the router's end:\n" + text);
    assertTrue(
        text.contains("10.244.9.10.1234 > 10.244.9.1.9100"),
        "A's own packet to the router did not arrive:\n" + text);

    // The drops are counted where an operator looks.
    String chain =
        RouterChild.mustIn(NODE, "nft", "list", "chain", "bridge", "flatnet", "pod-" + HOST_A);
    assertTrue(
        chain.matches("(?s).*ether saddr != " + MAC_A + " counter packets [1-9].*"),
        "the source MAC drops are not counted:\n" + chain);
    assertTrue(
        chain.matches("(?s).*ether type ip counter packets [1-9].*"),
        "the IPv4 source drops are not counted:\n" + chain);
    assertTrue(
        chain.matches("(?s).*ether type arp counter packets [1-9].*"),
        "the ARP drops are not counted:\n" + chain);
    // This kernel has bridge port locking: it is on, and nothing was logged about it.
    String port = RouterChild.mustIn(NODE, "bridge", "-d", "link", "show", "dev", HOST_A);
    if (port.contains("locked")) {
      assertTrue(port.contains("locked on"), port);
      assertEquals(List.of(), warnings);
    }
  }

  @Test
  void delRemovesExactlyThatPodsGuards() throws Exception {
    String before = RouterChild.mustIn(NODE, "nft", "list", "table", "bridge", "flatnet");
    assertTrue(before.contains("\"" + HOST_A + "\" : jump pod-" + HOST_A), before);
    assertTrue(before.contains("\"" + HOST_B + "\" : jump pod-" + HOST_B), before);
    assertTrue(before.contains("chain pod-" + HOST_B + " {"), before);

    plumber.del(HOST_B);
    String after = RouterChild.mustIn(NODE, "nft", "list", "table", "bridge", "flatnet");
    assertFalse(after.contains(HOST_B), "B's guards are left:\n" + after);
    assertTrue(after.contains("\"" + HOST_A + "\" : jump pod-" + HOST_A), after);
    assertEquals(
        section(before, "chain pod-" + HOST_A),
        section(after, "chain pod-" + HOST_A),
        "A's chain changed");
    assertTrue(after.contains("iifname vmap @pods"), after);
    plumber.check(netns(POD_A), "eth0", HOST_A, IPS_A, GWS, true);
    assertFalse(
        fdb().findValues("mac").stream().anyMatch(m -> m.asText().equals(MAC_B)),
        "B's FDB entry is left");
    // again: nothing to do, no error
    plumber.del(HOST_B);
    // and A goes too: the table stays, empty of pods
    plumber.del(HOST_A);
    String empty = RouterChild.mustIn(NODE, "nft", "list", "table", "bridge", "flatnet");
    assertFalse(empty.contains("pod-"), empty);
    // a flushed ruleset (no table at all): DEL still succeeds
    RouterChild.mustIn(NODE, "nft", "delete", "table", "bridge", "flatnet");
    plumber.del(HOST_A);
  }

  @Test
  void checkNamesAMissingGuard() throws Exception {
    plumber.check(netns(POD_B), "eth0", HOST_B, IPS_B, GWS, true);

    RouterChild.mustIn(NODE, "bridge", "link", "set", "dev", HOST_B, "learning", "on");
    assertCheckFails("learns MAC addresses");
    RouterChild.mustIn(NODE, "bridge", "link", "set", "dev", HOST_B, "learning", "off");

    RouterChild.mustIn(NODE, "bridge", "fdb", "del", MAC_B, "dev", HOST_B, "master", "static");
    assertCheckFails("no static FDB entry for the pod's MAC " + MAC_B + " on " + HOST_B);
    RouterChild.mustIn(NODE, "bridge", "fdb", "replace", MAC_B, "dev", HOST_B, "master", "static");

    RouterChild.mustIn(
        NODE, "nft", "delete", "element", "bridge", "flatnet", "pods", "{ \"" + HOST_B + "\" }");
    assertCheckFails(HOST_B + " has no element in the nftables map bridge flatnet pods");

    // ADD again (a retried ADD): the guards are back, exactly once
    plumber.add(netns(POD_B), "eth0", HOST_B, MAC_B, IPS_B, GWS, 1500, true);
    plumber.check(netns(POD_B), "eth0", HOST_B, IPS_B, GWS, true);
    String table = RouterChild.mustIn(NODE, "nft", "list", "table", "bridge", "flatnet");
    assertEquals(1, table.split("iifname vmap @pods", -1).length - 1, table);
    assertEquals(1, table.split("chain pod-" + HOST_B + " \\{", -1).length - 1, table);
  }

  void assertCheckFails(String what) {
    NetnsPlumber.PlumbingException e =
        assertThrows(
            NetnsPlumber.PlumbingException.class,
            () -> plumber.check(netns(POD_B), "eth0", HOST_B, IPS_B, GWS, true));
    assertTrue(e.getMessage().contains(what), e.getMessage());
  }

  /** The text of {@code nft list}'s block that starts with {@code head}. */
  static String section(String listing, String head) {
    int start = listing.indexOf(head);
    assertTrue(start >= 0, head + " not in:\n" + listing);
    return listing.substring(start, listing.indexOf('}', start));
  }

  static JsonNode fdb() throws IOException {
    return JSON.readTree(
        RouterChild.mustIn(NODE, "bridge", "-j", "fdb", "show", "br", PodSegment.BRIDGE));
  }

  interface Send {
    void run() throws Exception;
  }

  /**
   * Runs {@code send} while tcpdump listens to what arrives on the router's end; returns tcpdump's
   * lines once {@code last} (the last frame sent) is among them, or after 5 s.
   */
  static List<String> capture(Send send, String last) throws Exception {
    Process dump =
        new ProcessBuilder(
                RouterChild.in(
                    NODE, "tcpdump", "-Q", "in", "-n", "-e", "-l", "-i", PodSegment.ROUTER_END))
            .start();
    List<String> lines = new CopyOnWriteArrayList<>();
    try {
      BufferedReader err =
          new BufferedReader(new InputStreamReader(dump.getErrorStream(), StandardCharsets.UTF_8));
      String line;
      while ((line = err.readLine()) != null && !line.contains("listening on")) {
        // tcpdump says where it listens once it does
      }
      assertTrue(line != null, "tcpdump did not start");
      Thread reader =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try (BufferedReader out =
                        new BufferedReader(
                            new InputStreamReader(dump.getInputStream(), StandardCharsets.UTF_8))) {
                      String l;
                      while ((l = out.readLine()) != null) {
                        // One line a frame, from its timestamp; anything else (a blank or
                        // wrapped line, seen once in CI) is not a frame of its own.
                        if (FRAME_LINE.matcher(l).lookingAt()) {
                          lines.add(l.substring(l.indexOf(' ') + 1)); // without the timestamp
                        }
                      }
                    } catch (IOException e) {
                      // tcpdump ended
                    }
                  });
      send.run();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (lines.stream().noneMatch(l -> l.contains(last)) && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      Thread.sleep(300); // anything still in flight
      dump.destroy();
      dump.waitFor(5, TimeUnit.SECONDS);
      reader.join(5000);
      return new ArrayList<>(lines);
    } finally {
      dump.destroyForcibly();
    }
  }

  /** Writes raw frames on the pod's eth0, as a pod with CAP_NET_RAW can. */
  static void sendRaw(String namespace, byte[]... frames) {
    List<String> command =
        new ArrayList<>(
            List.of(
                "python3",
                "-c",
                "import socket,sys\n"
                    + "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n"
                    + "s.bind(('eth0',0))\n"
                    + "for h in sys.argv[1:]: s.send(bytes.fromhex(h))\n"));
    for (byte[] f : frames) {
      command.add(HexFormat.of().formatHex(f));
    }
    RouterChild.mustIn(namespace, command.toArray(String[]::new));
  }

  static byte[] mac(String text) {
    return HexFormat.ofDelimiter(":").parseHex(text);
  }

  static byte[] ip(String text) {
    try {
      return InetAddress.getByName(text).getAddress();
    } catch (IOException e) {
      throw new IllegalArgumentException(text, e);
    }
  }

  static ByteBuffer ethernet(byte[] dst, byte[] src, int type, int payload) {
    ByteBuffer f = ByteBuffer.allocate(Math.max(60, 14 + payload));
    return f.put(dst).put(src).putShort((short) type);
  }

  static byte[] udp4(byte[] dst, byte[] src, String from, String to, int port) {
    ByteBuffer f = ethernet(dst, src, 0x0800, 28);
    int ipStart = f.position();
    f.put((byte) 0x45).put((byte) 0).putShort((short) 28).putInt(0);
    f.put((byte) 64).put((byte) 17).putShort((short) 0).put(ip(from)).put(ip(to));
    int sum = 0;
    for (int i = ipStart; i < ipStart + 20; i += 2) {
      sum += f.getShort(i) & 0xffff;
    }
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    f.putShort(ipStart + 10, (short) ~sum);
    f.putShort((short) 1234).putShort((short) port).putShort((short) 8).putShort((short) 0);
    return f.array();
  }

  static byte[] udp6(byte[] dst, byte[] src, String from, String to, int port) {
    ByteBuffer f = ethernet(dst, src, 0x86dd, 48);
    f.putInt(0x60000000).putShort((short) 8).put((byte) 17).put((byte) 64);
    f.put(ip(from)).put(ip(to));
    f.putShort((short) 1234).putShort((short) port).putShort((short) 8).putShort((short) 0xffff);
    return f.array();
  }

  static byte[] arp(
      byte[] dst,
      byte[] src,
      int op,
      byte[] senderMac,
      String senderIp,
      byte[] targetMac,
      String targetIp) {
    ByteBuffer f = ethernet(dst, src, 0x0806, 28);
    f.putShort((short) 1).putShort((short) 0x0800).put((byte) 6).put((byte) 4);
    f.putShort((short) op).put(senderMac).put(ip(senderIp)).put(targetMac).put(ip(targetIp));
    return f.array();
  }

  /** The frame with an 802.1Q tag (VLAN 5) after its MACs. */
  static byte[] tagged(byte[] frame) {
    ByteBuffer f = ByteBuffer.allocate(frame.length + 4);
    f.put(frame, 0, 12).putShort((short) 0x8100).putShort((short) 5);
    f.put(frame, 12, frame.length - 12);
    return f.array();
  }
}
