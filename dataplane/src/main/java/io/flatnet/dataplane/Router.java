package io.flatnet.dataplane;

import io.flatnet.control.CaptureFile;
import io.flatnet.control.Limits;
import io.flatnet.control.PolicySpec;
import io.flatnet.dataplane.capture.CaptureSpec;
import io.flatnet.dataplane.neighbor.NeighborEntry;
import io.flatnet.dataplane.neighbor.NeighborResolver;
import io.flatnet.dataplane.neighbor.NeighborView;
import io.flatnet.dataplane.policy.FlowTable;
import io.flatnet.dataplane.policy.PolicyCounters;
import io.flatnet.dataplane.policy.PolicyTable;
import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.Devices;
import io.flatnet.dpdk.EthDev;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.Ipv4Fib;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Fib;
import io.flatnet.route.Ipv6Prefix;
import io.flatnet.route.NextHopTable;
import io.flatnet.route.QsbrDomain;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

/**
 * The control path's handle on one running router: its mbuf pool, ports, route tables, counters,
 * forwarding workers and the control thread that resolves neighbours. EAL must be initialised
 * first. Routes change while the workers run; the workers never wait for them.
 */
public final class Router implements AutoCloseable {
  /** Sizes of what {@link #open} creates. */
  public record Sizes(
      int workers, int mbufs, int mbufCache, int nextHops, int tbl8Groups, int ipv6Nodes) {
    public static Sizes defaults() {
      return new Sizes(1, 16383, 256, 4096, 4096, 1 << 16);
    }

    public Sizes withWorkers(int count) {
      return new Sizes(count, mbufs, mbufCache, nextHops, tbl8Groups, ipv6Nodes);
    }
  }

  /**
   * One port: a DPDK device, its role, MTU, the router's own addresses on it (0: none) and its
   * guards ({@link PortTable#GUARD_ALL} for a node's real ports; none for a bench's static ports,
   * whose generators neither know the router's MAC nor own a route back).
   */
  public record PortSpec(
      String name,
      String devargs,
      int role,
      int mtu,
      int ipv4,
      long ipv6Hi,
      long ipv6Lo,
      int guards) {
    public PortSpec(
        String name, String devargs, int role, int mtu, int ipv4, long ipv6Hi, long ipv6Lo) {
      this(name, devargs, role, mtu, ipv4, ipv6Hi, ipv6Lo, 0);
    }

    public static PortSpec pod(String name, String devargs) {
      return new PortSpec(name, devargs, PortTable.ROLE_POD, PortTable.DEFAULT_MTU, 0, 0, 0);
    }

    public PortSpec withIpv4(int address) {
      return new PortSpec(name, devargs, role, mtu, address, ipv6Hi, ipv6Lo, guards);
    }

    public PortSpec withIpv6(long hi, long lo) {
      return new PortSpec(name, devargs, role, mtu, ipv4, hi, lo, guards);
    }

    public PortSpec withMtu(int portMtu) {
      return new PortSpec(name, devargs, role, portMtu, ipv4, ipv6Hi, ipv6Lo, guards);
    }

    public PortSpec withGuards(int portGuards) {
      return new PortSpec(name, devargs, role, mtu, ipv4, ipv6Hi, ipv6Lo, portGuards);
    }
  }

  private static final AtomicInteger INSTANCES = new AtomicInteger();

  private final Sizes sizes;
  private final PktMbufPool pool;

  /** A started port: its id, name and RX queues, each assigned to one worker for good. */
  private record PortRecord(int id, String name, int[] rxWorker) {}

  private final List<PortRecord> ports = new ArrayList<>();
  private long portsGeneration;
  private final QsbrDomain routeReaders = new QsbrDomain();
  private final NextHopTable nextHops;
  private final Ipv4Fib fib4;
  private final Ipv6Fib fib6;
  private final DataplaneCounters counters;
  private final ControlChannel channel = new ControlChannel();
  private final NeighborResolver resolver;
  private final Map<Object, Integer> routeHandles = new HashMap<>();
  private volatile PortTable portTable = PortTable.empty();
  private final List<ForwardingWorker> workers = new ArrayList<>();
  private final List<AgentRunner> runners = new ArrayList<>();
  private final PolicyCounters policyCounters;
  private volatile PolicyTable policyTable = PolicyTable.EMPTY;
  private long policyGeneration;
  private int flowCapacity = FlowTable.DEFAULT_CAPACITY;
  private final CaptureFile.Mapped captureFile;
  private volatile CaptureSpec capture;
  private long captureSessions;

