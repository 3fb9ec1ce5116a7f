package io.flatnet.perf.e2e;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command lines of the generator and of each DUT. Every DPDK process runs with {@code
 * --in-memory} (no hugepage files or runtime directory left behind) and {@code --no-pci}; the
 * generator's virtio_user ports need {@code --single-file-segments} ("Too many memory regions"
 * otherwise).
 *
 * @param testpmd the dpdk-testpmd binary
 * @param l3fwd the built l3fwd binary (null if l3fwd is not run)
 * @param java the java binary for flatnet
 * @param flatnetClasspath flatnet dataplane's classpath
 * @param genClasspath the classpath of flatnet's own generator (io.flatnet.perf.gen.GenMain)
 * @param dutCpu the CPU of the DUT's polling thread
 * @param genCpu the CPU of the generator's forwarding lcore
 * @param flatnetSteadyAfterSeconds when flatnet starts counting its workers' GCs and allocations
 *     (after the warm-up, when the JIT has compiled the loop); 0 from the start
 * @param generatorCommand an external generator's command line with placeholders (see {@link
 *     #externalGenerator}), or null for testpmd flowgen
 * @param pktgen Pktgen-DPDK for the offered-load trials ({@code --generator pktgen}), or null
 * @param policy the synthetic policies of the {@code flatnet-policy} family of systems
 */
