package io.flatnet.perf.pipeline;

import io.flatnet.dataplane.PacketStages;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.Ipv4Fib;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.NextHops;
import io.flatnet.route.QsbrDomain;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.Blackhole;

/**
 * What ECMP adds to a burst of 32 real mbufs: the bulk lookup, then (as the worker does) the member
 * pick — flow hash from the packet and one bucket read — then the rewrite, for a route to a plain
 * next hop ({@code group=false}) and to a 4-path weighted group ({@code group=true}). Results are
 * ns per packet; the difference is the ECMP cost.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class EcmpBenchmark {
  private static final int BURST = 32;

  @Param({"false", "true"})
  public boolean group;

  private final long[] frames = new long[BURST];
  private final long[] mbufs = new long[BURST];
  private final int[] destinations = new int[BURST];
  private final int[] nextHops = new int[BURST];
  private Ipv4Fib fib;
  private NextHopTable hops;

  @Setup
  public void setUp() {
    Eal.initOnce(EalArguments.forProgram("flatnet-jmh").logLevel("error").build());
    PktMbufPool pool =
        PktMbufPool.create("jmh-ecmp-" + group, 1023, 0, PktMbufPool.DEFAULT_DATA_ROOM, -1);
    MbufArray array = new MbufArray(Arena.global(), BURST);
    if (!pool.allocBulk(array, BURST)) {
      throw new IllegalStateException("mempool empty");
    }
    QsbrDomain domain = new QsbrDomain();
    hops = new NextHopTable(1024, domain);
    fib = new Ipv4Fib(domain, hops, 1024);
    int[] members = new int[4];
    for (int m = 0; m < 4; m++) {
      members[m] = hops.addForward(m, 0x02_00_00_00_00_10L | m, 0x02_00_00_00_00_20L | m);
    }
    int target = group ? hops.addGroup(members, new int[] {1, 2, 3, 4}) : hops.addForward(0, 1, 2);
    fib.add(Ipv4Prefix.parse("10.50.0.0/16"), target);
    Random random = new Random(42);
    for (int i = 0; i < BURST; i++) {
      mbufs[i] = array.get(i);
      frames[i] = Mbuf.dataAddress(mbufs[i]);
      byte[] frame = udp(0x0A09_0000 | random.nextInt(1 << 16), 0x0A32_0007, random.nextInt());
      NativeMemory.copy(frame, frames[i]);
      Mbuf.setLength(mbufs[i], frame.length);
      destinations[i] = 0x0A32_0007;
    }
  }

  private static byte[] udp(int source, int destination, int ports) {
    ByteBuffer frame = ByteBuffer.allocate(60);
    frame.putLong(0x0202_0000_0000_0002L).putInt(0x0000_0000).putShort((short) 0x0800);
    frame.put((byte) 0x45).put((byte) 0).putShort((short) 46).putInt(0).put((byte) 64);
    frame.put((byte) 17).putShort((short) 0).putInt(source).putInt(destination).putInt(ports);
    return frame.array();
  }

  /** The flow hash alone, from the packet. */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public void flowHash(Blackhole hole) {
    for (int i = 0; i < BURST; i++) {
      hole.consume(PacketStages.ipv4FlowHash(mbufs[i]));
    }
  }

  /** The bucket read alone, for hashes 0..31 (on the plain route: its entry word, unpicked). */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public void pick(Blackhole hole) {
    long entry = hops.entry(nextHops[0] == 0 ? 1 : nextHops[0]);
    boolean isGroup = NextHopTable.kindOf(entry) == NextHops.KIND_GROUP;
    for (int i = 0; i < BURST; i++) {
      hole.consume(isGroup ? hops.groupMember(entry, i * 0x9E3779B9) : i);
    }
  }

  /** Lookup, member pick when the route is a group (the worker's code), rewrite. */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public void lookupPickRewrite(Blackhole hole) {
    fib.lookupBulk(destinations, nextHops, BURST);
    if (hops.hasGroups()) {
      for (int i = 0; i < BURST; i++) {
        long entry = hops.entry(nextHops[i]);
        if (NextHopTable.kindOf(entry) == NextHops.KIND_GROUP) {
          nextHops[i] = hops.groupMember(entry, PacketStages.ipv4FlowHash(mbufs[i]));
        }
      }
    }
    for (int i = 0; i < BURST; i++) {
      int nextHop = nextHops[i];
      PacketStages.rewriteIpv4(frames[i], hops, nextHop);
      hole.consume(hops.port(nextHop));
    }
  }
}