  private Router(Sizes sizes, File runDir, NeighborEntry.Timers neighborTimers) {
    this.sizes = sizes;
    HotPathStrings.startInBackground(); // about 0.14 s, while the tables and ports are set up
    // First: a second router on this run directory is refused before it takes any memory.
    this.counters = DataplaneCounters.create(new File(runDir, "counters.dat"));
    this.policyCounters = new PolicyCounters(counters);
    this.captureFile = CaptureFile.create(new File(runDir, CaptureFile.FILE), sizes.workers());
    this.pool =
        PktMbufPool.create(
            "flatnet-mbufs-" + INSTANCES.incrementAndGet(),
            sizes.mbufs(),
            sizes.mbufCache(),
            PktMbufPool.DEFAULT_DATA_ROOM,
            -1);
    this.nextHops = new NextHopTable(sizes.nextHops(), routeReaders);
    this.fib4 = new Ipv4Fib(routeReaders, nextHops, sizes.tbl8Groups());
    this.fib6 = new Ipv6Fib(routeReaders, nextHops, sizes.ipv6Nodes());
    this.resolver =
        new NeighborResolver(nextHops, () -> portTable, pool, this::handToWorker, neighborTimers);
  }

  /** Creates the pool, tables and counters file (under {@code runDir}). */
  public static Router open(Sizes sizes, File runDir) {
    return new Router(sizes, runDir, NeighborEntry.Timers.defaults());
  }

  /** As {@link #open(Sizes, File)}, with other neighbour timers (tests shorten them). */
  static Router open(Sizes sizes, File runDir, NeighborEntry.Timers neighborTimers) {
    return new Router(sizes, runDir, neighborTimers);
  }

  /** Adds a vhost-user pod port (server socket) with default settings, for demos and benches. */
  public int addPort(String devargs) {
    return addPort(PortSpec.pod(devargs.split(",", 2)[0], devargs));
  }

  /**
   * Probes the device, starts it and adds it to the port table. It gets one TX queue per worker,
   * and as many RX queues as workers (spread by RSS) if the device has them, else one. Call before
   * {@link #startWorkers}.
   *
   * @return the DPDK port id
   */
  public synchronized int addPort(PortSpec spec) {
    for (PortRecord existing : ports) {
      if (existing.name().equals(spec.name())) {
        throw new IllegalArgumentException("a port named " + spec.name() + " exists already");
      }
    }
    String mtuProblem = Limits.mtuProblem(spec.mtu());
    if (mtuProblem != null) { // before the device exists, so nothing is left behind
      throw new IllegalArgumentException("port " + spec.name() + ": " + mtuProblem);
    }
    int port = Devices.probe(spec.devargs());
    int rxQueues;
    try {
      EthDev.DeviceInfo info = EthDev.info(port);
      if (info.maxTxQueues() < sizes.workers()) {
        throw new IllegalArgumentException(
            "port "
                + spec.name()
                + " ("
                + info.driverName()
                + ") has "
                + info.maxTxQueues()
                + " TX queues but "
                + sizes.workers()
                + " workers each need one"
                + (info.driverName().contains("vhost")
                    ? "; add queues=" + sizes.workers() + " to its devargs"
                    : ""));
      }
      rxQueues = Math.max(1, Math.min(sizes.workers(), info.maxRxQueues()));
      // A guarded port takes only frames for its own MAC, so it needs no promiscuous mode; a
      // bench's static ports do, for generators that send to a MAC of their own choosing.
      boolean promiscuous = (spec.guards() & PortTable.GUARD_DESTINATION_MAC) == 0;
      PortSetup.start(
          port,
          PortSetup.Options.queues(rxQueues, sizes.workers()).withPromiscuous(promiscuous),
          pool);
    } catch (RuntimeException e) {
      try {
        EthDev.stop(port);
      } catch (RuntimeException ignored) {
        // never started
      }
      Devices.remove(port);
      throw e;
    }
    portTable =
        portTable.with(
            port,
            spec.role(),
            EthDev.macAddress(port),
            spec.mtu(),
            spec.ipv4(),
            spec.ipv6Hi(),
            spec.ipv6Lo(),
            spec.guards());
    // The adjacencies on the port copy its MTU; set before any route through the port exists.
    nextHops.setPortMtu(port, spec.mtu());
    ports.add(new PortRecord(port, spec.name(), assignQueues(rxQueues)));
    if (!workers.isEmpty()) {
      for (ForwardingWorker worker : workers) {
        worker.counters().registerPort(counters, port, spec.name());
      }
      publishPorts();
    }
    return port;
  }

