package io.flatnet.dataplane;

import io.flatnet.dataplane.capture.CaptureSpec;
import io.flatnet.dataplane.capture.Tap;
import io.flatnet.dataplane.neighbor.NeighborLearning;
import io.flatnet.dataplane.packet.AddressChecks;
import io.flatnet.dataplane.packet.Ethernet;
import io.flatnet.dataplane.policy.FlowTable;
import io.flatnet.dataplane.policy.PolicyCheck;
import io.flatnet.dataplane.policy.PolicyTable;
import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.Lcore;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.route.QsbrReader;
import java.lang.foreign.Arena;
import java.util.List;
import org.agrona.concurrent.Agent;

/**
 * A poll-mode forwarding worker in the shape of DPDK's l3fwd: receive a burst, forward each IPv4
 * packet in one pass (checks, lookup, rewrite, TX buffer), run the IPv6 node over its vector (one
 * bulk lookup), then flush the TX buffers. It runs on one registered, pinned lcore, allocates
 * nothing and takes no locks: routes and ports arrive as published state, and what it learns leaves
 * through a lock-free channel.
 */
public final class ForwardingWorker implements Agent {
  public static final int BURST = 32;

  /** {@code count >>> BURST_SHIFT} is 1 for a full burst and 0 for any shorter one. */
  private static final int BURST_SHIFT = Integer.numberOfTrailingZeros(BURST);

  public static final int ICMP_ERRORS_PER_SECOND = 1000;

  /** Loops a partial TX burst may wait for more packets while RX bursts come in full. */
  static final int HOLD_LOOPS = 4;

  private final int id;
  private final int cpu;

  /** Queues and forwarding state in one snapshot; written under {@link #publishing}. */
  private volatile WorkerConf conf;

  private final Object publishing = new Object(); // control side only: the worker never takes it
  private volatile long portsGenerationInUse = -1;
  private final MbufArray received;
  private final PacketIo io;
  private final Ipv4Node ipv4;
  private final Ipv6Node ipv6;
  private final ArpNode arp;
  private final NeighborWait neighbors;
  private final QsbrReader quiescence;
  private final WorkerCounters counters;
  private final MbufHandoff fromControl = new MbufHandoff(1024);
  private int heldLoops;
  private int classified; // how much of the received burst classify has taken
  private volatile PolicyTable policy = PolicyTable.EMPTY;
  private final PolicyCheck policyCheck;
  private volatile int threadId; // the kernel's id of the thread running this worker, once started
  private volatile CaptureSpec capture; // a running capture or live trace, or null
  private final Tap tap;

  /**
   * @param cpu the CPU to pin to, or -1 to stay unpinned (tests that call {@link #doWork()})
   * @param quiescence this worker's QSBR registration with the route tables' domain
   * @param nextHopCapacity the next-hop table's capacity, to size the neighbour wait queues
   */
  public ForwardingWorker(
      int id,
      int cpu,
      List<BurstQueue> rxQueues,
      List<BurstQueue> txQueues,
      ForwardingState state,
      QsbrReader quiescence,
      WorkerCounters counters,
      ControlChannel control,
      int nextHopCapacity) {
    this(
        id,
        cpu,
        rxQueues,
        txQueues,
        state,
        quiescence,
        counters,
        control,
        nextHopCapacity,
        FlowTable.DEFAULT_CAPACITY);
  }

