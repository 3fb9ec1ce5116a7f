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
  private final MbufArray arpReply;
  private final long[] macs;
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
    this.arpReply = new MbufArray(arena, 1);
    this.macs = macs.clone();
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
      long d = Mbuf.dataAddress(m);
      if (NativeMemory.getU16Be(d + ETHER_TYPE) == ETHER_ARP && length >= ARP_END) {
        answerArp(port, d);
        continue;
      }
      if (length < PacketTemplates.PROBE_END) {
        counters.foreign++;
        continue;
      }
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

  private static final int ETHER_TYPE = 12;
  private static final int ETHER_ARP = 0x0806;
  private static final int ARP = 14; // the ARP message, after the Ethernet header
  private static final int ARP_END = ARP + 28;
  private static final int ARP_FRAME = 60; // the minimum frame, without FCS

  /**
   * Answers an ARP request on {@code port} with the port's own MAC, whatever address it asks for:
   * the generator is the only host on each link, so a router whose next hops are resolved by ARP (a
   * node run from its config, {@code flatnet run --config}) finds them here. Other ARP messages are
   * ignored. Rare (a router asks once per next hop, then refreshes), so one mbuf per answer.
   */
  private void answerArp(int port, long request) {
    long arp = request + ARP;
    if (NativeMemory.getU16Be(arp + 6) != 1 || !pool.allocBulk(arpReply, 1)) {
      return;
    }
    long asker = NativeMemory.getMac(arp + 8);
    int askerIp = NativeMemory.getIntBe(arp + 14);
    int asked = NativeMemory.getIntBe(arp + 24);
    long m = arpReply.get(0);
    Mbuf.setLength(m, ARP_FRAME);
    long d = Mbuf.dataAddress(m);
    NativeMemory.zero(d, ARP_FRAME);
    writeArp(d, asker, macs[port], 2, asked, asker, askerIp);
    if (tx[port].burst(arpReply, 1) == 0) {
      PktMbufPool.freeBulk(arpReply.address(), 1);
    }
  }

  /**
   * Resolves {@code port}'s gateway as a host does: ARP requests for {@code gatewayIp} from {@code
   * ownIp} every 100 ms until the answer comes (answering the gateway's own requests meanwhile);
   * then every packet the port sends is addressed to the gateway's MAC. Before any trial, on the
   * generator's thread. Returns the MAC, or -1 if no answer came in {@code timeoutMillis}.
   */
  public long resolveGateway(int port, int ownIp, int gatewayIp, long timeoutMillis) {
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
    long nextAsk = 0;
    while (System.nanoTime() < deadline) {
      long now = System.nanoTime();
      if (now >= nextAsk && pool.allocBulk(arpReply, 1)) {
        nextAsk = now + 100_000_000L;
        long m = arpReply.get(0);
        Mbuf.setLength(m, ARP_FRAME);
        long d = Mbuf.dataAddress(m);
        NativeMemory.zero(d, ARP_FRAME);
        writeArp(d, 0xFFFF_FFFF_FFFFL, macs[port], 1, ownIp, 0, gatewayIp);
        if (tx[port].burst(arpReply, 1) == 0) {
          PktMbufPool.freeBulk(arpReply.address(), 1);
        }
      }
      int n = rx[port].burst(rxBurst, BURST);
      long found = -1;
      for (int i = 0; i < n; i++) {
        long d = Mbuf.dataAddress(rxBurst.get(i));
        if (NativeMemory.getU16Be(d + ETHER_TYPE) != ETHER_ARP
            || Mbuf.dataLength(rxBurst.get(i)) < ARP_END) {
          continue;
        }
        long arp = d + ARP;
        int operation = NativeMemory.getU16Be(arp + 6);
        if (operation == 2 && NativeMemory.getIntBe(arp + 14) == gatewayIp) {
          found = NativeMemory.getMac(arp + 8);
        } else if (operation == 1) {
          answerArp(port, d);
        }
      }
      PktMbufPool.freeBulk(rxBurst.address(), n);
      if (found >= 0) {
        for (int s = 0; s < sizes; s++) {
          for (int f = 0; f < PacketTemplates.FLOWS; f++) {
            NativeMemory.putMac(
                templates
                    + (((long) port * sizes + s) * PacketTemplates.FLOWS + f)
                        * PacketTemplates.COPY,
                found);
          }
        }
        return found;
      }
    }
    return -1;
  }

  /** An Ethernet header and ARP message at {@code d}. */
  private static void writeArp(
      long d, long to, long from, int operation, int senderIp, long targetMac, int targetIp) {
    NativeMemory.putMac(d, to);
    NativeMemory.putMac(d + 6, from);
    NativeMemory.putU16Be(d + ETHER_TYPE, ETHER_ARP);
    long arp = d + ARP;
    NativeMemory.putU16Be(arp, 1); // Ethernet
    NativeMemory.putU16Be(arp + 2, 0x0800); // IPv4
    NativeMemory.putU16Be(arp + 4, 0x0604); // address lengths 6 and 4
    NativeMemory.putU16Be(arp + 6, operation);
    NativeMemory.putMac(arp + 8, from);
    NativeMemory.putIntBe(arp + 14, senderIp);
    NativeMemory.putMac(arp + 18, targetMac);
    NativeMemory.putIntBe(arp + 24, targetIp);
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