  /** Gives each new RX queue to the worker with the fewest; existing queues never move. */
  private int[] assignQueues(int rxQueues) {
    int[] load = new int[sizes.workers()];
    for (PortRecord record : ports) {
      for (int worker : record.rxWorker()) {
        load[worker]++;
      }
    }
    int[] assignment = new int[rxQueues];
    for (int q = 0; q < rxQueues; q++) {
      int best = 0;
      for (int w = 1; w < load.length; w++) {
        if (load[w] < load[best]) {
          best = w;
        }
      }
      assignment[q] = best;
      load[best]++;
    }
    return assignment;
  }

  /**
   * Removes a port while the workers forward: they stop using its queues first (the call waits
   * until every worker has moved past it), then the device is stopped and removed. Other ports'
   * traffic is not touched. Routes through the port should be removed before.
   */
  public synchronized void removePort(int port) {
    PortRecord record =
        ports.stream()
            .filter(r -> r.id() == port)
            .findFirst()
            .orElseThrow(() -> new IllegalArgumentException("no port " + port));
    ports.remove(record);
    portTable = portTable.without(port);
    nextHops.setPortMtu(port, PortTable.DEFAULT_MTU); // the port table's MTU, copied
    if (!workers.isEmpty()) {
      long generation = publishPorts();
      awaitWorkers(generation);
      for (ForwardingWorker worker : workers) {
        worker.counters().unregisterPort(port);
      }
    }
    EthDev.stop(port);
    Devices.remove(port);
  }

  /** Publishes each worker's queues and the port table; returns the new generation. */
  private long publishPorts() {
    long generation = ++portsGeneration;
    ForwardingState state = new ForwardingState(fib4, fib6, nextHops, portTable);
    for (int w = 0; w < workers.size(); w++) {
      List<BurstQueue> rx = new ArrayList<>();
      List<BurstQueue> tx = new ArrayList<>();
      for (PortRecord record : ports) {
        for (int q = 0; q < record.rxWorker().length; q++) {
          if (record.rxWorker()[q] == w) {
            rx.add(BurstQueue.rx(record.id(), q));
          }
        }
        tx.add(BurstQueue.tx(record.id(), w));
      }
      ForwardingWorker worker = workers.get(w);
      worker.publish(state, new WorkerPorts(generation, rx, tx, ForwardingWorker.BURST));
    }
    return generation;
  }

