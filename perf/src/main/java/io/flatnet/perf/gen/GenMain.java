package io.flatnet.perf.gen;

import io.flatnet.dataplane.PortSetup;
import io.flatnet.dpdk.BurstQueue;
import io.flatnet.dpdk.Eal;
import io.flatnet.dpdk.EalArguments;
import io.flatnet.dpdk.EthDev;
import io.flatnet.dpdk.Lcore;
import io.flatnet.dpdk.PktMbufPool;
import io.flatnet.perf.e2e.RouteSet;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * flatnet's paced, timestamping packet generator, a process of its own: DPDK ports (virtio_user
 * clients of a DUT's vhost-user sockets), one pinned thread, trials on command.
 *
 * <p>It prints {@code {"gen_ready":...}} once every port's link is up, then reads commands from
 * stdin, one a line:
 *
 * <ul>
 *   <li>{@code trial NAME RATE_PPS MILLIS PROBES_PER_SECOND}: sends at RATE_PPS (both ports
 *       together; 0 = as fast as the queues take them) for MILLIS, with about PROBES_PER_SECOND
 *       latency probes a second (0 = none), drains, and prints one {@link GenTrial} JSON line;
 *   <li>{@code quit} (or end of input): stops the ports and exits.
 * </ul>
 */
@Command(
    name = "flatnet-gen",
    mixinStandardHelpOptions = true,
    description = "Paced UDP generator with latency probes; trials are read from stdin.")
public final class GenMain implements Callable<Integer> {

  @Option(
      names = "--vdev",
      required = true,
      description = "A DPDK device per port, e.g. virtio_user0,path=/tmp/p0.sock,queues=1.")
  List<String> vdevs = new ArrayList<>();

  @Option(names = "--cpu", defaultValue = "0", description = "CPU of the generator's thread.")
  int cpu;

  @Option(
      names = "--frame-size",
      defaultValue = "64",
      description =
          "Frame size with FCS, 64..1518, or imix: 64, 570 and 1518 B frames 7:4:1, interleaved"
              + " (PacketTemplates.IMIX_PATTERN).")
  String frameSize;

  @Option(
      names = "--route",
      description =
          "PREFIX=PORT, repeatable: the routes the DUT applies; returned packets are checked"
              + " against them (misrouted count). None: no check.")
  List<String> routes = new ArrayList<>();

  @Option(
      names = "--resolve-gateway",
      description =
          "PORT=OWN_IP,GATEWAY_IP, repeatable: before it is ready, ARP from OWN_IP for the"
              + " gateway (the DUT's address on that link) and send that port's packets to the"
              + " MAC it answers with, as a host does. Without it: 02:00:00:00:00:0<port>.")
  List<String> gateways = new ArrayList<>();

  @Option(names = "--mbufs", defaultValue = "16383", description = "mbuf pool size.")
  int mbufs;

  @Option(
      names = "--drain-millis",
      defaultValue = "200",
      description = "Receive-only time after each trial's sending, for packets in flight.")
  long drainMillis;

  @Option(
      names = "--link-wait-seconds",
      defaultValue = "20",
      description = "How long to wait for the links (the DUT's vhost-user side).")
  int linkWaitSeconds;

  public static void main(String[] args) {
    System.exit(new CommandLine(new GenMain()).execute(args));
  }

  /** The port each flow must come back on under {@code routes} (-1 where none matches). */
  static byte[] expectedPorts(RouteSet routes) {
    byte[] expected = new byte[PacketTemplates.FLOWS];
    for (int f = 0; f < expected.length; f++) {
      expected[f] = routes == null ? -1 : (byte) routes.lookup(PacketTemplates.FIRST_DST + f);
    }
    return expected;
  }

