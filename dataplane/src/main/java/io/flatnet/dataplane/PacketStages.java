package io.flatnet.dataplane;

import io.flatnet.control.PolicySpec;
import io.flatnet.dataplane.packet.Ethernet;
import io.flatnet.dataplane.policy.PolicyCheck;
import io.flatnet.dataplane.policy.PolicyTable;
import io.flatnet.route.NextHops;
import java.io.File;
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
