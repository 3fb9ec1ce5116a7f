package io.flatnet.perf.gen;

import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.HdrHistogram.Histogram;

/**
 * The generator's loop: on each of its ports in turn, receive a burst (count it, read the probe
 * stamps, free it) and send a burst if the port's token bucket allows (bulk-allocate mbufs, copy
 * the flow templates in, stamp a probe, offer them to the TX queue, free what it did not take).
 *
 * <p>Nothing is allocated in the loop: the mbuf pointer arrays, the templates (off-heap), the
 * counters (long arrays) and the histogram are made once; {@link Histogram#recordValue} does not
 * allocate within its range. One thread, pinned, runs it.
 */
public final class Generator {
  public static final int BURST = 32;

  /** Latencies above this (10 s) are recorded as this. */
  public static final long HIGHEST_NANOS = 10_000_000_000L;

  /** The figures of one trial; the arrays are indexed by port. */
  public static final class Counters {
    public final long[] offered;
    public final long[] accepted;
    public final long[] returned;
    public long foreign;
    public long misrouted;

    /** Bytes (packet lengths, no FCS) of the returned packets: the mix that came back. */
    public long returnedBytes;

    public long probesSent;
    public long probesReceived;
    public long allocFailures;
    public long sendNanos;

    /** Packets the pacers lost to stalls of the loop (see {@link Pacer#lostPackets}). */
    public long pacerLost;

    /** The longest time between two loop iterations while sending, in nanoseconds. */
    public long longestLoopNanos;

    /**
     * Loop iterations by time, in the workers' buckets: [0] under 1 µs, then [1, 2), [2, 4) ... µs,
     * [15] 16384 µs or more.
     */
    public final long[] loopsTaking = new long[16];

    Counters(int ports) {
      offered = new long[ports];
      accepted = new long[ports];
      returned = new long[ports];
    }

    void reset() {
      java.util.Arrays.fill(offered, 0);
      java.util.Arrays.fill(accepted, 0);
      java.util.Arrays.fill(returned, 0);
      foreign =
          misrouted = returnedBytes = probesSent = probesReceived = allocFailures = sendNanos = 0;
      pacerLost = longestLoopNanos = 0;
      java.util.Arrays.fill(loopsTaking, 0);
    }
  }

  private final BurstQueue[] rx;
  private final BurstQueue[] tx;
  private final PktMbufPool pool;
  private final MbufArray rxBurst;
  private final MbufArray txBurst;
  private final long templates; // [port][size][flow] * COPY bytes
  private final byte[] expectedPort; // per flow: the port it must come back on, -1 = any
  private final int sizes; // distinct frame sizes
  private final int[] lengths; // per distinct size: packet length (no FCS)
  private final int[] copyLengths; // per distinct size: template bytes copied
  private final int[] slotSize; // per slot of the pattern: its distinct size's index
  private final int[] nextFlow;
  private final int[] nextSlot;
  private final Counters counters;
  private final Histogram latency = new Histogram(HIGHEST_NANOS, 3);
  private int sequence;

  /**
   * @param macs each port's own MAC (the templates' source); the destination is 02:00:00:00:00:0p
   * @param expectedPort per flow, the port a router must return it on (-1: not checked)
   */
  public Generator(
      Arena arena,
      BurstQueue[] rx,
      BurstQueue[] tx,
      PktMbufPool pool,
      long[] macs,
      int frameBytes,
      byte[] expectedPort) {
    this(arena, rx, tx, pool, macs, new int[] {frameBytes}, expectedPort);
  }

  /**
   * A generator of a frame-size pattern: packet {@code n} of each port is a frame of {@code
   * pattern[n % pattern.length]} bytes (with FCS), e.g. {@link PacketTemplates#IMIX_PATTERN}; the
   * flows cycle independently, so every flow sees every size.
   */
  public Generator(
      Arena arena,
      BurstQueue[] rx,
      BurstQueue[] tx,
      PktMbufPool pool,
      long[] macs,
      int[] pattern,
      byte[] expectedPort) {
    if (rx.length != tx.length || rx.length != macs.length) {
      throw new IllegalArgumentException("one rx, tx queue and MAC per port");
    }
    if (expectedPort.length != PacketTemplates.FLOWS) {
      throw new IllegalArgumentException("expectedPort needs one entry per flow");
    }
    this.rx = rx.clone();
    this.tx = tx.clone();
    this.pool = pool;
    this.rxBurst = new MbufArray(arena, BURST);
    this.txBurst = new MbufArray(arena, BURST);
    if (pattern.length == 0) {
      throw new IllegalArgumentException("no frame sizes");
    }
    int[] distinct = java.util.Arrays.stream(pattern).distinct().toArray();
    this.sizes = distinct.length;
    this.lengths = new int[sizes];
    this.copyLengths = new int[sizes];
    for (int s = 0; s < sizes; s++) {
      lengths[s] = PacketTemplates.packetLength(distinct[s]);
      copyLengths[s] = Math.min(PacketTemplates.COPY, lengths[s]);
    }
    this.slotSize = new int[pattern.length];
    for (int i = 0; i < pattern.length; i++) {
      for (int s = 0; s < sizes; s++) {
        if (distinct[s] == pattern[i]) {
          slotSize[i] = s;
        }
      }
    }
    this.expectedPort = expectedPort.clone();
    int ports = rx.length;
    MemorySegment t =
        arena.allocate((long) ports * sizes * PacketTemplates.FLOWS * PacketTemplates.COPY, 64);
    for (int p = 0; p < ports; p++) {
      for (int s = 0; s < sizes; s++) {
        for (int f = 0; f < PacketTemplates.FLOWS; f++) {
          byte[] bytes =
              PacketTemplates.template(f, distinct[s], macs[p], 0x02_00_00_00_00_00L | p);
          MemorySegment.copy(
              MemorySegment.ofArray(bytes),
              0,
              t,
              (((long) p * sizes + s) * PacketTemplates.FLOWS + f) * PacketTemplates.COPY,
              bytes.length);
        }
      }
    }
    this.templates = t.address();
    this.nextFlow = new int[ports];
    this.nextSlot = new int[ports];
    this.counters = new Counters(ports);
  }