  @Override
  public Integer call() throws Exception {
    PrintStream out = System.out;
    int[] pattern = PacketTemplates.pattern(frameSize); // validates
    RouteSet routeSet = routes.isEmpty() ? null : RouteSet.parse(routes);
    EalArguments eal = EalArguments.forProgram("flatnet-gen").logLevel("warning");
    vdevs.forEach(eal::vdev);
    Eal.init(eal.build());
    Lcore.pinCurrentThread(cpu);
    int ports = vdevs.size();
    PktMbufPool pool =
        PktMbufPool.create("gen_pool", mbufs, 256, PktMbufPool.DEFAULT_DATA_ROOM, Eal.socketId());
    int[] portIds = new int[ports];
    long[] macs = new long[ports];
    for (int p = 0; p < ports; p++) {
      portIds[p] = EthDev.portIdOf(vdevs.get(p).split(",", 2)[0]);
      PortSetup.start(portIds[p], new PortSetup.Options(1, 1, 1024, 1024, false), pool);
      macs[p] = EthDev.macAddress(portIds[p]);
    }
    long deadline = System.nanoTime() + linkWaitSeconds * 1_000_000_000L;
    while (!Arrays.stream(portIds).allMatch(p -> EthDev.link(p).up())) {
      if (System.nanoTime() > deadline) {
        out.println("{\"gen_error\":\"links not up after " + linkWaitSeconds + " s\"}");
        return 1;
      }
      Thread.sleep(10);
    }
    BurstQueue[] rx = new BurstQueue[ports];
    BurstQueue[] tx = new BurstQueue[ports];
    for (int p = 0; p < ports; p++) {
      rx[p] = BurstQueue.rx(portIds[p], 0);
      tx[p] = BurstQueue.tx(portIds[p], 0);
    }
    try (Arena arena = Arena.ofShared()) {
      Generator gen = new Generator(arena, rx, tx, pool, macs, pattern, expectedPorts(routeSet));
      for (String g : gateways) {
        String[] w = g.split("[=,]");
        if (w.length != 3) {
          out.println("{\"gen_error\":\"--resolve-gateway " + g + ": expected PORT=OWN,GW\"}");
          return 2;
        }
        int port = Integer.parseInt(w[0].strip());
        long mac =
            gen.resolveGateway(
                port, RouteSet.parseDotted(w[1]), RouteSet.parseDotted(w[2]), 10_000);
        if (mac < 0) {
          out.println(
              "{\"gen_error\":\"no ARP answer from " + w[2] + " on port " + port + " in 10 s\"}");
          return 1;
        }
      }
      out.printf("{\"gen_ready\":true,\"ports\":%d,\"cpu\":%d}%n", ports, cpu);
      out.flush();
      BufferedReader in =
          new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      String line;
      while ((line = in.readLine()) != null) {
        String[] w = line.strip().split("\\s+");
        if (w[0].equals("quit")) {
          break;
        }
        if (!w[0].equals("trial") || w.length != 5) {
          out.println("{\"gen_error\":\"bad command: " + line.replace("\"", "'") + "\"}");
          continue;
        }
        long rate = Long.parseLong(w[2]);
        long millis = Long.parseLong(w[3]);
        long probesPerSecond = Long.parseLong(w[4]);
        long probeEvery = Pacer.probeInterval(rate / ports, probesPerSecond / ports, 5_000_000);
        gen.run(rate, millis, probeEvery, drainMillis);
        Generator.Counters c = gen.counters();
        GenTrial t =
            new GenTrial(
                w[1],
                rate,
                c.sendNanos / 1e9,
                c.offered.clone(),
                c.accepted.clone(),
                c.returned.clone(),
                c.foreign,
                c.misrouted,
                c.probesSent,
                c.probesReceived,
                c.allocFailures,
                gen.latency().getTotalCount() > 0 ? gen.latency().copy() : null);
        out.println(t.toJson());
        out.printf(
            "{\"gen_loop\":\"%s\",\"pacer_lost\":%d,\"longest_loop_ns\":%d,\"loops_taking\":%s,"
                + "\"returned_bytes\":%d}%n",
            w[1],
            c.pacerLost,
            c.longestLoopNanos,
            Arrays.toString(c.loopsTaking).replace(" ", ""),
            c.returnedBytes);
        out.flush();
      }
    } finally {
      for (int p : portIds) {
        try {
          EthDev.stop(p);
        } catch (RuntimeException e) {
          // exiting anyway
        }
      }
    }
    return 0;
  }
}
