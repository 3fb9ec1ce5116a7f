package io.flatnet.vhost;

import io.flatnet.vhost.VhostPortException.Problem;
import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The checks made before a vhost-user port is created, each failing with a {@link
 * VhostPortException} whose message says what is wrong and what to do, and the permissions given to
 * a server socket once it exists. Nothing here touches DPDK.
 */
public final class VhostPortChecks {
  /** {@code sun_path} holds 108 bytes, the terminating NUL included. */
  public static final int MAX_SOCKET_PATH_BYTES = 107;

  /**
   * What the checks expect.
   *
   * @param directoryOwner the user that must own a socket's directory, or null for any
   * @param forbiddenDirectoryPermissions permissions a socket's directory must not have
   * @param socketGroup the group a server socket is given (VM runtimes connect through it), or null
   *     to keep the process's group
   * @param socketPermissions the mode of a server socket
   * @param meminfo where to read hugepage counts ({@code /proc/meminfo})
   * @param mounts where to find the hugetlbfs mount ({@code /proc/mounts})
   * @param hugepages2m sysfs directory of the 2 MiB pool, read when the default size is not 2 MiB
   */
  public record Policy(
      String directoryOwner,
      Set<PosixFilePermission> forbiddenDirectoryPermissions,
      String socketGroup,
      Set<PosixFilePermission> socketPermissions,
      Path meminfo,
      Path mounts,
      Path hugepages2m) {
    public Policy {
      forbiddenDirectoryPermissions = Set.copyOf(forbiddenDirectoryPermissions);
      socketPermissions = Set.copyOf(socketPermissions);
    }

    /**
     * Directories owned by this process's user and not writable by others; server sockets 0660 in
     * the process's group; the real /proc files.
     */
    public static Policy defaults() {
      return new Policy(
          System.getProperty("user.name"),
          EnumSet.of(PosixFilePermission.OTHERS_WRITE),
          null,
          PosixFilePermissions.fromString("rw-rw----"),
          Path.of("/proc/meminfo"),
          Path.of("/proc/mounts"),
          Path.of("/sys/kernel/mm/hugepages/hugepages-2048kB"));
    }

    public Policy withDirectoryOwner(String owner) {
      return new Policy(
          owner,
          forbiddenDirectoryPermissions,
          socketGroup,
          socketPermissions,
          meminfo,
          mounts,
          hugepages2m);
    }

    public Policy withForbiddenDirectoryPermissions(Set<PosixFilePermission> forbidden) {
      return new Policy(
          directoryOwner, forbidden, socketGroup, socketPermissions, meminfo, mounts, hugepages2m);
    }

    public Policy withSocketGroup(String group) {
      return new Policy(
          directoryOwner,
          forbiddenDirectoryPermissions,
          group,
          socketPermissions,
          meminfo,
          mounts,
          hugepages2m);
    }

    public Policy withProcFiles(Path meminfoFile, Path mountsFile) {
      return new Policy(
          directoryOwner,
          forbiddenDirectoryPermissions,
          socketGroup,
          socketPermissions,
          meminfoFile,
          mountsFile,
          hugepages2m);
    }
  }

  private final Policy policy;
  private final Consumer<String> log;

  public VhostPortChecks(Policy policy, Consumer<String> log) {
    this.policy = policy;
    this.log = log;
  }

  public Policy policy() {
    return policy;
  }

  /** Every check, in the order an operator would fix them. Removes a stale server socket. */
  public void checkBeforeCreate(VhostPortSpec spec) {
    checkQueues(spec);
    checkPathLength(spec);
    checkDirectory(spec);
    checkSocketGroup();
    checkSocketFile(spec);
    checkHugepages();
  }

  void checkQueues(VhostPortSpec spec) {
    if (spec.queues() < 1 || spec.queues() > VhostPortSpec.MAX_QUEUES) {
      throw new VhostPortException(
          Problem.BAD_SPEC,
          "pod "
              + spec.name()
              + ": queues="
              + spec.queues()
              + " is outside 1.."
              + VhostPortSpec.MAX_QUEUES);
    }
  }

  /** The path must fit in {@code sun_path}: at most 107 bytes. */
  public void checkPathLength(VhostPortSpec spec) {
    int bytes = spec.socket().toString().getBytes(StandardCharsets.UTF_8).length;
    if (bytes > MAX_SOCKET_PATH_BYTES) {
      throw new VhostPortException(
          Problem.PATH_TOO_LONG,
          "pod "
              + spec.name()
              + ": socket path is "
              + bytes
              + " bytes, a Unix socket path holds at most "
              + MAX_SOCKET_PATH_BYTES
              + " (sun_path is 108 with its NUL); use a shorter directory or socket name: "
              + spec.socket());
    }
  }