  /**
   * As the other constructor, with the flow table's capacity (a power of two, at least {@link
   * FlowTable#WINDOW}).
   */
  public ForwardingWorker(
      int id,
      int cpu,
      List<BurstQueue> rxQueues,
      List<BurstQueue> txQueues,
      ForwardingState state,
      QsbrReader quiescence,
      WorkerCounters counters,
      ControlChannel control,
      int nextHopCapacity,
      int flowCapacity) {
    Arena arena = Arena.ofAuto();
    this.id = id;
    this.cpu = cpu;
    WorkerPorts ports = new WorkerPorts(0, rxQueues, txQueues, BURST);
    this.received = new MbufArray(arena, BURST);
    this.io = new PacketIo(arena, BURST, counters);
    this.io.use(ports);
    ControlChannel.Writer toControl = control.newWriter();
    IcmpRateLimiter icmpLimit = new IcmpRateLimiter(ICMP_ERRORS_PER_SECOND, 100);
    this.neighbors = new NeighborWait(nextHopCapacity, io, toControl);
    this.policyCheck = new PolicyCheck(flowCapacity, counters);
    this.ipv4 = new Ipv4Node(io, neighbors, icmpLimit, policyCheck);
    NeighborLearning learning = new NeighborLearning(toControl, counters);
    this.ipv6 = new Ipv6Node(BURST, io, neighbors, icmpLimit, learning, policyCheck);
    this.arp = new ArpNode(io, learning);
    this.quiescence = quiescence;
    this.counters = counters;
    this.conf = new WorkerConf(ports, state);
    this.tap = new Tap(id);
  }

  /**
   * Publishes a capture or live trace (null: none); the worker takes it at its next loop. Its file
   * must have a ring for this worker's id.
   */
  public void setCapture(CaptureSpec spec) {
    this.capture = spec;
  }

  /**
   * Publishes new queues (a port came or went) and the forwarding state that goes with them (the
   * port table that has the new port, or no longer has the removed one) with one store: the worker
   * takes both at its next loop.
   */
  void publish(ForwardingState state, WorkerPorts next) {
    synchronized (publishing) {
      conf = new WorkerConf(next, state);
    }
  }

  /** The generation of {@link WorkerPorts} this worker's last loop used. */
  long portsGenerationInUse() {
    return portsGenerationInUse;
  }

  /** Publishes new forwarding state; the worker picks it up at its next loop. */
  public void setState(ForwardingState state) {
    synchronized (publishing) {
      conf = new WorkerConf(conf.ports(), state);
    }
  }

  /**
   * Publishes a new policy table; the worker picks it up at its next loop (and re-checks older
   * flows on their next packet).
   */
  public void setPolicy(PolicyTable table) {
    this.policy = table;
  }

  /** This worker's flow table (the control path hands it to the other workers as a peer). */
  FlowTable flowTable() {
    return policyCheck.flows();
  }

  /**
   * Control path, before the worker starts: every worker's flow table (index {@code self} is this
   * one's), read on a miss for replies that arrive on this worker's queues.
   */
  void setFlowPeers(FlowTable[] all, int self) {
    policyCheck.peers(all, self);
  }

  @Override
  public void onStart() {
    Lcore.registerCurrentThread();
    if (cpu >= 0) {
      Lcore.pinCurrentThread(cpu);
    }
    threadId = CpuIsolation.currentThreadId();
  }

  /** The CPU this worker is pinned to, or -1. */
  int cpu() {
    return cpu;
  }

  /** The kernel id of the worker's thread, or 0 before it started. */
  int threadId() {
    return threadId;
  }

  @Override
  public int doWork() {
    long now = System.nanoTime();
    counters.loopStarted(now);
    policyCheck.begin(policy, now);
    WorkerConf snapshot = conf; // one load: queues and state of one publication
    ForwardingState current = snapshot.state();
    WorkerPorts queues = snapshot.ports();
    if (queues.generation != portsGenerationInUse) {
      io.flush(); // the old queues are still open until this worker reports the new generation
      counters.publishAll(); // a removed port's counters are freed once this generation shows
      io.use(queues);
      portsGenerationInUse = queues.generation;
    }
    CaptureSpec spec = capture;
    Tap t = spec == null ? null : tap.use(spec, now); // off: this branch and the null checks below
    io.tap = t;
    int work = 0;
    int fullBursts = 0;
    for (BurstQueue rx : queues.rx) {
      int count = rx.burst(received, BURST);
      if (count > 0) {
        counters.pendingRx += count;
        counters.pendingPortRx[rx.port()] += count;
        if (t != null) { // one branch per burst
          t.received(received, count, rx.port());
        }
        try {
          classify(current, count, rx.port());
          ipv6.run(current, rx.port());
        } catch (RuntimeException e) {
          recover(count);
        }
        work += count;
        // Arithmetic, not a branch: a branch compiled while every burst was full traps (and the
        // worker runs interpreted until C2 compiles it again) at the first partial one.
        fullBursts += count >>> BURST_SHIFT;
      }
    }
    work += neighbors.poll(current.nextHops());
    for (long mbuf; (mbuf = fromControl.poll()) != 0; work++) {
      io.send(Mbuf.port(mbuf), mbuf);
    }
    // Full bursts left as they filled. Under load (a full RX burst: the next loop comes at once)
    // a partial one waits up to HOLD_LOOPS loops to fill, as l3fwd's drain timer lets it: fewer,
    // fuller TX calls into the PMD. Otherwise it leaves now.
    if (work > 0 || heldLoops > 0) {
      if (fullBursts > 0 && ++heldLoops < HOLD_LOOPS) {
        io.flushFrees();
      } else {
        io.flush();
        heldLoops = 0;
      }
    }
    counters.publish(work > 0);
    policyCheck.publish(work > 0);
    // No lookup result is held past this point: route memory retired before now may be reused.
    quiescence.quiescent();
    return work;
  }