  public Counters counters() {
    return counters;
  }

  public Histogram latency() {
    return latency;
  }

  /**
   * Runs one trial: sends at {@code totalPps} (split evenly over the ports; 0 = as fast as the
   * queues take them) for {@code millis}, a probe every {@code probeEvery} packets per port (0 =
   * none), then only receives for {@code drainMillis} so that every packet still in flight is
   * counted. The counters and the histogram are reset at the start.
   */
  public void run(long totalPps, long millis, long probeEvery, long drainMillis) {
    counters.reset();
    latency.reset();
    int ports = rx.length;
    long start = System.nanoTime();
    Pacer[] pacers = new Pacer[ports]; // per trial, before the loop
    long[] untilProbe = new long[ports];
    for (int p = 0; p < ports; p++) {
      pacers[p] = new Pacer(totalPps / ports, 4 * BURST, start);
      untilProbe[p] = probeEvery;
    }
    long end = start + millis * 1_000_000L;
    long now = start;
    while (now < end) {
      for (int p = 0; p < ports; p++) {
        receive(p);
        Pacer pacer = pacers[p];
        int n = pacer.allowance(now, BURST);
        if (n > 0) {
          boolean probe = false;
          if (probeEvery > 0) {
            untilProbe[p] -= n;
            if (untilProbe[p] <= 0) {
              untilProbe[p] += probeEvery;
              probe = true;
            }
          }
          if (send(p, n, probe)) {
            pacer.consume(n);
          }
        }
      }
      long previous = now;
      now = System.nanoTime();
      long loop = now - previous;
      counters.loopsTaking[Math.min(15, 64 - Long.numberOfLeadingZeros(loop / 1000))]++;
      if (loop > counters.longestLoopNanos) {
        counters.longestLoopNanos = loop;
      }
    }
    counters.sendNanos = now - start;
    for (Pacer pacer : pacers) {
      counters.pacerLost += pacer.lostPackets();
    }
    long drainEnd = System.nanoTime() + drainMillis * 1_000_000L;
    while (System.nanoTime() < drainEnd) {
      for (int p = 0; p < ports; p++) {
        receive(p);
      }
    }
  }

  private void receive(int port) {
    int n = rx[port].burst(rxBurst, BURST);
    if (n == 0) {
      return;
    }
    long now = System.nanoTime();
    long returned = 0;
    for (int i = 0; i < n; i++) {
      long m = rxBurst.get(i);
      int length = Mbuf.dataLength(m);
      if (length < PacketTemplates.PROBE_END) {
        counters.foreign++;
        continue;
      }
      long d = Mbuf.dataAddress(m);
      int flow = NativeMemory.getIntBe(d + PacketTemplates.IP_DST) - PacketTemplates.FIRST_DST;
      if (flow < 0 || flow >= PacketTemplates.FLOWS) {
        counters.foreign++;
        continue;
      }
      returned++;
      counters.returnedBytes += length;
      int expected = expectedPort[flow];
      if (expected >= 0 && expected != port) {
        counters.misrouted++;
      }
      if (NativeMemory.getIntBe(d + PacketTemplates.PROBE_MAGIC) == PacketTemplates.MAGIC) {
        long sent = NativeMemory.getLongBe(d + PacketTemplates.PROBE_TIME);
        long delta = now - sent;
        if (delta >= 0) {
          latency.recordValue(Math.min(delta, HIGHEST_NANOS));
          counters.probesReceived++;
        }
      }
    }
    counters.returned[port] += returned;
    PktMbufPool.freeBulk(rxBurst.address(), n);
  }

  /** Builds and offers {@code n} packets on {@code port}; false if the pool had too few mbufs. */
  private boolean send(int port, int n, boolean probe) {
    if (!pool.allocBulk(txBurst, n)) {
      counters.allocFailures++;
      return false;
    }
    long base = templates + (long) port * sizes * PacketTemplates.FLOWS * PacketTemplates.COPY;
    int flow = nextFlow[port];
    int slot = nextSlot[port];
    for (int i = 0; i < n; i++) {
      long m = txBurst.get(i);
      int s = slotSize[slot];
      Mbuf.setLength(m, lengths[s]);
      NativeMemory.move(
          base + ((long) s * PacketTemplates.FLOWS + flow) * PacketTemplates.COPY,
          Mbuf.dataAddress(m),
          copyLengths[s]);
      flow = (flow + 1) & (PacketTemplates.FLOWS - 1);
      if (++slot == slotSize.length) {
        slot = 0;
      }
    }
    nextFlow[port] = flow;
    nextSlot[port] = slot;
    if (probe) {
      long d = Mbuf.dataAddress(txBurst.get(0));
      NativeMemory.putIntBe(d + PacketTemplates.PROBE_MAGIC, PacketTemplates.MAGIC);
      NativeMemory.putIntBe(d + PacketTemplates.PROBE_SEQ, sequence++);
      NativeMemory.putLongBe(d + PacketTemplates.PROBE_TIME, System.nanoTime());
    }
    int sent = tx[port].burst(txBurst, n);
    counters.offered[port] += n;
    counters.accepted[port] += sent;
    if (probe && sent > 0) {
      counters.probesSent++;
    }
    if (sent < n) {
      PktMbufPool.freeBulk(txBurst.addressOf(sent), n - sent);
    }
    return true;
  }
}
