package io.flatnet.dataplane;

import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.DpdkLayout;
import io.flatnet.dpdk.Lcore;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.NextHops;
import io.flatnet.route.QsbrReader;
import java.lang.foreign.Arena;
import java.util.List;
import org.agrona.concurrent.Agent;

/**
 * A poll-mode IPv4 forwarding worker, in the shape of DPDK's l3fwd: receive a burst, check and look
 * up every packet, rewrite, buffer per out port, flush. It runs on one registered, pinned lcore,
 * allocates nothing and takes no locks; new routes arrive as a published {@link Routes}.
 *
 * <p>Each burst is processed as a vector, VPP-style: one pass checks headers and gathers
 * destinations, one bulk lookup resolves them, one pass rewrites and queues.
 */
public final class ForwardingWorker implements Agent {
  public static final int BURST = 32;

  private static final int ETHER_HEADER = 14;
  private static final int IP_CSUM_MASK = DpdkLayout.MBUF_F_RX_IP_CKSUM_MASK;
  private static final int IP_CSUM_GOOD = DpdkLayout.MBUF_F_RX_IP_CKSUM_GOOD;
  private static final int IP_CSUM_BAD = DpdkLayout.MBUF_F_RX_IP_CKSUM_BAD;

  private final int id;
  private final int cpu;
  private final Arena arena = Arena.ofShared();
  private final BurstQueue[] rxQueues;
  private final TxBuffer[] txByPort = new TxBuffer[DpdkLayout.MAX_ETHPORTS];
  private final TxBuffer[] txBuffers;
  private final WorkerCounters counters;
  private final QsbrReader quiescence;
  private volatile Routes routes;

  private final MbufArray received;
  private final MbufArray dropped;
  private int droppedCount;
  private final long[] candidates = new long[BURST];
  private final int[] destinations = new int[BURST];
  private final int[] nextHops = new int[BURST];

  /**
   * @param cpu the CPU to pin to, or -1 to leave the thread where it is (tests that drive {@link
   *     #doWork()} from their own thread)
   * @param quiescence this worker's QSBR registration with the route tables' domain
   */
  public ForwardingWorker(
      int id,
      int cpu,
      List<BurstQueue> rxQueues,
      List<BurstQueue> txQueues,
      Routes routes,
      QsbrReader quiescence,
      WorkerCounters counters) {
    this.id = id;
    this.cpu = cpu;
    this.rxQueues = rxQueues.toArray(BurstQueue[]::new);
    this.txBuffers = new TxBuffer[txQueues.size()];
    for (int i = 0; i < txBuffers.length; i++) {
      BurstQueue tx = txQueues.get(i);
      if (tx.isRx() || txByPort[tx.port()] != null) {
        throw new IllegalArgumentException("worker " + id + ": bad or duplicate tx queue " + tx);
      }
      txBuffers[i] = new TxBuffer(arena, tx, BURST);
      txByPort[tx.port()] = txBuffers[i];
    }
    this.routes = routes;
    this.quiescence = quiescence;
    this.counters = counters;
    this.received = new MbufArray(arena, BURST);
    this.dropped = new MbufArray(arena, BURST);
  }

  /** Publishes new routing state; the worker picks it up at its next burst. */
  public void setRoutes(Routes routes) {
    this.routes = routes;
  }

  @Override
  public void onStart() {
    Lcore.registerCurrentThread();
    if (cpu >= 0) {
      Lcore.pinCurrentThread(cpu);
    }
  }

  @Override
  public int doWork() {
    Routes current = routes;
    int work = 0;
    for (BurstQueue rx : rxQueues) {
      int count = rx.burst(received, BURST);
      if (count > 0) {
        counters.pendingRx += count;
        forwardBurst(current, count);
        work += count;
      }
    }
    if (work > 0) {
      for (TxBuffer tx : txBuffers) {
        tx.flush(counters);
      }
      counters.publish();
    }
    // No lookup result is held past this point: route memory retired before now may be reused.
    quiescence.quiescent();
    return work;
  }