  /** The socket's directory exists, has the expected owner and none of the forbidden bits. */
  public void checkDirectory(VhostPortSpec spec) {
    Path directory = spec.socket().getParent();
    if (directory == null || !Files.isDirectory(directory)) {
      throw new VhostPortException(
          Problem.DIRECTORY_MISSING,
          "pod "
              + spec.name()
              + ": socket directory "
              + directory
              + " does not exist (or is not a directory); "
              + (spec.mode() == VhostMode.SERVER
                  ? "create it (mode 0750 or 0770, owner " + ownerText() + ")"
                  : "the VM runtime creates it; check the pod's vhost-user volume")
              + ", or fix the path");
    }
    PosixFileAttributes attributes;
    try {
      attributes = Files.readAttributes(directory, PosixFileAttributes.class);
    } catch (IOException e) {
      throw new VhostPortException(
          Problem.DIRECTORY_MISSING,
          "pod " + spec.name() + ": cannot read socket directory " + directory + ": " + e,
          e);
    }
    if (policy.directoryOwner() != null
        && !attributes.owner().getName().equals(policy.directoryOwner())) {
      throw new VhostPortException(
          Problem.DIRECTORY_OWNER,
          "pod "
              + spec.name()
              + ": socket directory "
              + directory
              + " is owned by "
              + attributes.owner().getName()
              + ", expected "
              + policy.directoryOwner()
              + " (its owner can replace the socket); chown "
              + policy.directoryOwner()
              + " "
              + directory
              + ", or configure the expected owner");
    }
    Set<PosixFilePermission> bad = new HashSet<>(attributes.permissions());
    bad.retainAll(policy.forbiddenDirectoryPermissions());
    if (!bad.isEmpty()) {
      throw new VhostPortException(
          Problem.DIRECTORY_MODE,
          "pod "
              + spec.name()
              + ": socket directory "
              + directory
              + " has mode "
              + PosixFilePermissions.toString(attributes.permissions())
              + ", which allows "
              + describe(bad)
              + " (anyone with it could replace the socket); chmod it to 0750 or 0770");
    }
  }

  private String ownerText() {
    return policy.directoryOwner() == null ? "flatnet's user" : policy.directoryOwner();
  }

  private static String describe(Set<PosixFilePermission> permissions) {
    List<String> parts =
        permissions.stream().sorted().map(p -> p.name().toLowerCase().replace('_', '-')).toList();
    return String.join(", ", parts);
  }

  /** The configured socket group exists on this node. */
  public void checkSocketGroup() {
    if (policy.socketGroup() != null) {
      lookupGroup(policy.socketGroup());
    }
  }

  private static GroupPrincipal lookupGroup(String group) {
    try {
      return Path.of("/")
          .getFileSystem()
          .getUserPrincipalLookupService()
          .lookupPrincipalByGroupName(group);
    } catch (UserPrincipalNotFoundException e) {
      throw new VhostPortException(
          Problem.UNKNOWN_GROUP,
          "vhost-user socket group '" + group + "' does not exist on this node (see /etc/group)",
          e);
    } catch (IOException e) {
      throw new VhostPortException(
          Problem.UNKNOWN_GROUP, "cannot look up group '" + group + "': " + e, e);
    }
  }

  /**
   * Server mode: a file at the path must be a socket nobody listens on (it is then removed). Client
   * mode: a file at the path must be a socket; it is never probed, because a probe connection would
   * reach the VM.
   */
  public void checkSocketFile(VhostPortSpec spec) {
    Path socket = spec.socket();
    if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    boolean isSocket;
    try {
      isSocket = "s".equals(fileType(socket));
    } catch (IOException e) {
      throw new VhostPortException(
          Problem.SOCKET_UNCHECKABLE,
          "pod " + spec.name() + ": cannot stat " + socket + ": " + e,
          e);
    }
    if (!isSocket) {
      throw new VhostPortException(
          Problem.NOT_A_SOCKET,
          "pod "
              + spec.name()
              + ": "
              + socket
              + " exists and is not a socket; refusing to replace it (remove it if it is junk)");
    }
    if (spec.mode() == VhostMode.CLIENT) {
      return;
    }
    if (isListening(spec, socket)) {
      throw new VhostPortException(
          Problem.SOCKET_IN_USE,
          "pod "
              + spec.name()
              + ": "
              + socket
              + " is a live socket: another process listens on it (a second flatnet, or a VM"
              + " started in server mode?); refusing to take it over. Stop that process, use"
              + " client mode, or pick another path");
    }
    try {
      Files.delete(socket);
    } catch (IOException e) {
      throw new VhostPortException(
          Problem.SOCKET_UNCHECKABLE,
          "pod " + spec.name() + ": cannot remove stale socket " + socket + ": " + e,
          e);
    }
    log.accept("pod " + spec.name() + ": removed stale socket " + socket + " (nobody listened)");
  }

