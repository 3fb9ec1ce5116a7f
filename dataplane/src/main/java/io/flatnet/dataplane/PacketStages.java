package io.flatnet.dataplane;

import io.flatnet.control.PolicySpec;
import io.flatnet.dataplane.packet.Ethernet;
import io.flatnet.dataplane.policy.PolicyCheck;
import io.flatnet.dataplane.policy.PolicyTable;
import io.flatnet.dpdk.BurstQueue;
import io.flatnet.route.NextHops;
import java.io.File;
import java.lang.foreign.Arena;
import java.util.List;

/**
 * The worker's per-packet stages, one by one, for the pipeline microbenchmarks in {@code perf/}:
 * the same code the worker runs, so what they measure is what forwards.
 */
public final class PacketStages {
  private PacketStages() {}

  /** RFC 1812 checks of the IPv4 packet in {@code mbuf} (Ethernet header first). */
  public static boolean ipv4HeaderOk(long mbuf) {
    return Ipv4Node.wellFormed(mbuf);
  }

  /**
   * The ECMP flow hash of the IPv4 packet in {@code mbuf} (addresses, protocol, ports), as the
   * worker computes it to pick a group's member.
   */
  public static int ipv4FlowHash(long mbuf) {
    long frame = io.flatnet.dpdk.Mbuf.dataAddress(mbuf);
    return Ipv4Node.flowHash(
        mbuf,
        frame,
        io.flatnet.dpdk.NativeMemory.getIntBe(frame + Ethernet.HEADER + 12),
        io.flatnet.dpdk.NativeMemory.getIntBe(frame + Ethernet.HEADER + 16));
  }

  /** TTL minus one with the incremental checksum update, and the next hop's MACs. */
  public static void rewriteIpv4(long frame, NextHops hops, int nextHop) {
    Ipv4Node.rewrite(frame, hops, nextHop);
  }

  /**
   * The forward decision on one IPv4 packet as the worker's IPv4 node takes it for a resolved next
   * hop: the adjacency (kind, out port, MTU, MACs), the TTL and MTU checks, and the rewrite.
   */
  public static final class Forward {
    private final NextHops hops;

    /**
     * {@code ports}: unused since the MTU is the adjacency's (the benchmark's source is shared).
     */
    public Forward(NextHops hops, PortTable ports) {
      this.hops = hops;
    }

    /** The out port of the rewritten packet, or -1 if the worker would not send it on. */
    public int ipv4(long frame, int nextHop) {
      return Ipv4Node.forwardResolved(frame, nextHop, hops);
    }
  }

  /**
   * A worker's TX side over real TX queues, one per port, as {@code PacketIo.send} queues a
   * forwarded packet; {@link #discard} forgets the queued packets instead of sending them, so a
   * benchmark can reuse its mbufs.
   */
  public static final class Transmit implements AutoCloseable {
    private final DataplaneCounters file;
    private final PacketIo io;
    private final WorkerPorts queues;

    /** {@code counters}: a file to create. */
    public Transmit(File counters, List<BurstQueue> txQueues) {
      this.file = DataplaneCounters.create(counters);
      WorkerCounters workerCounters = new WorkerCounters(file, 0, new int[0], new String[0]);
      this.io = new PacketIo(Arena.ofAuto(), ForwardingWorker.BURST, workerCounters);
      this.queues = new WorkerPorts(1, List.of(), txQueues, ForwardingWorker.BURST);
      io.use(queues);
    }

    /** Queues the packet on {@code port} (sent when that port's buffer holds a burst). */
    public void send(int port, long mbuf) {
      io.send(port, mbuf);
    }

    /** Forgets every queued packet. */
    public void discard() {
      for (TxBuffer tx : queues.tx) {
        tx.discard();
      }
    }

    @Override
    public void close() {
      file.close();
    }
  }

  /**
   * A worker's network-policy check ({@code PolicyCheck} and its flow table) over a compiled table,
   * with counters in a file of its own: the per-packet policy cost of the IPv4 node's filter.
   */
  public static final class Policy implements AutoCloseable {
    private final DataplaneCounters file;
    private final PolicyCheck check;
    private final PolicyTable table;

    /** {@code specs} compiled as generation 1; {@code counters} a file to create. */
    public Policy(File counters, List<PolicySpec> specs, int flowCapacity) {
      this.file = DataplaneCounters.create(counters);
      this.check =
          new PolicyCheck(flowCapacity, new WorkerCounters(file, 0, new int[0], new String[0]));
      this.table = PolicyTable.compile(1, specs, null);
    }

    /** Once per vector, as the worker's loop does: the table and the loop's timestamp. */
    public void begin(long nanoTime) {
      check.begin(table, nanoTime);
    }

    /** The IPv4 packet at {@code ip}: 0 (pass) or a deny. */
    public int check4(long ip, int ipLength) {
      return check.check4(ip, ipLength, false);
    }

    @Override
    public void close() {
      file.close();
    }
  }
}