  private void forwardBurst(Routes current, int count) {
    int routable = 0;
    for (int i = 0; i < count; i++) {
      long mbuf = received.get(i);
      DropReason bad = checkIpv4(mbuf);
      if (bad != null) {
        drop(mbuf, bad);
        continue;
      }
      candidates[routable] = mbuf;
      destinations[routable] =
          NativeMemory.getIntBe(
              Mbuf.dataAddress(mbuf) + ETHER_HEADER + Ipv4Header.DESTINATION_OFFSET);
      routable++;
    }
    current.ipv4().lookupBulk(destinations, nextHops, routable);
    NextHops hops = current.nextHops();
    for (int i = 0; i < routable; i++) {
      long mbuf = candidates[i];
      int nextHop = nextHops[i];
      int kind = hops.kind(nextHop);
      if (kind != NextHops.KIND_FORWARD) {
        drop(mbuf, dropReasonFor(kind));
        continue;
      }
      long ether = Mbuf.dataAddress(mbuf);
      long ip = ether + ETHER_HEADER;
      if (NativeMemory.getU8(ip + Ipv4Header.TTL_OFFSET) <= 1) {
        drop(mbuf, DropReason.TTL_EXCEEDED);
        continue;
      }
      TxBuffer tx = txByPort[hops.port(nextHop)];
      if (tx == null) {
        drop(mbuf, DropReason.PORT_DOWN);
        continue;
      }
      Ipv4Header.decrementTtl(ip);
      NativeMemory.putMac(ether, hops.dstMac(nextHop));
      NativeMemory.putMac(ether + 6, hops.srcMac(nextHop));
      tx.add(mbuf, counters);
    }
    if (droppedCount > 0) {
      PktMbufPool.freeBulk(dropped.address(), droppedCount);
      droppedCount = 0;
    }
  }

  /** RFC 1812 5.2.2 checks; returns null if the packet is a well-formed IPv4 packet. */
  private static DropReason checkIpv4(long mbuf) {
    int frameLength = Mbuf.dataLength(mbuf);
    if (frameLength < ETHER_HEADER) {
      return DropReason.NOT_IP;
    }
    long ether = Mbuf.dataAddress(mbuf);
    if (NativeMemory.getU16Be(ether + 12) != Ipv4Header.ETHERTYPE) {
      return DropReason.NOT_IP;
    }
    int ipLength = frameLength - ETHER_HEADER;
    if (ipLength < Ipv4Header.MIN_LENGTH) {
      return DropReason.BAD_IPV4_HEADER;
    }
    long ip = ether + ETHER_HEADER;
    int versionAndLength = NativeMemory.getU8(ip);
    int headerLength = (versionAndLength & 0x0F) << 2;
    if ((versionAndLength >>> 4) != 4
        || headerLength < Ipv4Header.MIN_LENGTH
        || headerLength > ipLength) {
      return DropReason.BAD_IPV4_HEADER;
    }
    int totalLength = NativeMemory.getU16Be(ip + 2);
    if (totalLength < headerLength || totalLength > Mbuf.packetLength(mbuf) - ETHER_HEADER) {
      return DropReason.BAD_IPV4_HEADER;
    }
    int checksumFlags = (int) Mbuf.offloadFlags(mbuf) & IP_CSUM_MASK;
    if (checksumFlags == IP_CSUM_BAD
        || (checksumFlags != IP_CSUM_GOOD && !Ipv4Header.checksumValid(ip, headerLength))) {
      return DropReason.BAD_IPV4_HEADER;
    }
    return null;
  }

  private static DropReason dropReasonFor(int kind) {
    return switch (kind) {
      case NextHops.KIND_NO_ROUTE -> DropReason.NO_ROUTE;
      case NextHops.KIND_RESOLVE -> DropReason.NEIGHBOR_UNRESOLVED;
      case NextHops.KIND_LOCAL -> DropReason.NO_HOST_PATH;
      default -> DropReason.BLACKHOLE;
    };
  }

  private void drop(long mbuf, DropReason reason) {
    dropped.set(droppedCount++, mbuf);
    counters.drop(reason);
  }

  /** Packets this worker sent on {@code port} since it started. For tests and the demo. */
  public long sentOn(int port) {
    TxBuffer tx = txByPort[port];
    return tx == null ? 0 : tx.sentPackets;
  }

  public WorkerCounters counters() {
    return counters;
  }

  @Override
  public void onClose() {
    for (TxBuffer tx : txBuffers) {
      tx.flush(counters);
    }
    counters.publish();
    quiescence.close();
    Lcore.unregisterCurrentThread();
  }

  @Override
  public String roleName() {
    return "flatnet-worker-" + id;
  }
}
