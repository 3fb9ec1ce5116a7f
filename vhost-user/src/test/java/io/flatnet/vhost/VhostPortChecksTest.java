package io.flatnet.vhost;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.vhost.VhostPortException.Problem;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each pre-creation check fails with its own clear error; none of them needs DPDK. */
class VhostPortChecksTest {
  @TempDir Path dir;

  private final List<String> log = new ArrayList<>();

  private VhostPortChecks checks(VhostPortChecks.Policy policy) {
    return new VhostPortChecks(policy, log::add);
  }

  private VhostPortChecks checks() {
    return checks(VhostPortChecks.Policy.defaults());
  }

  private static VhostPortException fails(Problem problem, Runnable check) {
    VhostPortException e = assertThrows(VhostPortException.class, check::run);
    assertEquals(problem, e.problem(), e.getMessage());
    return e;
  }

  @Test
  void pathLongerThan107BytesIsRefused() {
    Path longest = dir.resolve("x".repeat(107 - dir.toString().length() - 1));
    assertEquals(107, longest.toString().length());
    checks().checkPathLength(VhostPortSpec.pod("fits", longest));
    VhostPortException e =
        fails(
            Problem.PATH_TOO_LONG,
            () -> checks().checkPathLength(VhostPortSpec.pod("pod-1", Path.of(longest + "y"))));
    assertTrue(
        e.getMessage().contains("108 bytes, a Unix socket path holds at most 107"), e.getMessage());
  }

  @Test
  void missingWorldWritableOrForeignDirectoryIsRefused() throws Exception {
    VhostPortException missing =
        fails(
            Problem.DIRECTORY_MISSING,
            () ->
                checks()
                    .checkDirectory(
                        new VhostPortSpec("p", dir.resolve("nope/p.sock"), VhostMode.SERVER, 1)));
    assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());

    Path open = Files.createDirectory(dir.resolve("open"));
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
    VhostPortException mode =
        fails(
            Problem.DIRECTORY_MODE,
            () -> checks().checkDirectory(VhostPortSpec.pod("p", open.resolve("p.sock"))));
    assertTrue(mode.getMessage().contains("others-write"), mode.getMessage());

    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxr-x---"));
    checks().checkDirectory(VhostPortSpec.pod("p", open.resolve("p.sock")));
    VhostPortException owner =
        fails(
            Problem.DIRECTORY_OWNER,
            () ->
                checks(VhostPortChecks.Policy.defaults().withDirectoryOwner("nobody"))
                    .checkDirectory(VhostPortSpec.pod("p", open.resolve("p.sock"))));
    assertTrue(owner.getMessage().contains("expected nobody"), owner.getMessage());
  }

  @Test
  void staleServerSocketIsReplacedAndALiveOneIsNot() throws Exception {
    Path socket = dir.resolve("pod.sock");
    VhostPortSpec spec = new VhostPortSpec("pod", socket, VhostMode.SERVER, 1);
    try (ServerSocketChannel live = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      live.bind(UnixDomainSocketAddress.of(socket));
      VhostPortException e = fails(Problem.SOCKET_IN_USE, () -> checks().checkSocketFile(spec));
      assertTrue(e.getMessage().contains("another process listens on it"), e.getMessage());
      assertTrue(Files.exists(socket), "a live socket is left alone");
    }
    // Closing a Unix server channel leaves its file behind: a stale socket, nobody listening.
    assertTrue(Files.exists(socket));
    checks().checkSocketFile(spec);
    assertFalse(Files.exists(socket), "the stale socket was removed");
    assertTrue(log.getLast().contains("removed stale socket"), log.toString());

    Files.writeString(socket, "not a socket");
    fails(Problem.NOT_A_SOCKET, () -> checks().checkSocketFile(spec));
    fails(Problem.NOT_A_SOCKET, () -> checks().checkSocketFile(spec.withMode(VhostMode.CLIENT)));
  }

  @Test
  void clientModeNeverProbesTheVmsSocket() throws Exception {
    Path socket = dir.resolve("vm.sock");
    try (ServerSocketChannel vm = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      vm.bind(UnixDomainSocketAddress.of(socket));
      vm.configureBlocking(false);
      checks().checkSocketFile(VhostPortSpec.pod("pod", socket));
      assertEquals(null, vm.accept(), "no probe connection reached the VM");
    }
  }

  @Test
  void noHugepagesOrNoHugetlbfsIsRefused() throws Exception {
    Path meminfo = dir.resolve("meminfo");
    Path mounts = dir.resolve("mounts");
    Files.writeString(mounts, "nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n");
    Files.writeString(
        meminfo,
        "HugePages_Total:    1024\nHugePages_Free:        0\nHugepagesize:       2048 kB\n");
    VhostPortChecks.Policy fake = VhostPortChecks.Policy.defaults().withProcFiles(meminfo, mounts);
    VhostPortException none = fails(Problem.NO_HUGEPAGES, () -> checks(fake).checkHugepages());
    assertTrue(none.getMessage().contains("no free 2 MiB hugepages"), none.getMessage());

    Files.writeString(
        meminfo,
        "HugePages_Total:    1024\nHugePages_Free:       12\nHugepagesize:       2048 kB\n");
    checks(fake).checkHugepages();

    Files.writeString(mounts, "proc /proc proc rw 0 0\n");
    VhostPortException unmounted =
        fails(Problem.HUGETLBFS_NOT_MOUNTED, () -> checks(fake).checkHugepages());
    assertTrue(unmounted.getMessage().contains("no hugetlbfs mount"), unmounted.getMessage());
  }

  @Test
  void unknownSocketGroupIsRefusedBeforeAnythingIsCreated() {
    fails(
        Problem.UNKNOWN_GROUP,
        () ->
            checks(VhostPortChecks.Policy.defaults().withSocketGroup("no-such-group-flatnet"))
                .checkSocketGroup());
  }

  @Test
  void serverSocketGets0660AndItsGroup() throws Exception {
    Path socket = dir.resolve("pod.sock");
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(socket));
      checks(VhostPortChecks.Policy.defaults().withSocketGroup("daemon"))
          .secureServerSocket(new VhostPortSpec("pod", socket, VhostMode.SERVER, 1));
      assertEquals(
          "rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
      assertEquals(
          "daemon",
          Files.readAttributes(socket, java.nio.file.attribute.PosixFileAttributes.class)
              .group()
              .getName());
    }
  }

  @Test
  void aSymlinkSwappedInForTheSocketIsRefusedAndItsTargetUntouched() throws Exception {
    Path target = dir.resolve("precious");
    Files.writeString(target, "secret");
    Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-------"));
    Path socket = dir.resolve("pod.sock");
    Files.createSymbolicLink(socket, target); // as if swapped in between bind and chmod
    fails(
        Problem.PERMISSIONS,
        () ->
            checks(VhostPortChecks.Policy.defaults())
                .secureServerSocket(new VhostPortSpec("pod", socket, VhostMode.SERVER, 1)));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
  }

  @Test
  void badQueueCountIsRefused() {
    fails(
        Problem.BAD_SPEC,
        () -> checks().checkQueues(VhostPortSpec.pod("p", dir.resolve("p.sock")).withQueues(0)));
  }
}