  /** Connects to decide: refused means stale, accepted means someone listens. */
  private static boolean isListening(VhostPortSpec spec, Path socket) {
    try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      channel.connect(UnixDomainSocketAddress.of(socket));
      return true;
    } catch (ConnectException e) {
      return false;
    } catch (IOException e) {
      throw new VhostPortException(
          Problem.SOCKET_UNCHECKABLE,
          "pod "
              + spec.name()
              + ": cannot tell whether "
              + socket
              + " is in use ("
              + e.getMessage()
              + "); remove it by hand if nothing uses it",
          e);
    }
  }

  /** {@code s} for a socket, {@code d}, {@code f}, ... from the unix view's mode bits. */
  private static String fileType(Path path) throws IOException {
    int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    return switch (mode & 0170000) {
      case 0140000 -> "s";
      case 0040000 -> "d";
      case 0100000 -> "f";
      default -> "o";
    };
  }

  /**
   * Hugepage-backed shared memory is available: a hugetlbfs mount for 2 MiB pages exists and the 2
   * MiB pool has free pages (a vhost-user VM's memory must be hugepage-backed and shared).
   */
  public void checkHugepages() {
    List<String> mounts;
    try {
      mounts = Files.readAllLines(policy.mounts(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new VhostPortException(
          Problem.HUGETLBFS_NOT_MOUNTED, "cannot read " + policy.mounts() + ": " + e, e);
    }
    boolean mounted = false;
    for (String line : mounts) {
      String[] fields = line.split("\\s+");
      if (fields.length >= 4
          && fields[2].equals("hugetlbfs")
          && (fields[3].contains("pagesize=2M") || !fields[3].contains("pagesize="))) {
        mounted = true;
        break;
      }
    }
    if (!mounted) {
      throw new VhostPortException(
          Problem.HUGETLBFS_NOT_MOUNTED,
          "no hugetlbfs mount for 2 MiB pages in "
              + policy.mounts()
              + ": vhost-user needs hugepage-backed shared memory; run ./hugepages-setup.sh"
              + " (or mount -t hugetlbfs nodev /dev/hugepages)");
    }
    long free = freeHugepages2m();
    if (free <= 0) {
      throw new VhostPortException(
          Problem.NO_HUGEPAGES,
          "no free 2 MiB hugepages (HugePages_Free: "
              + free
              + " in "
              + policy.meminfo()
              + "): the pod's memory must be hugepage-backed and shared for vhost-user; reserve"
              + " more with ./hugepages-setup.sh --pages N");
    }
  }

  private long freeHugepages2m() {
    List<String> lines;
    try {
      lines = Files.readAllLines(policy.meminfo(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new VhostPortException(
          Problem.NO_HUGEPAGES, "cannot read " + policy.meminfo() + ": " + e, e);
    }
    long free = -1;
    long sizeKb = -1;
    for (String line : lines) {
      String[] fields = line.split("\\s+");
      if (fields.length >= 2 && fields[0].equals("HugePages_Free:")) {
        free = Long.parseLong(fields[1]);
      } else if (fields.length >= 2 && fields[0].equals("Hugepagesize:")) {
        sizeKb = Long.parseLong(fields[1]);
      }
    }
    if (sizeKb == 2048 || sizeKb < 0) {
      return Math.max(0, free);
    }
    try {
      return Long.parseLong(
          Files.readString(policy.hugepages2m().resolve("free_hugepages")).trim());
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
  }

  /**
   * Gives a freshly created server socket its mode (0660 by default) and group, so that the VM
   * runtime's group can connect and nobody else can.
   */
  public void secureServerSocket(VhostPortSpec spec) {
    Path socket = spec.socket();
    // Pinned, not by path: if someone swapped a symlink in after bind, chmod through the path
    // would change whatever it points to (/etc/shadow, say). A pinned symlink refuses, and is
    // not a socket anyway.
    try (PinnedPath pinned = PinnedPath.open(socket)) {
      PosixFileAttributes found =
          Files.readAttributes(pinned.procPath(), PosixFileAttributes.class);
      if (!found.isOther()) {
        throw new VhostPortException(
            Problem.PERMISSIONS,
            "pod "
                + spec.name()
                + ": "
                + socket
                + " is not the socket flatnet created ("
                + (found.isSymbolicLink() ? "a symlink" : "a file or directory")
                + " was put in its place); its mode was not touched",
            null);
      }
      PosixFileAttributeView view =
          Files.getFileAttributeView(pinned.procPath(), PosixFileAttributeView.class);
      if (policy.socketGroup() != null) {
        view.setGroup(lookupGroup(policy.socketGroup()));
      }
      view.setPermissions(policy.socketPermissions());
    } catch (IOException | UnsupportedOperationException e) {
      throw new VhostPortException(
          Problem.PERMISSIONS,
          "pod "
              + spec.name()
              + ": cannot set mode "
              + PosixFilePermissions.toString(policy.socketPermissions())
              + (policy.socketGroup() == null ? "" : " and group " + policy.socketGroup())
              + " on "
              + socket
              + ": "
              + e,
          e);
    }
  }
}