  /**
   * Takes the burst packet by packet: IPv4 is forwarded on the spot (one pass, as l3fwd), IPv6
   * joins its node's vector, ARP is answered on the spot. Frames that do not fit the port's MTU or
   * one mbuf, and (on a guarded port) unicast frames for another MAC, go no further.
   */
  private void classify(ForwardingState current, int count, int port) {
    PortTable ports = current.ports();
    ipv4.begin(current, port);
    int maxFrame = ports.mtu(port) + Ethernet.HEADER;
    long onlyMac =
        (ports.guards(port) & PortTable.GUARD_DESTINATION_MAC) != 0 ? ports.mac(port) : -1;
    for (classified = 0; classified < count; ) {
      long mbuf = received.get(classified++);
      Mbuf.setPort(mbuf, port); // not every PMD sets it (net_ring does not); replies need it
      long lengths = Mbuf.lengths(mbuf);
      int length = Mbuf.dataLengthOf(lengths);
      if (length < Ethernet.HEADER) {
        io.drop(mbuf, DropReason.NOT_IP);
        continue;
      }
      if (length > maxFrame || Mbuf.packetLengthOf(lengths) != length) { // too big, or chained
        io.drop(mbuf, DropReason.OVERSIZE);
        continue;
      }
      long frame = Mbuf.dataAddress(mbuf);
      if (onlyMac >= 0) {
        long destination = Ethernet.destination(frame);
        if (destination != onlyMac && !AddressChecks.isGroupMac(destination)) {
          io.drop(mbuf, DropReason.NOT_FOR_ROUTER);
          continue;
        }
      }
      switch (Ethernet.type(frame)) {
        case Ethernet.IPV4 -> ipv4.process(mbuf, frame, length);
        case Ethernet.IPV6 -> ipv6.enqueue(mbuf, current);
        case Ethernet.ARP -> arp.process(mbuf, current);
        default -> io.drop(mbuf, DropReason.NOT_IP);
      }
    }
  }

  /**
   * A node threw mid-burst (a bug, never a packet's fault alone): free every packet still held (the
   * rest of the burst and the IPv6 vector's unprocessed tail) under {@code worker-exception}, never
   * one that was already sent or freed, count it, and go on. The packet being handled when it threw
   * is not freed: its fate is unknown, and a leaked mbuf is safer than a double free.
   */
  private void recover(int count) {
    counters.event(WorkerEvent.WORKER_EXCEPTION);
    for (int i = classified; i < count; i++) {
      io.drop(received.get(i), DropReason.WORKER_EXCEPTION);
    }
    classified = count;
    ipv6.abandon();
  }

  /** Control path: queues a packet it built for this worker to send on the mbuf's port field. */
  public boolean handOff(long mbuf) {
    return fromControl.offer(mbuf);
  }

  public WorkerCounters counters() {
    return counters;
  }

  @Override
  public void onClose() {
    neighbors.clear();
    io.flush();
    counters.publishAll();
    policyCheck.publishCounters();
    quiescence.close();
    Lcore.unregisterCurrentThread();
  }

  @Override
  public String roleName() {
    return "flatnet-worker-" + id;
  }
}
