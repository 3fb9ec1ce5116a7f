package io.flatnet.dataplane;

import io.flatnet.dataplane.neighbor.NeighborLearning;
import io.flatnet.dataplane.packet.AddressChecks;
import io.flatnet.dataplane.packet.Ethernet;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.NativeMemory;

/**
 * ARP (RFC 826) on the worker: answers requests for the router's addresses, in place, and tells the
 * control path every sender it hears from, so next hops resolve and gratuitous ARP updates them. On
 * pod and host ports the router answers for every address but the asker's own (proxy ARP), so a
 * pod's traffic always goes through the router, whatever the pod's subnet mask says.
 */
final class ArpNode {
  private static final int ARP = Ethernet.HEADER;
  private static final int LENGTH = 28;
  private static final int REQUEST = 1;
  private static final int REPLY = 2;

  private final PacketIo io;
  private final NeighborLearning learning;

  ArpNode(PacketIo io, NeighborLearning learning) {
    this.io = io;
    this.learning = learning;
  }

  void process(long mbuf, ForwardingState state) {
    PortTable ports = state.ports();
    long frame = Mbuf.dataAddress(mbuf);
    long arp = frame + ARP;
    if (Mbuf.dataLength(mbuf) < ARP + LENGTH
        || NativeMemory.getU16Be(arp) != 1
        || NativeMemory.getU16Be(arp + 2) != Ethernet.IPV4
        || NativeMemory.getU16Be(arp + 4) != 0x0604) {
      io.drop(mbuf, DropReason.BAD_NEIGHBOR_PACKET);
      return;
    }
    int port = Mbuf.port(mbuf);
    int operation = NativeMemory.getU16Be(arp + 6);
    long senderMac = NativeMemory.getMac(arp + 8);
    int senderIp = NativeMemory.getIntBe(arp + 14);
    int targetIp = NativeMemory.getIntBe(arp + 24);
    boolean guarded = (ports.guards(port) & PortTable.GUARD_SOURCE) != 0;
    if (!AddressChecks.isUnicastMac(senderMac)
        || (guarded && senderMac != Ethernet.source(frame))) {
      io.drop(mbuf, DropReason.BAD_LINK_LAYER_ADDRESS);
      return;
    }
    if (senderIp != 0) {
      if (guarded
          && !AddressChecks.sourceBelongs(
              state.nextHops().entry(state.ipv4().lookup(senderIp)), port, senderMac)) {
        io.drop(mbuf, DropReason.SPOOFED_SOURCE); // a pod may claim its own addresses only
        return;
      }
      // A reply unicast to us proves the sender hears us: it confirms reachability (RFC 4861
      // 7.3.1's rule); a gratuitous one only claims.
      boolean answer =
          operation == REPLY
              && targetIp != senderIp
              && Ethernet.destination(frame) == ports.mac(port);
      learning.ipv4(port, senderIp, senderMac, answer);
    }
    if (operation == REQUEST && answers(ports, port, senderIp, targetIp)) {
      long portMac = ports.mac(port);
      NativeMemory.putU16Be(arp + 6, REPLY);
      NativeMemory.putMac(arp + 18, senderMac);
      NativeMemory.putIntBe(arp + 24, senderIp);
      NativeMemory.putMac(arp + 8, portMac);
      NativeMemory.putIntBe(arp + 14, targetIp);
      Ethernet.setAddresses(frame, senderMac, portMac);
      io.counters.event(WorkerEvent.ARP_REPLY_SENT);
      io.send(port, mbuf);
      return;
    }
    io.consume(mbuf);
  }

  private static boolean answers(PortTable ports, int port, int senderIp, int targetIp) {
    if (targetIp == 0 || senderIp == 0 || targetIp == senderIp) {
      return false; // a probe or a gratuitous announcement: never claim the asker's address
    }
    return switch (ports.role(port)) {
      case PortTable.ROLE_POD, PortTable.ROLE_HOST -> true;
      case PortTable.ROLE_UPLINK -> targetIp == ports.ipv4(port);
      default -> false;
    };
  }
}
