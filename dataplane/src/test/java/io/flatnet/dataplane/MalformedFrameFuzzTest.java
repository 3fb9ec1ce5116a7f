package io.flatnet.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.DpdkLayout;
import io.flatnet.dpdk.EthDev;
import io.flatnet.dpdk.Mbuf;
import io.flatnet.dpdk.MbufArray;
import io.flatnet.dpdk.NativeMemory;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Prefix;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.File;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed frames ({@link MalformedFrames}, every kind) mixed with good traffic, through real
 * ports into a running worker: vhost-user (virtio_user pods in this process, chained mbufs
 * included) and af_packet (a pod namespace writing raw frames). Good traffic must all arrive, every
 * packet must end in exactly one counted fate (sent, dropped by name, or consumed), no node may
 * throw, and the mbuf pool must end where it began.
 *
 * <p>CI runs {@value #DEFAULT_FRAMES} frames a port; the long run is {@code ./flatnet test
 * -Dtest=MalformedFrameFuzzTest -Dflatnet.fuzz.frames=1000000} (docs/security.md).
 */
class MalformedFrameFuzzTest {
  static final int DEFAULT_FRAMES = 100_000;
  private static final int POOL_SIZE = 8191;
  private static final int FRAMES = Integer.getInteger("flatnet.fuzz.frames", DEFAULT_FRAMES);

  @TempDir File dir;

  @Test
  void theCorpusHasAtLeastFiftyKinds() {
    List<MalformedFrames.Kind> kinds = MalformedFrames.corpus(1, 2);
    assertTrue(kinds.size() >= 50, kinds.size() + " kinds");
    assertEquals(
        kinds.size(), kinds.stream().map(MalformedFrames.Kind::name).distinct().count(), "names");
  }

  /**
   * Every received packet has exactly one fate, and the fates add up. An ICMP error reuses the mbuf
   * of a packet counted as dropped, so it is in tx as well.
   */
  private static void assertEveryPacketAccounted(WorkerCounters counters) {
    long rx = counters.rxPackets();
    long fates =
        counters.txPackets()
            + counters.totalDrops()
            + counters.events(WorkerEvent.CONSUMED)
            - counters.events(WorkerEvent.ICMP_ERROR_SENT);
    assertEquals(
        rx, fates, "rx = tx + drops + consumed - icmp errors (" + describe(counters) + ")");
    assertEquals(0, counters.events(WorkerEvent.WORKER_EXCEPTION), "no node threw");
  }

  private static String describe(WorkerCounters counters) {
    StringBuilder out = new StringBuilder();
    out.append("rx=").append(counters.rxPackets()).append(" tx=").append(counters.txPackets());
    for (DropReason reason : DropReason.values()) {
      if (counters.drops(reason) != 0) {
        out.append(' ').append(reason.label()).append('=').append(counters.drops(reason));
      }
    }
    out.append(" consumed=").append(counters.events(WorkerEvent.CONSUMED));
    out.append(" icmp-errors=").append(counters.events(WorkerEvent.ICMP_ERROR_SENT));
    return out.toString();
  }

