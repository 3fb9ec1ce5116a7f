package io.flatnet.perf.pipeline;

import io.flatnet.dataplane.PacketStages;
import io.flatnet.dataplane.PortTable;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.NextHopTable;
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

/**
 * The adjacency stage (kind, out port, MTU, MACs; TTL and MTU checks; rewrite) when the next hops
 * are many and the packets' next hops random, so most adjacency reads miss the caches: what the
 * record layout changes. A burst of 32 real mbufs; each burst takes the next 32 of a long random
 * sequence of next-hop indexes. Results are ns per packet.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class AdjacencyBenchmark {
  private static final int BURST = 32;
  private static final int SEQUENCE = 1 << 18;

  @Param({"1024", "131072", "1048576"})
  int nextHops;

  private final long[] frames = new long[BURST];
  private final int[] ttlWords = new int[BURST];
  private int[] sequence;
  private int position;
  private PacketStages.Forward forward;

  @Setup
  public void setUp() {
    Eal.initOnce(EalArguments.forProgram("flatnet-jmh").logLevel("error").build());
    PktMbufPool pool =
        PktMbufPool.create("jmh-adjacency-" + nextHops, 1023, 0, PktMbufPool.DEFAULT_DATA_ROOM, -1);
    MbufArray array = new MbufArray(Arena.global(), BURST);
    if (!pool.allocBulk(array, BURST)) {
      throw new IllegalStateException("mempool empty");
    }
    NextHopTable hops = new NextHopTable(nextHops, new QsbrDomain());
    int[] indexes = new int[nextHops];
    for (int i = 0; i < nextHops; i++) {
      indexes[i] = hops.addForward(i % 9, 0x02_00_00_00_00_00L | i, 0x02_00_00_00_01_00L | i % 9);
    }
    Random random = new Random(42);
    sequence = new int[SEQUENCE];
    for (int i = 0; i < SEQUENCE; i++) {
      sequence[i] = indexes[random.nextInt(nextHops)];
    }
    byte[] frame = udp();
    for (int i = 0; i < BURST; i++) {
      long mbuf = array.get(i);
      frames[i] = Mbuf.dataAddress(mbuf);
      NativeMemory.copy(frame, frames[i]);
      Mbuf.setLength(mbuf, frame.length);
      ttlWords[i] = NativeMemory.getIntBe(frames[i] + 22);
    }
    forward = new PacketStages.Forward(hops, PortTable.empty());
  }

  private static byte[] udp() {
    ByteBuffer frame = ByteBuffer.allocate(60);
    frame.putLong(0x0202_0000_0000_0002L).putInt(0x0000_0000).putShort((short) 0x0800);
    frame.put((byte) 0x45).put((byte) 0).putShort((short) 46).putInt(0).put((byte) 64);
    frame.put((byte) 17).putShort((short) 0).putInt(0x0AF4_0102).putInt(0x0AF4_0203);
    return frame.array(); // the checksum is not checked here
  }

  /** The adjacency and rewrite of a burst to random next hops (TTL and checksum put back). */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public int adjacency() {
    int base = position;
    position = (base + BURST) & (SEQUENCE - 1);
    int sum = 0;
    for (int i = 0; i < BURST; i++) {
      sum += forward.ipv4(frames[i], sequence[base + i]);
      NativeMemory.putIntBe(frames[i] + 22, ttlWords[i]);
    }
    return sum;
  }
}
