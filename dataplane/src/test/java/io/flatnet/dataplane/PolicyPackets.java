package io.flatnet.dataplane;

import io.flatnet.control.PolicySpec;
import java.nio.ByteBuffer;
import java.util.List;

/** Frames and specs for the network-policy tests. */
public final class PolicyPackets {
  private PolicyPackets() {}

  public static final int SYN = 0x02;
  public static final int ACK = 0x10;
  public static final int FIN = 0x01;
  public static final int RST = 0x04;

  /** A TCP segment (no options) in IPv4 in Ethernet; the L4 checksum is left 0. */
  public static byte[] tcp(int source, int destination, int sport, int dport, int flags) {
    return TestPackets.ipv4(source, destination, 64, 6, tcpHeader(sport, dport, flags), true);
  }

  public static byte[] udp(int source, int destination, int sport, int dport) {
    ByteBuffer udp = ByteBuffer.allocate(16);
    udp.putShort((short) sport).putShort((short) dport).putShort((short) 16).putShort((short) 0);
    return TestPackets.ipv4(source, destination, 64, 17, udp.array(), true);
  }

  public static byte[] tcp6(long[] source, long[] destination, int sport, int dport, int flags) {
    return TestPackets.ipv6(source, destination, 64, 6, tcpHeader(sport, dport, flags));
  }

  public static byte[] tcpHeader(int sport, int dport, int flags) {
    ByteBuffer tcp = ByteBuffer.allocate(20);
    tcp.putShort((short) sport).putShort((short) dport).putInt(1).putInt(0);
    tcp.put((byte) 0x50).put((byte) flags).putShort((short) 8192).putInt(0);
    return tcp.array();
  }

  /** An ICMP echo (type 8 request, 0 reply) with {@code id}. */
  public static byte[] echo(int source, int destination, int type, int id) {
    byte[] icmp = {(byte) type, 0, 0, 0, (byte) (id >>> 8), (byte) id, 0, 1};
    return TestPackets.ipv4(source, destination, 64, 1, icmp, false);
  }

  /**
   * An ICMP error (type 3 code 3, port unreachable) from {@code source} to {@code destination}
   * quoting {@code quoted} (a frame: its IP header and first 8 bytes of payload).
   */
  public static byte[] icmpError(int source, int destination, byte[] quoted) {
    int ipLength = 20 + 8;
    ByteBuffer icmp = ByteBuffer.allocate(8 + ipLength);
    icmp.put((byte) 3).put((byte) 3).putShort((short) 0).putInt(0);
    icmp.put(quoted, 14, ipLength);
    return TestPackets.ipv4(source, destination, 64, 1, icmp.array(), false);
  }

  /** An IPv4 non-first fragment (offset 8 units) of a TCP packet. */
  public static byte[] fragment(int source, int destination) {
    byte[] frame = tcp(source, destination, 1234, 80, ACK);
    frame[20] = 0; // flags/offset: offset 1 (8 bytes), no DF
    frame[21] = 1;
    frame[24] = 0;
    frame[25] = 0;
    int checksum = TestPackets.ipChecksum(frame, 14, 20);
    frame[24] = (byte) (checksum >>> 8);
    frame[25] = (byte) checksum;
    return frame;
  }

  public static PolicySpec.Rule rule(
      String policy, int index, List<String> peers, List<Object> ports) {
    List<PolicySpec.Peer> p = peers.stream().map(c -> new PolicySpec.Peer(c, List.of())).toList();
    List<PolicySpec.PortRange> r =
        ports.stream()
            .map(
                o ->
                    o instanceof PolicySpec.PortRange range
                        ? range
                        : new PolicySpec.PortRange("TCP", (Integer) o, (Integer) o))
            .toList();
    return new PolicySpec.Rule(policy, index, peers.isEmpty(), p, ports.isEmpty(), r);
  }

  /** A pod isolated for ingress only, with {@code ingress} rules. */
  public static PolicySpec ingressOnly(String pod, String address, PolicySpec.Rule... ingress) {
    return new PolicySpec(pod, List.of(address), true, false, List.of(ingress), List.of());
  }

  /** A pod isolated both ways. */
  public static PolicySpec both(
      String pod, String address, List<PolicySpec.Rule> ingress, List<PolicySpec.Rule> egress) {
    return new PolicySpec(pod, List.of(address), true, true, ingress, egress);
  }
}
