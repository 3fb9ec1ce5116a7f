package io.flatnet.perf.pipeline;

import io.flatnet.dataplane.ControlChannel;
import io.flatnet.dataplane.DataplaneCounters;
import io.flatnet.dataplane.ForwardingState;
import io.flatnet.dataplane.ForwardingWorker;
import io.flatnet.dataplane.PortSetup;
import io.flatnet.dataplane.PortTable;
import io.flatnet.dataplane.WorkerCounters;
import io.flatnet.dataplane.packet.Ipv4Header;
import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.Devices;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import io.flatnet.dpdk.EthDev;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.Ipv4Fib;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Fib;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.QsbrDomain;
import java.io.File;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The real worker loop ({@code ForwardingWorker.doWork}) on a full burst of 32 IPv4 packets, in ns
 * per packet: receive, classify, header checks, bulk lookup, adjacency and rewrite, TX, and the
 * loop's own bookkeeping (counters, quiescent state, the TX hold), as it forwards in production.
 * The ports are {@code net_ring}, whose RX and TX are a ring dequeue and enqueue (a few ns a burst,
 * also in {@link #harness}): what a vhost-user or NIC PMD adds on top is not measured here.
 *
 * <p>Each invocation puts the burst on the in-port's ring, runs one worker loop, takes the
 * forwarded burst off the out-port's ring and puts each packet's TTL and checksum back, so every
 * invocation forwards the same packets. {@link #harness} does the same without the worker (the
 * packets go round the in-port's ring): subtract it to get the worker's own cost.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class WorkerLoopBenchmark {
  private static final int BURST = 32;

  /**
   * Frame size with the FCS (the mbuf holds 4 bytes less). Destinations are one node's /24 (250
   * nodes) or a local pod's /32, half and half.
   */
  @Param({"64"})
  public int frameBytes;

  private final long[] frames = new long[BURST];
  private final int[] ttlWords = new int[BURST];
  private MbufArray burst;
  private PktMbufPool pool;
  private int inPort;
  private int outPort;
  private BurstQueue inRing;
  private BurstQueue inRingRx;
  private BurstQueue outRing;
  private ForwardingWorker worker;
  private DataplaneCounters counters;
  private Ipv4Fib fib4;
  private Ipv6Fib fib6;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    Eal.initOnce(EalArguments.forProgram("flatnet-jmh").logLevel("error").build());
    pool = PktMbufPool.create("jmh-worker-loop", 1023, 0, PktMbufPool.DEFAULT_DATA_ROOM, -1);
    inPort = Devices.probe("net_ring_jmh_in");
    outPort = Devices.probe("net_ring_jmh_out");
    PortSetup.start(inPort, PortSetup.Options.singleQueue(), pool);
    PortSetup.start(outPort, PortSetup.Options.singleQueue(), pool);
    long inMac = 0x02_00_00_00_ee_01L;
    long outMac = 0x02_00_00_00_dd_01L;
    PortTable ports =
        PortTable.empty()
            .with(inPort, PortTable.ROLE_POD, inMac, 1500, 0x0AF4_0701, 0, 0)
            .with(outPort, PortTable.ROLE_UPLINK, outMac, 1500, 0, 0, 0);
    QsbrDomain domain = new QsbrDomain();
    NextHopTable hops = new NextHopTable(1024, domain);
    fib4 = new Ipv4Fib(domain, hops, 1024);
    fib6 = new Ipv6Fib(domain, hops, 1024);
    Ipv4Fib.Batch batch = fib4.batch();
    int uplinkHop = hops.addForward(outPort, 0x02_00_00_00_00_01L, outMac);
    for (int node = 0; node < 250; node++) {
      batch.add(Ipv4Prefix.parse("10.244." + node + ".0/24"), uplinkHop);
    }
    for (int pod = 2; pod < 250; pod++) {
      batch.add(
          Ipv4Prefix.parse("10.244.7." + pod + "/32"),
          hops.addForward(outPort, 0x02_00_00_00_01_00L | pod, outMac));
    }
    batch.commit();
    hops.setPortMtu(inPort, 1500);
    hops.setPortMtu(outPort, 1500);
    File file = File.createTempFile("flatnet-jmh-worker", ".dat");
    file.delete();
    file.deleteOnExit();
    counters = DataplaneCounters.create(file);
    inRing = BurstQueue.tx(inPort, 0);
    inRingRx = BurstQueue.rx(inPort, 0);
    outRing = BurstQueue.rx(outPort, 0);
    worker =
        new ForwardingWorker(
            0,
            -1,
            List.of(BurstQueue.rx(inPort, 0)),
            List.of(BurstQueue.tx(inPort, 0), BurstQueue.tx(outPort, 0)),
            new ForwardingState(fib4, fib6, hops, ports),
            domain.register(),
            new WorkerCounters(
                counters, 0, new int[] {inPort, outPort}, new String[] {"in", "out"}),
            new ControlChannel(),
            1024);
    worker.onStart();
    burst = new MbufArray(Arena.global(), BURST);
    if (!pool.allocBulk(burst, BURST)) {
      throw new IllegalStateException("mempool empty");
    }
    Random random = new Random(42);
    for (int i = 0; i < BURST; i++) {
      int destination =
          random.nextBoolean()
              ? 0x0AF4_0700 | (2 + random.nextInt(248))
              : 0x0AF4_0000 | random.nextInt(250) << 8 | 1 + random.nextInt(254);
      byte[] frame = udp(inMac, destination, frameBytes - 4);
      long mbuf = burst.get(i);
      frames[i] = Mbuf.dataAddress(mbuf);
      NativeMemory.copy(frame, frames[i]);
      Ipv4Header.writeChecksum(frames[i] + 14, Ipv4Header.MIN_LENGTH);
      Mbuf.setLength(mbuf, frame.length);
      ttlWords[i] = NativeMemory.getIntBe(frames[i] + 22);
    }
    if (forwardOnce() != BURST) {
      throw new IllegalStateException("the worker did not forward the whole burst");
    }
  }

  /** An Ethernet + IPv4 + UDP frame of {@code length} bytes (no FCS), TTL 64, checksum 0. */
  private static byte[] udp(long destinationMac, int destination, int length) {
    ByteBuffer frame = ByteBuffer.allocate(Math.max(length, 60));
    frame.putShort((short) (destinationMac >>> 32)).putInt((int) destinationMac);
    frame.putShort((short) 0x0200).putInt(0x0000_0002).putShort((short) 0x0800);
    frame.put((byte) 0x45).put((byte) 0).putShort((short) (frame.capacity() - 14)).putInt(0);
    frame.put((byte) 64).put((byte) 17).putShort((short) 0).putInt(0x0AF4_0702);
    frame.putInt(destination);
    return frame.array();
  }

  private int forwardOnce() {
    inRing.burst(burst, BURST);
    worker.doWork();
    int got = outRing.burst(burst, BURST);
    for (int i = 0; i < BURST; i++) {
      NativeMemory.putIntBe(frames[i] + 22, ttlWords[i]);
    }
    return got;
  }

  /** One worker loop on a full burst, and the harness around it. */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public int loop() {
    return forwardOnce();
  }

  /** The harness alone: the burst round the in-port's ring and the TTLs put back. */
  @Benchmark
  @OperationsPerInvocation(BURST)
  public int harness() {
    inRing.burst(burst, BURST);
    int got = inRingRx.burst(burst, BURST);
    for (int i = 0; i < BURST; i++) {
      NativeMemory.putIntBe(frames[i] + 22, ttlWords[i]);
    }
    return got;
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    worker.onClose();
    EthDev.stop(inPort);
    EthDev.stop(outPort);
    Devices.remove(inPort);
    Devices.remove(outPort);
    counters.close();
    fib4.close();
    fib6.close();
    pool.free();
  }
}
