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
 * @param dutCpu the CPU of the DUT's polling thread
 * @param genCpu the CPU of the generator's forwarding lcore
 */
public record Commands(
    String testpmd, Path l3fwd, String java, String flatnetClasspath, int dutCpu, int genCpu) {

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
          "-Xss4m");

  /** Packet length for an Ethernet frame size: DPDK's pkt_len excludes the 4-byte FCS. */
  public static int packetLength(int frameBytes) {
    return frameBytes - 4;
  }

  private static List<String> vhostPorts(String option, Path sock0, Path sock1) {
    return List.of(
        option,
        "net_vhost0,iface=" + sock0 + ",queues=1",
        option,
        "net_vhost1,iface=" + sock1 + ",queues=1");
  }

  /**
   * testpmd flowgen on two virtio_user ports (clients of the DUT's vhost-user sockets): its
   * forwarding lcore on {@code genCpu}, its main lcore (which only prints the statistics each
   * second) on {@code dutCpu}.
   */
  public List<String> generator(Path sock0, Path sock1, int frameBytes) {
    List<String> c = new ArrayList<>();
    c.add(testpmd);
    c.addAll(
        List.of(
            "--in-memory",
            "--no-pci",
            "--single-file-segments",
            "--lcores=0@" + dutCpu + ",1@" + genCpu,
            "--vdev",
            "virtio_user0,path=" + sock0 + ",queues=1",
            "--vdev",
            "virtio_user1,path=" + sock1 + ",queues=1",
            "--",
            "--forward-mode=flowgen",
            "--nb-cores=1",
            "--stats-period",
            "1",
            "--txpkts=" + packetLength(frameBytes)));
    return c;
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
      case FLATNET -> {
        c.add(java);
        c.addAll(FLATNET_JVM_FLAGS);
        c.addAll(List.of("-cp", flatnetClasspath, "io.flatnet.dataplane.app.RunMain"));
        c.addAll(vhostPorts("--port", sock0, sock1));
        c.addAll(routes.flatnetArgs());
        c.addAll(
            List.of(
                "--worker-cpu",
                Integer.toString(dutCpu),
                "--quiet",
                "--seconds",
                "0",
                "--dir",
                runDir.toString()));
      }
    }
    return c;
  }
}
