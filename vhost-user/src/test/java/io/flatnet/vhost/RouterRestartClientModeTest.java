package io.flatnet.vhost;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Client-mode pod ports survive a router restart with no action on the pods' side: the pods are one
 * dpdk-testpmd whose two virtio_user ports are vhost-user servers ({@code server=1}: the pod/VM
 * side owns the sockets) generating flowgen traffic; the router is {@code ./flatnet run} (RunMain)
 * in a child JVM with {@code client=1} ports, since EAL cannot start twice in one process. The
 * first router is killed with SIGKILL, a second one is started with the same arguments, and
 * testpmd's receive counters must move again on both ports.
 */
class RouterRestartClientModeTest {
  @TempDir Path dir;

  @Test
  void podsForwardAgainAfterTheRouterIsKilledAndRestarted() throws Exception {
    Path socket0 = dir.resolve("pod0.sock");
    Path socket1 = dir.resolve("pod1.sock");
    File work = dir.toFile();
    List<String> vdevs =
        List.of(
            "path=" + socket0 + ",server=1,queues=1,queue_size=1024,packed_vq=1",
            "path=" + socket1 + ",server=1,queues=1,queue_size=1024,packed_vq=1");
    Process router1 = null;
    Process router2 = null;
    try (TestpmdPeer pods = TestpmdPeer.start("pods", vdevs, "flowgen", 1, 0, work)) {
      router1 = startRouter(socket0, socket1, "router1");
      long[] before = awaitRxBeyond(pods, new long[] {0, 0}, 90, router1, "router1");
      // Let the first router forward for a second, then crash it.
      Thread.sleep(1000);
      router1.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      assertTrue(!router1.isAlive(), "the first router is dead");
      Thread.sleep(1000);
      assertTrue(pods.isAlive(), "testpmd died with the router:\n" + pods.logTail(30));

      // The second router runs 6 s after its links come up, then prints its summary and exits.
      long restart = System.nanoTime();
      router2 = startRouter(socket0, socket1, "router2", "--seconds", "6");
      // Generous deadlines: a cold JVM and EAL start on a busy two-CPU machine can take a while;
      // the
      // waits end as soon as the condition holds.
      double firstForwarding = awaitForwarding(router2, "router2", restart, 90);
      assertTrue(
          router2.waitFor(90, TimeUnit.SECONDS),
          "the second router did not finish its run:\n"
              + Files.readString(dir.resolve("router2.log")));
      String log2 = Files.readString(dir.resolve("router2.log"));
      Matcher byPort = TX_BY_PORT.matcher(log2);
      assertTrue(byPort.find(), "no summary from the second router:\n" + log2);
      long toPod0 = Long.parseLong(byPort.group(1));
      long toPod1 = Long.parseLong(byPort.group(2));
      System.out.printf(
          Locale.ROOT,
          "router restart (client mode): pods received %s from the first router; it was"
              + " SIGKILLed; second router process start to forwarding: %.2f s; in its 6 s it"
              + " delivered %d and %d packets into the pods' rings%n",
          Arrays.toString(before),
          firstForwarding,
          toPod0,
          toPod1);
      assertTrue(pods.isAlive(), "testpmd survived both routers");
      assertTrue(
          toPod0 > 10_000 && toPod1 > 10_000,
          "both pods are forwarded to again by the second router:\n" + log2);
    } finally {
      for (Process router : new Process[] {router1, router2}) {
        if (router != null && router.isAlive()) {
          router.destroy();
          if (!router.waitFor(10, TimeUnit.SECONDS)) {
            router.destroyForcibly();
          }
        }
      }
    }
  }

  private static final Pattern TX_BY_PORT =
      Pattern.compile("\"tx_by_port\":\\{\"net_vhost0\":(\\d+),\"net_vhost1\":(\\d+)\\}");
  private static final Pattern FORWARDED = Pattern.compile("forwarded\\s+([0-9.]+) Mpps");

  /**
   * Waits for the router's first once-a-second line that forwarded at least 0.01 Mpps; returns the
   * seconds from {@code since}. testpmd's own counters are not used after a reconnect: its main
   * thread, which prints them, can stall while virtio_user re-negotiates.
   */
  private double awaitForwarding(Process router, String name, long since, int seconds)
      throws IOException, InterruptedException {
    long deadline = since + seconds * 1_000_000_000L;
    while (System.nanoTime() < deadline) {
      Matcher m = FORWARDED.matcher(Files.readString(dir.resolve(name + ".log")));
      while (m.find()) {
        if (Double.parseDouble(m.group(1)) >= 0.01) {
          return (System.nanoTime() - since) / 1e9;
        }
      }
      if (!router.isAlive()) {
        break;
      }
      Thread.sleep(50);
    }
    throw new AssertionError(
        name + " did not forward:\n" + Files.readString(dir.resolve(name + ".log")));
  }

  private Process startRouter(Path socket0, Path socket1, String name, String... extra)
      throws IOException {
    String java =
        ProcessHandle.current()
            .info()
            .command()
            .orElse(System.getProperty("java.home") + "/bin/java");
    List<String> command = new ArrayList<>();
    command.add(java);
    command.add("--enable-native-access=ALL-UNNAMED");
    command.add("--add-exports");
    command.add("java.base/jdk.internal.misc=ALL-UNNAMED");
    command.add("-XX:+UseParallelGC");
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add("io.flatnet.dataplane.app.RunMain");
    command.add("--port");
    command.add("net_vhost0,iface=" + socket0 + ",queues=1,client=1");
    command.add("--port");
    command.add("net_vhost1,iface=" + socket1 + ",queues=1,client=1");
    command.add("--route");
    command.add("10.253.0.0/23=1");
    command.add("--route");
    command.add("10.253.2.0/23=0");
    command.add("--worker-cpu");
    command.add("1");
    command.add("--dir");
    command.add(Files.createDirectories(dir.resolve(name)).toString());
    command.addAll(List.of(extra));
    return new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve(name + ".log").toFile())
        .start();
  }

  /** Waits until testpmd's RX count on both ports passes {@code floor}; returns the counts. */
  private long[] awaitRxBeyond(
      TestpmdPeer pods, long[] floor, int seconds, Process router, String name)
      throws InterruptedException, IOException {
    long deadline = System.nanoTime() + seconds * 1_000_000_000L;
    long[] rx = pods.rxPackets(2);
    while (!(rx[0] > floor[0] && rx[1] > floor[1])) {
      if (System.nanoTime() > deadline || !router.isAlive()) {
        throw new AssertionError(
            name
                + " did not bring traffic to both pods in "
                + seconds
                + " s (testpmd rx "
                + Arrays.toString(rx)
                + ")\nrouter log:\n"
                + Files.readString(dir.resolve(name + ".log"))
                + "\ntestpmd log:\n"
                + pods.logTail(40));
      }
      Thread.sleep(100);
      rx = pods.rxPackets(2);
    }
    return rx;
  }
}