public record Commands(
    String testpmd,
    Path l3fwd,
    String java,
    String flatnetClasspath,
    String genClasspath,
    int dutCpu,
    int genCpu,
    int flatnetSteadyAfterSeconds,
    String generatorCommand,
    Pktgen pktgen,
    PolicyBench policy) {

  /** Without policy options (the defaults of {@link PolicyBench#DEFAULT}). */
  public Commands(
      String testpmd,
      Path l3fwd,
      String java,
      String flatnetClasspath,
      String genClasspath,
      int dutCpu,
      int genCpu,
      int flatnetSteadyAfterSeconds,
      String generatorCommand,
      Pktgen pktgen) {
    this(
        testpmd,
        l3fwd,
        java,
        flatnetClasspath,
        genClasspath,
        dutCpu,
        genCpu,
        flatnetSteadyAfterSeconds,
        generatorCommand,
        pktgen,
        PolicyBench.DEFAULT);
  }

  /**
   * The synthetic policies of {@code flatnet-policy}, {@code -churn}, {@code -newflow} and {@code
   * -cut} ({@code flatnet run --policy-pods ...}): {@code pods} ingress-isolated pods from
   * 10.253.0.0 (the generators' destinations), one policy each, of {@code rules} rules; {@code
   * churnMillis} the republishing period of {@code flatnet-churn}; {@code cutAfterSeconds} when
   * {@code flatnet-cut} denies every flow (seconds after the links are up; 0: after the steady mark
   * plus 2 s); {@code routeChurnPerSecond} the route updates a second of {@code
   * flatnet-routechurn}.
   */
  public record PolicyBench(
      int pods, int rules, int churnMillis, int cutAfterSeconds, int routeChurnPerSecond) {
    public static final PolicyBench DEFAULT = new PolicyBench(1024, 10, 1000, 0, 10_000);

    public PolicyBench(int pods, int rules, int churnMillis, int cutAfterSeconds) {
      this(pods, rules, churnMillis, cutAfterSeconds, DEFAULT_ROUTE_CHURN);
    }
  }

  /** {@code --route-churn-per-second}'s default: the issue's 10,000 route updates a second. */
  public static final int DEFAULT_ROUTE_CHURN = 10_000;

  /**
   * Pktgen-DPDK as the offered-load generator.
   *
   * @param binary the pktgen binary
   * @param ratePercent what each port sends, in % of its link speed (pktgen's {@code set all rate};
   *     virtio_user reports 10 Gb/s, so 100 is 14.88 Mpps a port at 64 B): 100 sends as fast as
   *     pktgen can
   */
  public record Pktgen(String binary, double ratePercent) {
    public Pktgen {
      if (!(ratePercent > 0 && ratePercent <= 100)) {
        throw new IllegalArgumentException("pktgen rate " + ratePercent + " % is outside (0, 100]");
      }
    }
  }

  /**
   * The JVM flags of flatnet's generator: a small heap, touched up front, no GC in trials, no
   * traps.
   */
  public static final List<String> GEN_JVM_FLAGS =
      List.of(
          "--enable-native-access=ALL-UNNAMED",
          "-XX:+UseParallelGC",
          "-Xms256m",
          "-Xmx256m",
          "-XX:+AlwaysPreTouch",
          // As the DUT's: no deoptimization when the warm-up's flood turns into the paced trial.
          "-XX:PerMethodTrapLimit=0");

  /**
   * Descriptors in each virtio ring of flatnet's generator (virtio_user's default is 256): a ring
   * is all a DUT has to ride out a stall of its CPU, and 1024 at 0.4 Mpps is 2.5 ms, as a NIC's RX
   * ring of 1024 to 4096 gives a router on real hardware. Every DUT gets the same rings.
   */
  public static final int SEARCH_RING_SIZE = 1024;

  /** The placeholders {@link #externalGenerator} replaces. */
  public static final List<String> PLACEHOLDERS =
      List.of(
          "{sock0}",
          "{sock1}",
          "{run_dir}",
          "{frame_size}",
          "{pkt_len}",
          "{gen_cpu}",
          "{dut_cpu}",
          "{seconds}");

  /** The JVM flags of the launcher (./flatnet), so flatnet runs as users run it. */
  public static final List<String> FLATNET_JVM_FLAGS =
      List.of(
          "--enable-native-access=ALL-UNNAMED",
          "--add-exports",
          "java.base/jdk.internal.misc=ALL-UNNAMED",
          "-XX:+UseParallelGC",
          "-Xms1g",
          "-Xmx1g",
          "-XX:+AlwaysPreTouch",
          "-XX:+UseTransparentHugePages",
          "-Xss4m",
          "-XX:PerMethodTrapLimit=0",
          "-Djava.lang.invoke.MethodHandle.CUSTOMIZE_THRESHOLD=-1");

  /**
   * Packet length for an Ethernet frame size: DPDK's pkt_len excludes the 4-byte FCS.
   *
   * @throws IllegalArgumentException for the IMIX, which has no one length
   */
  public static int packetLength(int frameBytes) {
    if (FrameSize.imix(frameBytes)) {
      throw new IllegalArgumentException("the IMIX has no one packet length");
    }
    return frameBytes - 4;
  }

  private static List<String> vhostPorts(String option, Path sock0, Path sock1) {
    return List.of(
        option,
        "net_vhost0,iface=" + sock0 + ",queues=1",
        option,
        "net_vhost1,iface=" + sock1 + ",queues=1");
  }

  /** A generator's EAL arguments: its two lcores, virtio_user on the DUT's two sockets. */
  private List<String> generatorEal(Path sock0, Path sock1) {
    return List.of(
        "--in-memory",
        "--no-pci",
        "--single-file-segments",
        "--lcores=0@" + dutCpu + ",1@" + genCpu,
        "--vdev",
        "virtio_user0,path=" + sock0 + ",queues=1",
        "--vdev",
        "virtio_user1,path=" + sock1 + ",queues=1");
  }

  /**
   * testpmd flowgen on two virtio_user ports (clients of the DUT's vhost-user sockets): its
   * forwarding lcore on {@code genCpu}, its main lcore (which only prints the statistics each
   * second) on {@code dutCpu}.
   */
  public List<String> generator(Path sock0, Path sock1, int frameBytes) {
    if (FrameSize.imix(frameBytes)) {
      throw new IllegalArgumentException(
          "testpmd flowgen sends one frame size (--txpkts); the IMIX is flatnet's generator's");
    }
    List<String> c = new ArrayList<>();
    c.add(testpmd);
    c.addAll(generatorEal(sock0, sock1));
    c.addAll(
        List.of(
            "--",
            "--forward-mode=flowgen",
            "--nb-cores=1",
            "--stats-period",
            "1",
            "--txpkts=" + packetLength(frameBytes)));
    return c;
  }

  /**
   * flatnet's own generator ({@link io.flatnet.perf.gen.GenMain}) on two virtio_user ports, its
   * thread pinned to {@code genCpu}; it checks returned packets against {@code routes} (null: no
   * check, for testpmd io which cross-connects).
   */
  public List<String> javaGenerator(Path sock0, Path sock1, int frameBytes, RouteSet routes) {
    List<String> c = new ArrayList<>();
    c.add(java);
    c.addAll(GEN_JVM_FLAGS);
    c.addAll(List.of("-cp", genClasspath, "io.flatnet.perf.gen.GenMain"));
    c.addAll(
        List.of(
            "--vdev",
            "virtio_user0,path=" + sock0 + ",queues=1,queue_size=" + SEARCH_RING_SIZE,
            "--vdev",
            "virtio_user1,path=" + sock1 + ",queues=1,queue_size=" + SEARCH_RING_SIZE,
            "--cpu",
            Integer.toString(genCpu),
            "--frame-size",
            FrameSize.label(frameBytes)));
    if (routes != null) {
      for (RouteSet.Route r : routes.routes()) {
        c.add("--route");
        c.add(r.prefix() + "=" + r.port());
      }
    }
    return c;
  }

  /**
   * The external generator ({@code --generator-command}), run by {@code /bin/sh -c}, with its
   * placeholders replaced: {@code {sock0}}, {@code {sock1}} the DUT's vhost-user sockets, {@code
   * {run_dir}} the trial's scratch directory, {@code {frame_size}} (with FCS), {@code {pkt_len}}
   * (without), {@code {gen_cpu}}, {@code {dut_cpu}}, {@code {seconds}} (warm-up plus measured
   * seconds; the bench stops it after that anyway).
   */
  public List<String> externalGenerator(
      Path sock0, Path sock1, Path runDir, int frameBytes, int seconds) {
    return List.of(
        "/bin/sh", "-c", expand(generatorCommand, sock0, sock1, runDir, frameBytes, seconds));
  }

  /**
   * Pktgen-DPDK on two virtio_user ports (clients of the DUT's vhost-user sockets), running {@code
   * lua}, inside {@code script(1)}: pktgen exits at once ("scrn_constructor: tcgetattr failed")
   * without a terminal on stdin, and script gives it a pseudo-terminal. Its forwarding lcore 1,
   * which sends and receives on both ports, is on {@code genCpu}; its main lcore 0 (the Lua script,
   * the CLI and, on the same CPU, its statistics timer thread) on {@code dutCpu}, as testpmd
   * flowgen's is. That timer thread spins unless pktgen was built with perf/pktgen/build-pktgen.sh
   * (fix 3), and then takes half of the DUT's CPU.
   */
  public List<String> pktgenGenerator(Path sock0, Path sock1, Path lua) {
    List<String> c = new ArrayList<>();
    c.add(pktgen.binary());
    c.addAll(generatorEal(sock0, sock1));
    c.addAll(List.of("--", "-P", "-m", "1.[0-1]", "-f", lua.toString()));
    // -q no "Script started" lines, -f flush each write, -e pktgen's exit code, -c the command;
    // the typescript goes nowhere (the bench keeps script's output as the trial's log).
    return List.of("script", "-qfec", shellJoin(c), "/dev/null");
  }

  /** The words quoted for /bin/sh: each in single quotes unless it is plainly safe. */
  static String shellJoin(List<String> words) {
    StringBuilder sb = new StringBuilder();
    for (String w : words) {
      if (!sb.isEmpty()) {
        sb.append(' ');
      }
      if (!w.isEmpty() && w.matches("[A-Za-z0-9_@%+=:,./-]+")) {
        sb.append(w);
      } else {
        sb.append('\'').append(w.replace("'", "'\\''")).append('\'');
      }
    }
    return sb.toString();
  }

  /** {@code template} with the placeholders replaced (see {@link #externalGenerator}). */
  public String expand(
      String template, Path sock0, Path sock1, Path runDir, int frameBytes, int seconds) {
    return template
        .replace("{sock0}", sock0.toString())
        .replace("{sock1}", sock1.toString())
        .replace("{run_dir}", runDir.toString())
        .replace("{frame_size}", FrameSize.label(frameBytes))
        .replace(
            "{pkt_len}",
            FrameSize.imix(frameBytes) ? "imix" : Integer.toString(packetLength(frameBytes)))
        .replace("{gen_cpu}", Integer.toString(genCpu))
        .replace("{dut_cpu}", Integer.toString(dutCpu))
        .replace("{seconds}", Integer.toString(seconds));
  }

  /** The DUT's command line; {@code v4Rules}/{@code v6Rules} are l3fwd's route files. */
  public List<String> dut(
      DutSystem system,
      Path sock0,
      Path sock1,
      RouteSet routes,
      Path v4Rules,
      Path v6Rules,
      Path runDir) {
    return dut(system, sock0, sock1, routes, v4Rules, v6Rules, runDir, null);
  }

  /**
   * The DUT's command line. With {@code telemetryPrefix} (an external generator drives it, and the
   * bench reads the DUT's own counters) l3fwd gets that {@code --file-prefix}, so its DPDK
   * telemetry socket is {@code /var/run/dpdk/PREFIX/dpdk_telemetry.v2}, and flatnet prints its
   * per-second lines.
   */
  public List<String> dut(
      DutSystem system,
      Path sock0,
      Path sock1,
      RouteSet routes,
      Path v4Rules,
      Path v6Rules,
      Path runDir,
      String telemetryPrefix) {
    List<String> c = new ArrayList<>();
    switch (system) {
      case TESTPMD_IO -> {
        c.add(testpmd);
        c.addAll(List.of("--in-memory", "--no-pci", "--lcores=0@" + dutCpu + ",1@" + dutCpu));
        c.addAll(vhostPorts("--vdev", sock0, sock1));
        c.addAll(List.of("--", "--forward-mode=io", "--nb-cores=1", "--stats-period", "1"));
      }
      case L3FWD -> {
        c.add(l3fwd.toString());
        c.addAll(List.of("--in-memory", "--no-pci", "--lcores=1@" + dutCpu));
        if (telemetryPrefix != null) {
          c.add("--file-prefix=" + telemetryPrefix);
        }
        c.addAll(vhostPorts("--vdev", sock0, sock1));
        c.addAll(
            List.of(
                "--",
                "-p",
                "0x3",
                "--config=(0,0,1),(1,0,1)",
                "--lookup=lpm",
                "--parse-ptype",
                "--rule_ipv4=" + v4Rules,
                "--rule_ipv6=" + v6Rules));
      }
      case FLATNET,
          FLATNET_POLICY,
          FLATNET_CHURN,
          FLATNET_NEWFLOW,
          FLATNET_CUT,
          FLATNET_ROUTECHURN,
          FLATNET_CAPTURE1,
          FLATNET_CAPTURE10,
          FLATNET_CAPTURE100 -> {
        c.add(java);
        c.addAll(FLATNET_JVM_FLAGS);
        c.addAll(List.of("-cp", flatnetClasspath, "io.flatnet.dataplane.app.RunMain"));
        c.addAll(vhostPorts("--port", sock0, sock1));
        c.addAll(routes.flatnetArgs());
        // All of flatnet on the DUT's CPU, as l3fwd's and testpmd's lcores are: its other threads
        // (control, JIT, GC) must not take the generator's CPU and starve it.
        c.addAll(List.of("--worker-cpu", Integer.toString(dutCpu)));
        c.addAll(List.of("--other-threads-cpus", Integer.toString(dutCpu)));
        if (telemetryPrefix == null) {
          c.add("--quiet");
        }
        c.addAll(List.of("--seconds", "0", "--dir", runDir.toString()));
        c.addAll(List.of("--steady-after", Integer.toString(flatnetSteadyAfterSeconds)));
        if (system.policy()) {
          c.addAll(
              List.of(
                  "--policy-pods",
                  Integer.toString(policy.pods()),
                  "--policy-rules",
                  Integer.toString(policy.rules())));
        }
        if (system.capture()) {
          c.addAll(List.of("--capture-filter", system.captureFilter()));
        }
        switch (system) {
          case FLATNET_CHURN ->
              c.addAll(List.of("--policy-churn-ms", Integer.toString(policy.churnMillis())));
          case FLATNET_NEWFLOW -> c.addAll(List.of("--flow-capacity", "8"));
          case FLATNET_ROUTECHURN ->
              c.addAll(
                  List.of(
                      "--route-churn-per-second", Integer.toString(policy.routeChurnPerSecond())));
          case FLATNET_CUT ->
              c.addAll(
                  List.of(
                      "--policy-cut-after",
                      Integer.toString(
                          policy.cutAfterSeconds() > 0
                              ? policy.cutAfterSeconds()
                              : flatnetSteadyAfterSeconds + 2)));
          default -> {}
        }
      }
    }
    return c;
  }
}
