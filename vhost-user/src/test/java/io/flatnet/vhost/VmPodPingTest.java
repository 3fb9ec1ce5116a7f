package io.flatnet.vhost;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.dataplane.DropReason;
import io.flatnet.dataplane.ForwardingWorker;
import io.flatnet.dataplane.Router;
import io.flatnet.dataplane.WorkerCounters;
import io.flatnet.route.Ipv4Prefix;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * VM pods: two small Linux VMs under QEMU attach to flatnet over vhost-user and ping each other
 * across two subnets that flatnet routes. VM A is 10.2.0.2/24 (gateway 10.2.0.1) on a server-mode
 * port (flatnet owns the socket, QEMU connects); VM B is 10.3.0.2/24 (gateway 10.3.0.1) on a
 * client-mode port, the default for pods (QEMU owns the socket, flatnet connects). The gateways are
 * answered by the router's proxy ARP on pod ports. Each guest's /init pings the other 20 times once
 * it answers, prints a FLATNET-VM-RESULT line on its serial console and powers off.
 *
 * <p>Guest memory is 128 MB of hugetlbfs shared with flatnet ({@code memory-backend-file,...,
 * share=on}). The kernel is Debian's current linux-image, unpacked, not installed; the initramfs is
 * busybox-static (see {@code vhost-user/vm/}). KVM is used only if a probe boots a guest with it;
 * here {@code /dev/kvm} is kvm_pvm, which hangs Debian guests, so the VMs run under TCG. Skipped
 * only if QEMU is missing and apt-get cannot install it.
 */
class VmPodPingTest {
  @TempDir Path dir;

  private static final int COUNT = 20;
  private static final String MAC_A = "52:54:00:02:00:02";
  private static final String MAC_B = "52:54:00:03:00:02";
  private static final String HUGE_PREFIX = "flatnet-vm-test-";

  private static VmImage image;
  private static String accel;