  @Test
  void vhostUserPortsSurviveTheCorpusAndForwardEveryGoodPacket() throws Exception {
    DataplaneTestSupport.eal();
    try (Arena arena = Arena.ofShared()) {
      PktMbufPool pool =
          PktMbufPool.create(DataplaneTestSupport.unique("fuzz"), POOL_SIZE, 256, 2176, -1);
      String socketA = new File(dir, "a.sock").getAbsolutePath();
      String socketB = new File(dir, "b.sock").getAbsolutePath();
      int vhostA = DataplaneTestSupport.startPort(vhost(socketA), pool);
      int vhostB = DataplaneTestSupport.startPort(vhost(socketB), pool);
      int podA = DataplaneTestSupport.startPort(virtio(socketA), pool);
      int podB = DataplaneTestSupport.startPort(virtio(socketB), pool);
      List<Integer> ports = new ArrayList<>(List.of(podA, podB, vhostA, vhostB));
      TestRoutes routes = null;
      try (DataplaneCounters counters = DataplaneCounters.create(new File(dir, "c.dat"))) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!(EthDev.link(vhostA).up() && EthDev.link(vhostB).up())) {
          assertTrue(System.nanoTime() < deadline, "vhost-user links did not come up in 10 s");
          Thread.sleep(10);
        }
        long routerMac = EthDev.macAddress(vhostA);
        long podMac = EthDev.macAddress(podA);
        routes = guardedPod(vhostA, routerMac, vhostB, podMac);
        ForwardingWorker worker =
            new ForwardingWorker(
                0,
                -1,
                List.of(BurstQueue.rx(vhostA, 0)),
                List.of(BurstQueue.tx(vhostA, 0), BurstQueue.tx(vhostB, 0)),
                routes.state(),
                routes.domain.register(),
                new WorkerCounters(
                    counters, 0, new int[] {vhostA, vhostB}, new String[] {"a", "b"}),
                new ControlChannel(),
                64);
        MbufArray scratch = new MbufArray(arena, 32);
        BurstQueue podATx = BurstQueue.tx(podA, 0);
        BurstQueue podARx = BurstQueue.rx(podA, 0);
        BurstQueue podBRx = BurstQueue.rx(podB, 0);
        // Warm up so every ring holds its steady number of mbufs, then take the pool's level.
        for (int i = 0; i < 200; i++) {
          worker.doWork();
          drainCounting(podARx, scratch);
          drainCounting(podBRx, scratch);
        }
        List<MalformedFrames.Kind> kinds = MalformedFrames.corpus(routerMac, podMac);
        SplittableRandom random = new SplittableRandom(42);
        long goodSent = 0;
        long goodReceived = 0;
        int sent = 0;
        while (sent < FRAMES) {
          int burst = 16;
          assertTrue(pool.allocBulk(scratch, burst), "pool has mbufs");
          for (int i = 0; i < burst; i++, sent++) {
            byte[] frame =
                (i & 1) == 0
                    ? MalformedFrames.good(routerMac, podMac, sent)
                    : kinds.get(random.nextInt(kinds.size())).frame();
            write(scratch.get(i), frame);
          }
          if (sent % 1024 < burst) {
            chain(scratch.get(burst - 1), pool, arena); // a frame bigger than one mbuf
          }
          int accepted = podATx.burst(scratch, burst);
          PktMbufPool.freeBulk(scratch.addressOf(accepted), burst - accepted);
          goodSent += (accepted + 1) / 2; // the even slots are the good ones
          worker.doWork();
          goodReceived += drainCounting(podBRx, scratch);
          drainCounting(podARx, scratch);
        }
        long idleUntil = System.nanoTime() + 2_000_000_000L;
        while (goodReceived < goodSent && System.nanoTime() < idleUntil) {
          worker.doWork();
          goodReceived += drainCounting(podBRx, scratch);
          drainCounting(podARx, scratch);
        }
        for (int i = 0; i < 100; i++) {
          worker.doWork(); // idle loops: the counters are published, the pool settles
          drainCounting(podBRx, scratch);
          drainCounting(podARx, scratch);
        }
        assertEquals(goodSent, goodReceived, "every good packet arrived");
        WorkerCounters c = worker.counters();
        assertEveryPacketAccounted(c);
        assertTrue(c.drops(DropReason.OVERSIZE) > 0, "chained frames counted: " + describe(c));
        System.out.printf(
            "fuzz vhost-user: %d frames (%d kinds), %d good forwarded; %s%n",
            sent, kinds.size(), goodReceived, describe(c));
        removePorts(ports);
        // Every ring is gone, so every mbuf (the virtio side keeps sent ones until it cleans up)
        // is back: none leaked, none freed twice (that would show as more than the pool holds).
        assertEquals(POOL_SIZE, pool.available(), "no mbuf leaked or freed twice");
      } finally {
        removePorts(ports);
        if (routes != null) {
          routes.close();
        }
        pool.free();
      }
    }
  }

  @Test
  void afPacketPortSurvivesTheCorpusFromARealPod() throws Exception {
    DataplaneTestSupport.eal();
    String suffix = Long.toString(ProcessHandle.current().pid() % 100000);
    String pod = "fnF" + suffix;
    String veth = "ffz" + suffix;
    Shell.run("ip", "netns", "del", pod);
    Shell.run("ip", "link", "del", veth);
    Shell.must("ip", "netns", "add", pod);
    Router router = null;
    try {
      Shell.must("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", pod);
      Shell.must("sysctl", "-qw", "net.ipv6.conf." + veth + ".disable_ipv6=1");
      Shell.must("ip", "link", "set", veth, "up");
      Shell.mustIn(pod, "sysctl", "-qw", "net.ipv6.conf.eth0.disable_ipv6=1");
      Shell.mustIn(pod, "ip", "link", "set", "eth0", "up");
      router = Router.open(Router.Sizes.defaults(), dir);
      int port =
          router.addPort(
              new Router.PortSpec(
                  "pod",
                  DataplaneTestSupport.unique("net_af_packet")
                      + ",iface="
                      + veth
                      + ",qpairs=1,framecnt=4096",
                  PortTable.ROLE_POD,
                  1500,
                  TestRoutes.ROUTER_IP,
                  TestRoutes.ROUTER_IP6[0],
                  TestRoutes.ROUTER_IP6[1],
                  PortTable.GUARD_ALL));
      int sink =
          router.addPort(
              Router.PortSpec.pod("sink", DataplaneTestSupport.unique("net_null") + ",no-rx=1"));
      long routerMac = router.portTable().mac(port);
      long podMac =
          Long.parseLong(
              Shell.mustIn(pod, "cat", "/sys/class/net/eth0/address").trim().replace(":", ""), 16);
      router.routeDirect(Ipv4Prefix.parse("10.9.0.7/32"), port, podMac);
      router.routeDirect(Ipv6Prefix.parse("fd00:9::77/128"), port, podMac);
      router.routeDirect(Ipv4Prefix.parse("10.1.0.0/16"), sink, 0x02_00_00_00_cc_01L);
      router.routeDirect(Ipv6Prefix.parse("fd00:1::/64"), sink, 0x02_00_00_00_cc_01L);
      router.addLocalAddress(Ipv4Prefix.parse("10.9.0.1/32"));
      router.addLocalAddress(Ipv6Prefix.parse("fd00:9::1/128"));
      ForwardingWorker worker = router.startWorker(-1, new BackoffIdleStrategy(10, 10, 1, 1000));
      Thread.sleep(300);
      int poolBefore = router.mbufsAvailable();

      File corpus = new File(dir, "corpus.bin");
      writeCorpus(corpus, MalformedFrames.corpus(routerMac, podMac), routerMac, podMac);
      String sent =
          Shell.mustIn(
              pod,
              "python3",
              "-c",
              PYTHON_SENDER,
              corpus.getAbsolutePath(),
              Integer.toString(FRAMES));
      long[] counts = Arrays.stream(sent.trim().split(" ")).mapToLong(Long::parseLong).toArray();
      long frames = counts[0];
      long goodFrames = counts[1];
      WorkerCounters c = worker.counters();
      long deadline = System.nanoTime() + 10_000_000_000L;
      long seen = -1;
      while (c.rxPackets() != seen && System.nanoTime() < deadline) {
        seen = c.rxPackets();
        Thread.sleep(300); // until the kernel has delivered the tail and the count stands still
      }
      // The kernel's own af_packet ring drops some when this shared machine deschedules the worker;
      // what reached the router is what is checked, exactly.
      assertTrue(
          c.rxPackets() >= frames / 2,
          "the port took the frames: " + describe(c) + " of " + frames);
      assertEveryPacketAccounted(c);
      long goodOut = c.portTx(sink);
      long goodIn = c.rxPackets() * goodFrames / frames; // the kernel drops good and bad alike
      assertTrue(
          goodOut >= goodIn * 9 / 10,
          "good traffic kept flowing: " + goodOut + " of about " + goodIn + "; " + describe(c));
      assertEquals(poolBefore, router.mbufsAvailable(), "no mbuf leaked or freed twice");
      System.out.printf("fuzz af_packet: %d frames sent by the pod; %s%n", frames, describe(c));
    } finally {
      if (router != null) {
        router.close();
      }
      Shell.run("ip", "netns", "del", pod);
      Shell.run("ip", "link", "del", veth);
    }
  }

  /**
   * Reads length-prefixed frames and sends {@code total} of them, every other one a good frame (the
   * first in the file), the rest cycling through the corpus. The kernel refuses some (runts below
   * an Ethernet header): those are skipped and not counted. Prints "sent good".
   */
  private static final String PYTHON_SENDER =
      """
      import socket, struct, sys, time
      data = open(sys.argv[1], 'rb').read()
      frames, i = [], 0
      while i < len(data):
          (n,) = struct.unpack('>H', data[i:i+2]); frames.append(data[i+2:i+2+n]); i += 2 + n
      good, bad = frames[0], frames[1:]
      s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
      s.bind(('eth0', 0))
      s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
      sent = goods = 0
      for k in range(int(sys.argv[2])):
          f = good if k % 2 == 0 else bad[k // 2 % len(bad)]
          try:
              s.send(f); sent += 1; goods += (k % 2 == 0)
          except OSError:
              pass
          if k % 256 == 255:
              time.sleep(0.001)  # paced: the router's af_packet ring is not the subject here
      print(sent, goods)
      """;

  private static void writeCorpus(
      File file, List<MalformedFrames.Kind> kinds, long routerMac, long podMac) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      byte[] good = MalformedFrames.good(routerMac, podMac, 0);
      out.writeShort(good.length);
      out.write(good);
      for (MalformedFrames.Kind kind : kinds) {
        out.writeShort(kind.frame().length);
        out.write(kind.frame());
      }
    }
    Files.write(file.toPath(), bytes.toByteArray());
  }

  /** Routes the pod's addresses back to its port and MAC, and guards the port. */
  private static TestRoutes guardedPod(int in, long routerMac, int out, long podMac) {
    TestRoutes routes = new TestRoutes(in, routerMac, out, 31);
    int pod = routes.hops.addForward(in, podMac, routerMac);
    routes.fib4.add(Ipv4Prefix.parse("10.9.0.7/32"), pod);
    routes.fib6.add(Ipv6Prefix.parse("fd00:9::77/128"), pod);
    routes.ports =
        routes.ports.with(
            in,
            PortTable.ROLE_POD,
            routerMac,
            1500,
            TestRoutes.ROUTER_IP,
            TestRoutes.ROUTER_IP6[0],
            TestRoutes.ROUTER_IP6[1],
            PortTable.GUARD_ALL);
    return routes;
  }

  private static void removePorts(List<Integer> ports) {
    for (int port : ports) {
      DataplaneTestSupport.removePort(port);
    }
    ports.clear();
  }

  private static String vhost(String socket) {
    return DataplaneTestSupport.unique("net_vhost") + ",iface=" + socket + ",queues=1";
  }

  private static String virtio(String socket) {
    return DataplaneTestSupport.unique("net_virtio_user") + ",path=" + socket + ",queues=1";
  }

  private static void write(long mbuf, byte[] frame) {
    NativeMemory.copy(frame, Mbuf.dataAddress(mbuf));
    Mbuf.setLength(mbuf, frame.length);
  }

  /** Makes {@code head} the first of two segments: a 2,600-byte frame no single mbuf holds. */
  private static void chain(long head, PktMbufPool pool, Arena arena) {
    MbufArray one = new MbufArray(arena, 1);
    assertTrue(pool.allocBulk(one, 1));
    long tail = one.get(0);
    byte[] frame = MalformedFrames.good(0, 0, 0);
    write(head, Arrays.copyOf(frame, 1300));
    Mbuf.setLength(tail, 1300);
    NativeMemory.putLong(head + DpdkLayout.MBUF_NEXT, tail);
    NativeMemory.putU16(head + DpdkLayout.MBUF_NB_SEGS, 2);
    NativeMemory.putInt(head + DpdkLayout.MBUF_PKT_LEN, 2600);
  }

  private static long countGood(MbufArray mbufs, int count) {
    long good = 0;
    for (int i = 0; i < count; i++) {
      long mbuf = mbufs.get(i);
      byte[] head =
          NativeMemory.toArray(Mbuf.dataAddress(mbuf), Math.min(32, Mbuf.dataLength(mbuf)));
      good += MalformedFrames.isGood(head) && Mbuf.segmentCount(mbuf) == 1 ? 1 : 0;
    }
    return good;
  }

  /** Frees what {@code rx} holds; returns how many were good packets. */
  private static long drainCounting(BurstQueue rx, MbufArray scratch) {
    long good = 0;
    int n;
    while ((n = rx.burst(scratch, 32)) > 0) {
      good += countGood(scratch, n);
      PktMbufPool.freeBulk(scratch.address(), n);
    }
    return good;
  }
}
