package io.flatnet.perf.pipeline;

import io.flatnet.dataplane.PacketStages;
import io.flatnet.dataplane.PortSetup;
import io.flatnet.dataplane.PortTable;
import io.flatnet.dataplane.packet.Ipv4Header;
import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.Devices;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.Ipv4Fib;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.QsbrDomain;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The worker's per-packet cost on a burst of 32 real mbufs in hugepage memory: header checks, bulk
 * lookup, rewrite, each alone and all together. The routes look like a node's: a /24 per node of a
 * 250-node cluster and a /32 per local pod. Results are ns per packet.
 *
 * <p>{@code adjacency}, {@code enqueue} and {@code path} are the stages of issue 15: the forward
 * decision (kind, out port, MTU, MACs) with the rewrite, the queuing for TX on nine {@code
 * net_null} ports (the queued packets are forgotten, not sent, so the burst is reused), and the
 * whole path (checks, lookup, adjacency and rewrite, TX enqueue). Those that rewrite put each
 * packet's TTL and checksum back after it, so every run forwards the same packets.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class PipelineBenchmark {
  private static final int BURST = 32;

  private final long[] frames = new long[BURST];
  private final long[] mbufs = new long[BURST];
  private final int[] destinations = new int[BURST];
  private final int[] nextHops = new int[BURST];
  private final int[] resolved = new int[BURST];
  private final int[] outPorts = new int[BURST];
  private final int[] ttlWords = new int[BURST];
  private final int[] ports = new int[9];
  private Ipv4Fib fib;
  private NextHopTable hops;
  private PacketStages.Forward forward;
  private PacketStages.Transmit transmit;

  @Setup
  public void setUp() {
    Eal.initOnce(EalArguments.forProgram("flatnet-jmh").logLevel("error").build());
    PktMbufPool pool =
        PktMbufPool.create("jmh-pipeline", 1023, 0, PktMbufPool.DEFAULT_DATA_ROOM, -1);
    MbufArray array = new MbufArray(Arena.global(), BURST);
    if (!pool.allocBulk(array, BURST)) {
      throw new IllegalStateException("mempool empty");
    }
    List<BurstQueue> txQueues = new ArrayList<>();
    for (int p = 0; p < ports.length; p++) {
      ports[p] = Devices.probe("net_null_jmh" + p);
      PortSetup.start(ports[p], PortSetup.Options.singleQueue(), pool);
      txQueues.add(BurstQueue.tx(ports[p], 0));
    }
    QsbrDomain domain = new QsbrDomain();
    hops = new NextHopTable(1024, domain);
    fib = new Ipv4Fib(domain, hops, 1024);
    Ipv4Fib.Batch batch = fib.batch();
    int uplinkHop = hops.addForward(ports[0], 0x02_00_00_00_00_01L, 0x02_00_00_00_00_02L);
    for (int node = 0; node < 250; node++) {
      batch.add(Ipv4Prefix.parse("10.244." + node + ".0/24"), uplinkHop);
    }
    for (int pod = 1; pod < 250; pod++) {
      int podHop =
          hops.addForward(ports[1 + pod % 8], 0x02_00_00_00_01_00L | pod, 0x02_00_00_00_00_03L);
      batch.add(Ipv4Prefix.parse("10.244.7." + pod + "/32"), podHop);
    }
    batch.commit();
    Random random = new Random(42);
    for (int i = 0; i < BURST; i++) {
      mbufs[i] = array.get(i);
      frames[i] = Mbuf.dataAddress(mbufs[i]);
      int destination =
          random.nextBoolean()
              ? 0x0AF4_0700 | (1 + random.nextInt(249))
              : 0x0AF4_0000 | random.nextInt(250) << 8 | 1 + random.nextInt(254);
      byte[] frame = udp(destination);
      NativeMemory.copy(frame, frames[i]);
      Ipv4Header.writeChecksum(frames[i] + 14, Ipv4Header.MIN_LENGTH);
      Mbuf.setLength(mbufs[i], frame.length);
      destinations[i] = destination;
      ttlWords[i] = NativeMemory.getIntBe(frames[i] + 22);
    }
    fib.lookupBulk(destinations, resolved, BURST);
    for (int i = 0; i < BURST; i++) {
      outPorts[i] = hops.port(resolved[i]);
    }
    forward = new PacketStages.Forward(hops, PortTable.empty());
    try {
      File counters = File.createTempFile("flatnet-jmh-counters", ".dat");
      counters.delete();
      counters.deleteOnExit();
      transmit = new PacketStages.Transmit(counters, txQueues);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static byte[] udp(int destination) {
    ByteBuffer frame = ByteBuffer.allocate(60);
    frame.putLong(0x0202_0000_0000_0002L).putInt(0x0000_0000).putShort((short) 0x0800);
    frame.put((byte) 0x45).put((byte) 0).putShort((short) 46).putInt(0).put((byte) 64);
    frame.put((byte) 17).putShort((short) 0).putInt(0x0AF4_0102).putInt(destination);
    return frame.array();
  }

  /** Header checks (version, lengths, checksum in software) and reading the destination. */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public void parse(Blackhole hole) {
    for (int i = 0; i < BURST; i++) {
      hole.consume(PacketStages.ipv4HeaderOk(mbufs[i]));
      destinations[i] = NativeMemory.getIntBe(frames[i] + 30);
    }
  }

  /** One bulk lookup for the burst. */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public int[] lookup() {
    fib.lookupBulk(destinations, nextHops, BURST);
    return nextHops;
  }

  /** TTL and checksum update and MAC rewrite. */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public void rewrite() {
    for (int i = 0; i < BURST; i++) {
      PacketStages.rewriteIpv4(frames[i], hops, nextHops[i] == 0 ? 1 : nextHops[i]);
    }
  }

  /** All three, as the worker runs them on a burst. */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public void pipeline(Blackhole hole) {
    int routable = 0;
    for (int i = 0; i < BURST; i++) {
      if (PacketStages.ipv4HeaderOk(mbufs[i])) {
        destinations[routable++] = NativeMemory.getIntBe(frames[i] + 30);
      }
    }
    fib.lookupBulk(destinations, nextHops, routable);
    for (int i = 0; i < routable; i++) {
      int nextHop = nextHops[i];
      if (hops.kind(nextHop) == NextHopTable.KIND_FORWARD) {
        PacketStages.rewriteIpv4(frames[i], hops, nextHop);
        hole.consume(hops.port(nextHop));
      }
    }
  }

  /**
   * The adjacency: kind, out port, MTU and both MACs of a resolved next hop, the TTL and MTU checks
   * and the rewrite (then the packet's TTL and checksum are put back).
   */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public int adjacency() {
    int sum = 0;
    for (int i = 0; i < BURST; i++) {
      sum += forward.ipv4(frames[i], resolved[i]);
      NativeMemory.putIntBe(frames[i] + 22, ttlWords[i]);
    }
    return sum;
  }

  /** Queuing each packet on its out port's TX buffer, as the worker does after the rewrite. */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public void enqueue() {
    for (int i = 0; i < BURST; i++) {
      transmit.send(outPorts[i], mbufs[i]);
    }
    transmit.discard();
  }

  /** The whole path: checks, bulk lookup, adjacency and rewrite, TX enqueue. */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public void path() {
    int routable = 0;
    for (int i = 0; i < BURST; i++) {
      if (PacketStages.ipv4HeaderOk(mbufs[i])) {
        destinations[routable++] = NativeMemory.getIntBe(frames[i] + 30);
      }
    }
    fib.lookupBulk(destinations, nextHops, routable);
    for (int i = 0; i < routable; i++) {
      int out = forward.ipv4(frames[i], nextHops[i]);
      if (out >= 0) {
        transmit.send(out, mbufs[i]);
      }
      NativeMemory.putIntBe(frames[i] + 22, ttlWords[i]);
    }
    transmit.discard();
  }
}