  private void awaitWorkers(long generation) {
    long deadline = System.nanoTime() + 5_000_000_000L;
    for (ForwardingWorker worker : workers) {
      while (worker.portsGenerationInUse() < generation) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(
              "worker " + worker.roleName() + " did not move to port generation " + generation);
        }
        Thread.onSpinWait();
      }
    }
  }

  public synchronized List<Integer> ports() {
    return ports.stream().map(PortRecord::id).toList();
  }

  public synchronized List<String> portNames() {
    return ports.stream().map(PortRecord::name).toList();
  }

  public PortTable portTable() {
    return portTable;
  }

  public Ipv4Fib fib() {
    return fib4;
  }

  public Ipv6Fib fib6() {
    return fib6;
  }

  public NextHopTable nextHops() {
    return nextHops;
  }

  public DataplaneCounters counters() {
    return counters;
  }

  /**
   * Compiles the pods' policies into a new table (the next generation) and publishes it to every
   * worker at once; a worker takes it at its next loop, and re-checks older flows on their next
   * packet. Nothing changes if a spec is bad.
   *
   * @throws IllegalArgumentException naming the pod and field of a bad spec
   */
  public synchronized void setPolicies(Collection<PolicySpec> specs) {
    // Compiled once: a bad spec throws before anything is published. Pods whose spec did not
    // change share the published table's compiled form.
    PolicyTable previous = policyTable;
    PolicyTable next;
    try {
      next = PolicyTable.compile(policyGeneration + 1, specs, policyCounters, previous);
    } catch (IllegalArgumentException e) {
      policyCounters.retainOnly(List.of(previous)); // the new pods' counters, made before the throw
      throw e;
    }
    policyGeneration++;
    for (ForwardingWorker worker : workers) {
      worker.setPolicy(next);
    }
    policyTable = next;
    policyCounters.retire(previous, next);
  }

  /** The published policy table (for {@code ctl trace} and the {@code policies} query). */
  public PolicyTable policyTable() {
    return policyTable;
  }

  /** Flow table slots per worker (a power of two); call before {@link #startWorkers}. */
  public synchronized void flowCapacity(int capacity) {
    new FlowTable(capacity); // validates
    this.flowCapacity = capacity;
  }

  /** Live flows in each worker's table (a scan, racing the workers: an estimate). */
  public List<Integer> liveFlows() {
    long now = System.nanoTime();
    List<Integer> live = new ArrayList<>();
    for (ForwardingWorker worker : List.copyOf(workers)) {
      live.add(worker.flowTable().live(now));
    }
    return live;
  }

  /** The router answers echo for this address itself. */
  public synchronized void addLocalAddress(Ipv4Prefix hostPrefix) {
    install(hostPrefix, nextHops.addLocal(0));
  }

  public synchronized void addLocalAddress(Ipv6Prefix hostPrefix) {
    install(hostPrefix, nextHops.addLocal(0));
  }

  /** Routes {@code prefix} to neighbour {@code neighbor} on {@code port}, resolved by ARP. */
  public synchronized int routeVia(Ipv4Prefix prefix, int port, int neighbor) {
    int nextHop = nextHops.addNeighbourIpv4(port, neighbor, portTable.mac(port));
    resolver.track(nextHop, port, 4, 0, neighbor & 0xFFFF_FFFFL);
    return install(prefix, nextHop);
  }

  /** Routes {@code prefix} to neighbour {@code hi:lo} on {@code port}, resolved by NDP. */
  public synchronized int routeVia(Ipv6Prefix prefix, int port, long hi, long lo) {
    int nextHop = nextHops.addNeighbourIpv6(port, hi, lo, portTable.mac(port));
    resolver.track(nextHop, port, 6, hi, lo);
    return install(prefix, nextHop);
  }

  /**
   * Routes {@code prefix} over several neighbours (ECMP): path {@code i} is neighbour {@code
   * neighbors[i]} on {@code ports[i]} with weight {@code weights[i]}, resolved by ARP. If the
   * prefix is already an ECMP route, its group is changed in place (the FIB is not touched; flows
   * on the paths that stay keep their path, see {@link io.flatnet.route.GroupBuckets}); otherwise a
   * new group replaces whatever the prefix had (one FIB update).
   *
   * @return the group's next hop
   */
  public synchronized int routeMultipath(
      Ipv4Prefix prefix, int[] ports, int[] neighbors, int[] weights) {
    int[] members = new int[ports.length];
    int made = 0;
    try {
      for (; made < ports.length; made++) {
        members[made] =
            nextHops.addNeighbourIpv4(ports[made], neighbors[made], portTable.mac(ports[made]));
        resolver.track(members[made], ports[made], 4, 0, neighbors[made] & 0xFFFF_FFFFL);
      }
    } catch (RuntimeException e) {
      releaseAll(members, made);
      throw e;
    }
    return installGroup(prefix, members, weights);
  }

  /** As {@link #routeMultipath(Ipv4Prefix, int[], int[], int[])}, resolved by NDP. */
  public synchronized int routeMultipath(
      Ipv6Prefix prefix, int[] ports, long[] hi, long[] lo, int[] weights) {
    int[] members = new int[ports.length];
    int made = 0;
    try {
      for (; made < ports.length; made++) {
        members[made] =
            nextHops.addNeighbourIpv6(ports[made], hi[made], lo[made], portTable.mac(ports[made]));
        resolver.track(members[made], ports[made], 6, hi[made], lo[made]);
      }
    } catch (RuntimeException e) {
      releaseAll(members, made);
      throw e;
    }
    return installGroup(prefix, members, weights);
  }

  /** Takes the caller's references on {@code members}, on success or failure. */
  private int installGroup(Object prefix, int[] members, int[] weights) {
    Integer current = routeHandles.get(prefix);
    if (current != null && nextHops.kind(current) == NextHopTable.KIND_GROUP) {
      int[] before = nextHops.groupMembers(current);
      try {
        nextHops.updateGroup(current, members, weights);
      } catch (RuntimeException e) {
        releaseAll(members, members.length);
        throw e;
      }
      untrackGone(before);
      return current;
    }
    int group;
    try {
      group = nextHops.addGroup(members, weights);
    } catch (RuntimeException e) {
      releaseAll(members, members.length);
      throw e;
    }
    return install(prefix, group); // the group holds the members from here
  }

  private void releaseAll(int[] members, int count) {
    for (int i = 0; i < count; i++) {
      release(members[i]);
    }
  }

  private void untrackGone(int[] members) {
    for (int member : members) {
      if (!nextHops.isLive(member)) {
        resolver.untrack(member);
      }
    }
  }

  /** Routes {@code prefix} out of {@code port} to a known MAC (no resolution). */
  public synchronized int routeDirect(Ipv4Prefix prefix, int port, long mac) {
    return install(prefix, nextHops.addForward(port, mac, portTable.mac(port)));
  }

  public synchronized int routeDirect(Ipv6Prefix prefix, int port, long mac) {
    return install(prefix, nextHops.addForward(port, mac, portTable.mac(port)));
  }

  /**
   * Puts a route in its FIB. The router keeps the next-hop reference its caller got, as the route's
   * handle, until {@link #removeRoute} gives it back; a route replaced here gives its old one back.
   * If the FIB refuses it (a full table), the reference is given back and nothing changes.
   */
  private int install(Object prefix, int nextHop) {
    if (batchLog != null) { // a route batch: published at its end
      Integer previous = routeHandles.put(prefix, nextHop);
      batchLog.add(new Logged(prefix, previous, nextHop));
      if (prefix instanceof Ipv4Prefix v4) {
        batch4.add(v4, nextHop);
      } else {
        batch6.add((Ipv6Prefix) prefix, nextHop);
      }
      if (previous != null) {
        batchReleases.add(previous);
      }
      return nextHop;
    }
    try {
      if (prefix instanceof Ipv4Prefix v4) {
        fib4.add(v4, nextHop);
      } else {
        fib6.add((Ipv6Prefix) prefix, nextHop);
      }
    } catch (RuntimeException e) { // a full table: the FIB is unchanged, and so is the route
      release(nextHop);
      throw e;
    }
    Integer previous = routeHandles.put(prefix, nextHop);
    if (previous != null) {
      release(previous);
    }
    return nextHop;
  }

  /** One route change of an open batch: the prefix's handle before and after (null: none). */
  private record Logged(Object prefix, Integer previous, Integer installed) {}

  // An open route batch (routeBatch): its FIB changes, its log, the handles to give back after.
  private List<Logged> batchLog;
  private Ipv4Fib.Batch batch4;
  private Ipv6Fib.Batch batch6;
  private List<Integer> batchReleases;

  /**
   * Runs {@code changes} (this router's route calls: {@link #routeVia}, {@link #routeDirect},
   * {@link #removeRoute}, ..., on this thread) as one route batch: the FIBs get one commit each at
   * the end, so IPv6's published root changes once and waits for one grace period, not one per
   * route. The routes' old next hops are given back after the commit. If {@code changes} throws, or
   * a FIB refuses the batch (a full table), nothing of it is published and the router's routes are
   * as before; the exception is thrown on. Not for ECMP routes: a group changed in place changes at
   * once. A call inside an open batch joins it.
   */
  public synchronized void routeBatch(Runnable changes) {
    if (batchLog != null) {
      changes.run();
      return;
    }
    batchLog = new ArrayList<>();
    batchReleases = new ArrayList<>();
    batch4 = fib4.batch();
    batch6 = fib6.batch();
    List<Integer> releases = batchReleases;
    try {
      changes.run();
      commitBatch();
    } catch (RuntimeException | Error e) {
      revertBatch();
      throw e;
    } finally {
      batchLog = null;
      batchReleases = null;
      batch4 = null;
      batch6 = null;
    }
    for (int nextHop : releases) { // the FIBs no longer hold them
      release(nextHop);
    }
  }

  /** Commits IPv6 then IPv4; if IPv4 is refused, IPv6 goes back to what it was. */
  private void commitBatch() {
    batch6.commit();
    try {
      batch4.commit();
    } catch (RuntimeException e) {
      Ipv6Fib.Batch back = fib6.batch();
      for (Logged l : firstOfEachPrefix()) {
        if (l.prefix() instanceof Ipv6Prefix v6) {
          if (l.previous() == null) {
            back.delete(v6);
          } else {
            back.add(v6, l.previous());
          }
        }
      }
      back.commit(); // the state it held before: it fits
      throw e;
    }
  }

  /** Each prefix's first change of the batch (its handle before the batch). */
  private List<Logged> firstOfEachPrefix() {
    Set<Object> seen = new HashSet<>();
    List<Logged> first = new ArrayList<>();
    for (Logged l : batchLog) {
      if (seen.add(l.prefix())) {
        first.add(l);
      }
    }
    return first;
  }

  /** Puts the routes' handles back as they were, last change first; gives back the new ones. */
  private void revertBatch() {
    for (int i = batchLog.size() - 1; i >= 0; i--) {
      Logged l = batchLog.get(i);
      if (l.previous() == null) {
        routeHandles.remove(l.prefix());
      } else {
        routeHandles.put(l.prefix(), l.previous());
      }
      if (l.installed() != null) {
        release(l.installed());
      }
    }
  }

  /** Removes a route (or a local address); returns false if there was none. */
  public synchronized boolean removeRoute(Ipv4Prefix prefix) {
    return uninstall(prefix);
  }

  public synchronized boolean removeRoute(Ipv6Prefix prefix) {
    return uninstall(prefix);
  }

  private boolean uninstall(Object prefix) {
    Integer nextHop = routeHandles.remove(prefix);
    if (nextHop == null) {
      return false;
    }
    if (batchLog != null) {
      batchLog.add(new Logged(prefix, nextHop, null));
      if (prefix instanceof Ipv4Prefix v4) {
        batch4.delete(v4);
      } else {
        batch6.delete((Ipv6Prefix) prefix);
      }
      batchReleases.add(nextHop);
      return true;
    }
    if (prefix instanceof Ipv4Prefix v4) {
      fib4.delete(v4);
    } else {
      fib6.delete((Ipv6Prefix) prefix);
    }
    release(nextHop);
    return true;
  }

  private void release(int nextHop) {
    int[] members = nextHops.groupMembers(nextHop); // null unless an ECMP group
    nextHops.release(nextHop);
    if (!nextHops.isLive(nextHop)) {
      resolver.untrack(nextHop);
    }
    if (members != null) {
      untrackGone(members);
    }
  }

  /** The next hop each installed prefix points at (control-path view, for ctl and the agent). */
  public synchronized Map<Object, Integer> routes() {
    return Map.copyOf(routeHandles);
  }

  /** Starts one worker polling every port, pinned to {@code cpu}, and the control thread. */
  public ForwardingWorker startWorker(int cpu, IdleStrategy idle) {
    return startWorkers(new int[] {cpu}, idle).get(0);
  }

  /**
   * The control thread's longest park when idle: 10 ms, so it wakes about 100 times a second, not
   * the 900 it did at 1 ms (perf sched, bench e2e at 0.2 Mpps: 289 against 2,515 runs in 3 s). Each
   * wake-up preempts whatever runs on its CPU, a worker if it shares the worker's; on these VMs a
   * run of a parked thread costs 35 to 250 µs, sometimes several ms. A neighbour message from a
   * worker waits at most 10 ms (the channel holds 64 KB), and aging runs every retransmit time / 4
   * (250 ms by default).
   */
  public static final long CONTROL_MAX_PARK_NANOS = 10_000_000L;

  /**
   * Starts one worker per CPU. Each polls a share of the ports' RX queues (round robin) and owns TX
   * queue {@code id} on every port. With more than one worker, every port needs that many TX queues
   * (for vhost-user: {@code queues=N} in its devargs).
   */
  public synchronized List<ForwardingWorker> startWorkers(int[] cpus, IdleStrategy idle) {
    if (!runners.isEmpty()) {
      throw new IllegalStateException("workers already started");
    }
    if (cpus.length != sizes.workers()) {
      throw new IllegalArgumentException(
          "the router was opened for "
              + sizes.workers()
              + " workers, given "
              + cpus.length
              + " CPUs");
    }
    ForwardingState state = new ForwardingState(fib4, fib6, nextHops, portTable);
    for (int w = 0; w < cpus.length; w++) {
      WorkerCounters workerCounters = new WorkerCounters(counters, w, new int[0], new String[0]);
      for (PortRecord record : ports) {
        workerCounters.registerPort(counters, record.id(), record.name());
      }
      workers.add(
          new ForwardingWorker(
              w,
              cpus[w],
              List.of(),
              List.of(),
              state,
              routeReaders.register(),
              workerCounters,
              channel,
              sizes.nextHops(),
              flowCapacity));
    }
    FlowTable[] flowTables = new FlowTable[workers.size()];
    for (int w = 0; w < flowTables.length; w++) {
      flowTables[w] = workers.get(w).flowTable();
    }
    for (int w = 0; w < flowTables.length; w++) {
      workers.get(w).setFlowPeers(flowTables, w);
      workers.get(w).setPolicy(policyTable);
    }
    publishPorts();
    HotPathStrings.internAll();
    for (ForwardingWorker worker : workers) {
      AgentRunner runner = new AgentRunner(idle, Throwable::printStackTrace, null, worker);
      runners.add(runner);
      AgentRunner.startOnThread(runner);
    }
    AgentRunner control =
        new AgentRunner(
            new BackoffIdleStrategy(10, 10, 1_000, CONTROL_MAX_PARK_NANOS),
            Throwable::printStackTrace,
            null,
            new ControlAgent());
    runners.add(control);
    AgentRunner.startOnThread(control);
    return List.copyOf(workers);
  }

  /**
   * Gives the workers' CPUs to the workers alone: every other thread of this process is confined to
   * the other online CPUs (see {@link CpuIsolation}). Call after {@link #startWorkers}, with every
   * worker pinned; the process's own threads started later inherit the confinement.
   *
   * @return a line for the operator saying what was done, or why not
   */
  public synchronized String isolateWorkers() {
    Set<Integer> cpus = new TreeSet<>();
    Set<Integer> threads = new HashSet<>();
    long deadline = System.nanoTime() + 5_000_000_000L;
    for (ForwardingWorker worker : workers) {
      if (worker.cpu() < 0) {
        return "workers are not pinned: other threads are not confined";
      }
      while (worker.threadId() == 0 && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      if (worker.threadId() == 0) {
        return "a worker did not start in 5 s: other threads are not confined";
      }
      cpus.add(worker.cpu());
      threads.add(worker.threadId());
    }
    try {
      BitSet others = CpuIsolation.housekeeping(cpus);
      if (others.isEmpty()) {
        return "no CPU is left besides the workers' " + cpus + ": other threads share them";
      }
      int moved = CpuIsolation.confineAllBut(threads, others);
      return moved + " other threads confined to CPUs " + others + ", workers alone on " + cpus;
    } catch (IOException | RuntimeException e) {
      return "cannot confine the other threads: " + e.getMessage();
    }
  }

  private boolean handToWorker(long mbuf) {
    return !workers.isEmpty() && workers.get(0).handOff(mbuf);
  }

  /** The control thread: drains what workers report and ages neighbours. */
  private final class ControlAgent implements Agent {
    private long nextAging = System.nanoTime();
    private long nextCaptureCheck = nextAging;

    @Override
    public int doWork() {
      int work = channel.drain(resolver, 64);
      long now = System.nanoTime();
      if (now - nextAging > 0) {
        resolver.age(now);
        nextAging = now + resolver.agingIntervalNanos();
      }
      if (now - nextCaptureCheck > 0) {
        checkCapture(System.currentTimeMillis());
        nextCaptureCheck = now + 100_000_000L;
      }
      return work;
    }

    @Override
    public String roleName() {
      return "flatnet-control";
    }
  }

  /** The capture file ({@code capture.dat}): one ring per worker. */
  public CaptureFile.Mapped captureFile() {
    return captureFile;
  }

  /** A new capture session's id. */
  public synchronized long nextCaptureSession() {
    return ++captureSessions;
  }

  /**
   * Publishes a capture or live trace to every worker. One runs at a time: another is refused
   * unless its consumer's lease has lapsed (then it is ended first).
   *
   * @throws IllegalStateException if a capture runs and its consumer is alive
   */
  public synchronized void startCapture(CaptureSpec spec) {
    CaptureSpec running = capture;
    if (running != null) {
      if (!leaseLapsed(System.currentTimeMillis())) {
        throw new IllegalStateException(
            "a capture runs already (session "
                + running.session
                + "); stop it first (Ctrl-C its ctl) or wait "
                + CaptureFile.LEASE_MILLIS / 1000
                + " s after its ctl is gone");
      }
      stopCapture(running.session);
    }
    var header = captureFile.header();
    header.putLongVolatile(
        CaptureFile.CLOCK_OFFSET,
        java.time.Instant.now().toEpochMilli() * 1_000_000L - System.nanoTime());
    header.putLongVolatile(CaptureFile.LEASE_OFFSET, System.currentTimeMillis());
    header.putLongVolatile(CaptureFile.SESSION_OFFSET, spec.session);
    capture = spec;
    for (ForwardingWorker worker : workers) {
      worker.setCapture(spec);
    }
  }

  /** Ends capture {@code session} if it runs; returns the spec it ended, or null. */
  public synchronized CaptureSpec stopCapture(long session) {
    CaptureSpec running = capture;
    if (running == null || running.session != session) {
      return null;
    }
    for (ForwardingWorker worker : workers) {
      worker.setCapture(null);
    }
    capture = null;
    captureFile.header().putLongVolatile(CaptureFile.SESSION_OFFSET, 0);
    captureFile.header().putLongVolatile(CaptureFile.ENDED_OFFSET, session);
    return running;
  }

  /** The running capture, or null. */
  public CaptureSpec capture() {
    return capture;
  }

  private boolean leaseLapsed(long nowMillis) {
    return nowMillis - captureFile.lease() > CaptureFile.LEASE_MILLIS;
  }

  /**
   * Control thread: ends the running capture once its count is taken or its consumer stopped
   * renewing the lease (a ctl that was killed), so none runs forever.
   */
  void checkCapture(long nowMillis) {
    CaptureSpec running = capture;
    if (running != null && (running.done() || leaseLapsed(nowMillis))) {
      stopCapture(running.session);
    }
  }

  /** Free mbufs in the router's pool (tests: a run that leaks nothing ends where it began). */
  int mbufsAvailable() {
    return pool.available();
  }

  /** The neighbours that routes go through, with their reachability state (a snapshot). */
  public List<NeighborView> neighbors() {
    return resolver.view(System.nanoTime());
  }

  /** True when every port reports link up (a vhost-user port: its peer connected). */
  public synchronized boolean allLinksUp() {
    for (int port : ports()) {
      if (!EthDev.link(port).up()) {
        return false;
      }
    }
    return true;
  }

  /** Stops the workers and control thread, then the ports, then releases tables and counters. */
  @Override
  public void close() {
    for (AgentRunner runner : runners) {
      runner.close();
    }
    for (int port : ports()) {
      try {
        EthDev.stop(port);
        Devices.remove(port);
      } catch (RuntimeException e) {
        System.err.println("flatnet: removing port " + port + ": " + e.getMessage());
      }
    }
    fib4.close();
    fib6.close();
    captureFile.close();
    counters.close();
    pool.free();
  }
}