  @BeforeAll
  static void prepare(@TempDir Path setup) throws Exception {
    String missing = VmImage.installMissingTools(setup);
    Assumptions.assumeTrue(
        VmImage.onPath(QemuVm.QEMU),
        () ->
            "VM pod test skipped: QEMU ("
                + QemuVm.QEMU
                + ") is missing and could not be installed: "
                + missing);
    assertTrue(
        VmImage.toolsPresent(),
        "busybox-static or cpio is missing and was not installed: " + missing);
    image = VmImage.build(setup);
    accel = image.accelerator(setup);
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void twoVmsPingEachOtherAcrossSubnetsThroughFlatnet() throws Exception {
    long testStart = System.nanoTime();
    VhostTestSupport.eal();
    Path sockets = Files.createDirectory(dir.resolve("sockets"));
    Files.setPosixFilePermissions(sockets, PosixFilePermissions.fromString("rwxr-x---"));
    Path hugepages = hugepageDir();
    List<QemuVm> vms = new ArrayList<>();
    Thread reaper = new Thread(() -> vms.forEach(QemuVm::close), "qemu-reaper");
    Runtime.getRuntime().addShutdownHook(reaper);
    try (Router router = Router.open(Router.Sizes.defaults(), dir.toFile());
        VhostPorts ports =
            new VhostPorts(
                router, dir, VhostPortChecks.Policy.defaults(), VhostPorts.standardLog())) {
      VhostPortSpec specA =
          new VhostPortSpec("vm-a", sockets.resolve("vm-a.sock"), VhostMode.SERVER, 1);
      VhostPortSpec specB =
          new VhostPortSpec("vm-b", sockets.resolve("vm-b.sock"), VhostMode.CLIENT, 1);
      int portA = ports.add(specA);
      int portB = ports.add(specB);
      router.routeDirect(Ipv4Prefix.parse("10.2.0.0/24"), portA, mac(MAC_A));
      router.routeDirect(Ipv4Prefix.parse("10.3.0.0/24"), portB, mac(MAC_B));
      // Not busy-spinning: the two TCG guests need the CPUs more than a ping needs the worker.
      ForwardingWorker worker =
          router.startWorker(1, new BackoffIdleStrategy(100, 10, 1_000, 50_000));
      ports.startMonitor(Duration.ofMillis(100));

      Path hugeA = Files.createDirectory(hugepages.resolve("vm-a"));
      Path hugeB = Files.createDirectory(hugepages.resolve("vm-b"));
      vms.add(
          QemuVm.start(
              new QemuVm.Config(
                  "a",
                  image,
                  accel,
                  hugeA,
                  specA.socket(),
                  false,
                  MAC_A,
                  guestArgs("a", "10.2.0.2/24", "10.2.0.1", "10.3.0.2")),
              dir));
      vms.add(
          QemuVm.start(
              new QemuVm.Config(
                  "b",
                  image,
                  accel,
                  hugeB,
                  specB.socket(),
                  true,
                  MAC_B,
                  guestArgs("b", "10.3.0.2/24", "10.3.0.1", "10.2.0.2")),
              dir));
      System.out.println(
          "VM pods: " + accel + "; VM A: " + Files.readString(dir.resolve("vm-a.cmd")));

      Map<String, String> resultA = null;
      Map<String, String> resultB = null;
      long deadline = System.nanoTime() + 150_000_000_000L;
      while (resultA == null || resultB == null) {
        resultA = resultA != null ? resultA : vms.get(0).result().orElse(null);
        resultB = resultB != null ? resultB : vms.get(1).result().orElse(null);
        for (QemuVm vm : vms) {
          if (!vm.isAlive() && vm.result().isEmpty()) {
            throw new AssertionError(
                "VM " + vm.name() + " ended without a result\n" + diagnostics(vms, ports));
          }
        }
        if (System.nanoTime() > deadline) {
          throw new AssertionError(
              "no ping result from both VMs in 150 s\n" + diagnostics(vms, ports));
        }
        Thread.sleep(100);
      }
      double seconds = (System.nanoTime() - testStart) / 1e9;
      // The guests linger a few seconds after their results: the ports are still up now.
      ports.poll();
      List<VhostPortStatus> statusAtResults = ports.status();
      Map<String, VhostPortState> stateAtResults =
          Map.of("vm-a", ports.monitor().state("vm-a"), "vm-b", ports.monitor().state("vm-b"));
      // Both guests power off by themselves a few seconds after their result.
      boolean poweredOff = vms.get(0).waitFor(20_000) & vms.get(1).waitFor(20_000);

      WorkerCounters counters = worker.counters();
      StringBuilder drops = new StringBuilder();
      for (DropReason reason : DropReason.values()) {
        long count = counters.drops(reason);
        if (count > 0) {
          drops.append(' ').append(reason.label()).append('=').append(count);
        }
      }
      for (QemuVm vm : vms) {
        vm.initLines().forEach(line -> System.out.println("VM " + vm.name() + ": " + line));
      }
      System.out.printf(
          Locale.ROOT,
          "VM pods (%s): A 10.2.0.2 -> B 10.3.0.2: %s/%s replies, rtt min/avg/max %s ms, ttl %s;"
              + " B -> A: %s/%s replies, rtt min/avg/max %s ms, ttl %s; both results %.1f s after"
              + " the test started; guests powered off: %s%n"
              + "  router: port vm-a rx %d tx %d, port vm-b rx %d tx %d; drops:%s%n",
          accel,
          resultA.get("received"),
          resultA.get("transmitted"),
          resultA.get("rtt_min_avg_max_ms"),
          resultA.get("ttl"),
          resultB.get("received"),
          resultB.get("transmitted"),
          resultB.get("rtt_min_avg_max_ms"),
          resultB.get("ttl"),
          seconds,
          poweredOff,
          counters.portRx(portA),
          counters.portTx(portA),
          counters.portRx(portB),
          counters.portTx(portB),
          drops.length() == 0 ? " none" : drops);
      statusAtResults.forEach(status -> System.out.println("  " + status));
      System.out.println("  RTTs A -> B (ms): " + resultA.get("rtts_ms"));
      System.out.println("  RTTs B -> A (ms): " + resultB.get("rtts_ms"));

      String context = "\n" + diagnostics(vms, ports);
      for (Map<String, String> result : List.of(resultA, resultB)) {
        assertEquals(null, result.get("error"), "a guest could not ping: " + result + context);
        assertEquals(String.valueOf(COUNT), result.get("transmitted"), result + context);
        assertEquals(String.valueOf(COUNT), result.get("received"), result + context);
        // One routed hop: the router decremented the replier's TTL of 64 once.
        assertEquals("63", result.get("ttl"), "routed, not bridged: " + result + context);
      }
      // Each direction carried at least both guests' requests and replies that were answered (and
      // ARP requests for the gateways, which the router answers on the asking port).
      long minimum = 2L * COUNT;
      assertTrue(counters.portRx(portA) >= minimum, "vm-a rx " + counters.portRx(portA));
      assertTrue(counters.portRx(portB) >= minimum, "vm-b rx " + counters.portRx(portB));
      assertTrue(counters.portTx(portA) >= minimum, "vm-a tx " + counters.portTx(portA));
      assertTrue(counters.portTx(portB) >= minimum, "vm-b tx " + counters.portTx(portB));
      for (String name : List.of("vm-a", "vm-b")) {
        assertEquals(
            VhostPortState.RUNNING, stateAtResults.get(name), name + ": " + statusAtResults);
      }
    } finally {
      vms.forEach(QemuVm::close);
      Runtime.getRuntime().removeShutdownHook(reaper);
      deleteTree(hugepages);
    }
  }

  private static String guestArgs(String name, String ip, String gateway, String peer) {
    return String.format(
        Locale.ROOT,
        "flatnet.name=%s flatnet.ip=%s flatnet.gw=%s flatnet.peer=%s flatnet.count=%d"
            + " flatnet.interval=0.2 flatnet.wait=90 flatnet.linger=5",
        name,
        ip,
        gateway,
        peer,
        COUNT);
  }

  private static long mac(String text) {
    return Long.parseLong(text.replace(":", ""), 16);
  }

  /** A fresh directory on the 2 MiB hugetlbfs mount (from /proc/mounts), for this test's VMs. */
  private static Path hugepageDir() throws IOException {
    Optional<Path> mount =
        Files.readAllLines(Path.of("/proc/mounts")).stream()
            .map(line -> line.split(" "))
            .filter(f -> f.length > 3 && f[2].equals("hugetlbfs") && !f[3].contains("pagesize=1G"))
            .map(f -> Path.of(f[1]))
            .findFirst();
    assertTrue(mount.isPresent(), "no hugetlbfs mount; run ./hugepages-setup.sh");
    // QEMU unlinks its memory file at once, so a killed run leaves only empty directories; sweep
    // those of test JVMs that are gone.
    try (Stream<Path> old = Files.list(mount.get())) {
      for (Path stale :
          old.filter(p -> p.getFileName().toString().startsWith(HUGE_PREFIX)).toList()) {
        String pid = stale.getFileName().toString().substring(HUGE_PREFIX.length());
        if (pid.matches("\\d+") && ProcessHandle.of(Long.parseLong(pid)).isEmpty()) {
          deleteTree(stale);
        }
      }
    }
    Path dir = mount.get().resolve(HUGE_PREFIX + ProcessHandle.current().pid());
    deleteTree(dir);
    return Files.createDirectory(dir);
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    }
  }

  private static String diagnostics(List<QemuVm> vms, VhostPorts ports) {
    StringBuilder text = new StringBuilder();
    for (VhostPortStatus status : ports.status()) {
      text.append("port ").append(status).append('\n');
    }
    for (QemuVm vm : vms) {
      text.append(vm.diagnostics()).append('\n');
    }
    return text.toString();
  }
}
