package io.flatnet.agent.ipam;

import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.config.IpNet;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Pod address allocation from the node's pod CIDRs, persistent on disk in the layout of the CNI
 * host-local IPAM plugin.
 *
 * <p>Under {@code dir} (e.g. {@code /var/lib/flatnet/ipam/<network>/}):
 *
 * <ul>
 *   <li>one file per allocated address, named by the address ({@code 10.244.1.5}, {@code
 *       fd00:244:1::5}), holding the container ID and interface name on two lines. It is created
 *       with {@code O_CREAT|O_EXCL} ({@link StandardOpenOption#CREATE_NEW}), so two processes can
 *       never both own an address;
 *   <li>{@code lock} (beside the networks' stores when the store is one of the node's, so that
 *       networks sharing the pod CIDRs never hand out one address twice): held ({@link
 *       FileChannel#lock()}, plus an in-JVM lock, since one JVM cannot hold two locks on one file)
 *       around every scan, so allocations from several processes serialise;
 *   <li>{@code last_reserved_ip.<i>}: the last address handed out from range {@code i}; the next
 *       allocation starts after it (round robin, so a freed address is not reused at once).
 * </ul>
 *
 * An allocation takes one address per family that has a range (dual-stack: one IPv4 and one IPv6),
 * skipping the network address, the IPv4 broadcast address and the reserved addresses (gateways).
 * Allocating again for the same container and interface returns what it already has. A crash
 * mid-allocation leaves at most an address file (possibly empty) that the next allocation that
 * reaches it takes over, and {@link #release} or {@link #gc} reclaims.
 */
public final class Ipam {

  /** Largest number of candidates tried per range (an IPv6 /64 is never scanned whole). */
  static final long MAX_SCAN = 1 << 16;

  private static final Map<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();

  private final Path dir;

  /** The directory of every network's store on this node, or null for a store on its own. */
  private final Path nodeRoot;

  private final List<IpNet> ranges;
  private final Set<IpAddress> reserved;

  /**
   * A store on its own: its addresses are not checked against other networks.
   *
   * @param dir the store of one network (created if missing)
   * @param ranges the pod CIDRs to allocate from, in order of preference
   * @param reserved addresses never allocated (the gateways)
   */
  public Ipam(Path dir, List<IpNet> ranges, Collection<IpAddress> reserved) {
    this.dir = dir.toAbsolutePath().normalize();
    this.nodeRoot = null;
    this.ranges = List.copyOf(ranges);
    this.reserved = Set.copyOf(reserved);
  }

  /**
   * The store of {@code network} under {@code root}, one of the node's networks. Every network
   * allocates from the same node pod CIDRs, so an address is free only if no network's store has
   * it, and all of them share one lock ({@code root/lock}).
   */
  public Ipam(Path root, String network, List<IpNet> ranges, Collection<IpAddress> reserved) {
    this.nodeRoot = root.toAbsolutePath().normalize();
    this.dir = nodeRoot.resolve(network).normalize();
    if (!nodeRoot.equals(dir.getParent())) {
      throw new IllegalArgumentException("bad network name for an IPAM store: " + network);
    }
    this.ranges = List.copyOf(ranges);
    this.reserved = Set.copyOf(reserved);
  }

  public Path dir() {
    return dir;
  }

  /**
   * One address per family for {@code containerId}/{@code ifname}: the ones it already has, else
   * new ones. IPv4 first.
   *
   * @throws IpamException EXHAUSTED if a family has no free address (nothing is kept then), IO if
   *     the store fails
   */
  public List<IpAddress> allocate(String containerId, String ifname) throws IpamException {
    checkOwner(containerId, ifname);
    try (Locked _ = lock()) {
      List<IpAddress> have = find(containerId, ifname);
      List<IpAddress> got = new ArrayList<>(have);
      try {
        for (int family : new int[] {4, 6}) {
          if (have.stream().anyMatch(a -> a.family() == family)) {
            continue;
          }
          boolean any = false;
          IpAddress a = null;
          for (int i = 0; i < ranges.size() && a == null; i++) {
            if (ranges.get(i).family() == family) {
              any = true;
              a = allocateFrom(i, containerId, ifname);
            }
          }
          if (!any) {
            continue;
          }
          if (a == null) {
            throw new IpamException(IpamException.Reason.EXHAUSTED, exhausted(family), null);
          }
          got.add(a);
        }
      } catch (IpamException | IOException | RuntimeException e) {
        for (IpAddress a : got) {
          if (!have.contains(a)) {
            Files.deleteIfExists(file(a));
          }
        }
        if (e instanceof IpamException ie) {
          throw ie;
        }
        throw e;
      }
      return got;
    } catch (IOException e) {
      throw new IpamException(IpamException.Reason.IO, "IPAM store " + dir + ": " + e, e);
    }
  }

  private String exhausted(int family) {
    List<String> rs = new ArrayList<>();
    for (IpNet r : ranges) {
      if (r.family() == family) {
        rs.add(r.toString());
      }
    }
    return "no free IPv"
        + family
        + " address left in "
        + String.join(", ", rs)
        + " (all allocated; see "
        + dir
        + ")";
  }

  /** Tries the addresses of range {@code i} after its last reserved one; null if all are taken. */
  private IpAddress allocateFrom(int i, String containerId, String ifname) throws IOException {
    IpNet range = ranges.get(i);
    IpAddress first = firstUsable(range);
    IpAddress last = lastUsable(range);
    if (first == null || first.compareTo(last) > 0) {
      return null;
    }
    Path cursorFile = dir.resolve("last_reserved_ip." + i);
    IpAddress start = first;
    try {
      IpAddress c = IpAddress.parse(Files.readString(cursorFile).trim());
      if (range.contains(c) && c.compareTo(last) < 0 && c.compareTo(first) >= 0) {
        start = c.plus(1);
      }
    } catch (NoSuchFileException e) {
      // start at the beginning
    } catch (IOException | IllegalArgumentException e) {
      // a damaged cursor only costs round robin
    }
    List<Path> others = otherNetworks();
    IpAddress candidate = start;
    for (long tried = 0; tried < Math.min(range.size(), MAX_SCAN); tried++) {
      if (!reserved.contains(candidate)
          && !heldByAnotherNetwork(others, candidate)
          && (claim(candidate, containerId, ifname)
              || reclaimAbandoned(candidate, containerId, ifname))) {
        Path tmp = cursorFile.resolveSibling(cursorFile.getFileName() + ".tmp");
        Files.writeString(tmp, candidate.toString());
        Files.move(
            tmp, cursorFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return candidate;
      }
      candidate = candidate.equals(last) ? first : candidate.plus(1);
    }
    return null;
  }

  private static IpAddress firstUsable(IpNet r) {
    boolean skipNetwork = r.family() == 6 ? r.length() < 127 : r.length() < 31;
    return skipNetwork ? r.network().plus(1) : r.network();
  }

  private static IpAddress lastUsable(IpNet r) {
    boolean skipBroadcast = r.family() == 4 && r.length() < 31;
    IpAddress last = r.last();
    return skipBroadcast ? IpAddress.v4(last.v4Int() - 1) : last;
  }

  /** The other networks' stores on this node (none for a store on its own). */
  private List<Path> otherNetworks() throws IOException {
    List<Path> others = new ArrayList<>();
    if (nodeRoot != null) {
      try (DirectoryStream<Path> networks =
          Files.newDirectoryStream(nodeRoot, Files::isDirectory)) {
        for (Path other : networks) {
          if (!other.equals(dir)) {
            others.add(other);
          }
        }
      }
    }
    return others;
  }

  /** Whether one of {@code others} holds {@code a} (complete or not). */
  private static boolean heldByAnotherNetwork(List<Path> others, IpAddress a) {
    for (Path other : others) {
      if (Files.exists(other.resolve(a.toString()))) {
        return true;
      }
    }
    return false;
  }

  /**
   * Takes over {@code a}'s file if it has no complete owner. Safe because every file is created and
   * written under the store's lock, which we hold: an ownerless file now is one whose writer died
   * between creating and writing it (a plugin killed mid-ADD), not one being written.
   */
  private boolean reclaimAbandoned(IpAddress a, String containerId, String ifname)
      throws IOException {
    Path f = file(a);
    String text;
    try {
      text = Files.readString(f);
    } catch (NoSuchFileException e) {
      return claim(a, containerId, ifname);
    }
    if (owner(text) != null) {
      return false;
    }
    System.getLogger(Ipam.class.getName())
        .log(
            System.Logger.Level.WARNING,
            "IPAM " + dir + ": reclaiming " + a + ", left without an owner by a crashed ADD");
    Files.delete(f);
    return claim(a, containerId, ifname);
  }

  /** {containerId, ifname} of an address file's text, or null if it is not complete. */
  private static String[] owner(String text) {
    String[] lines = text.split("\n", -1);
    boolean complete = lines.length >= 2 && !lines[0].isBlank() && text.endsWith("\n");
    return complete ? new String[] {lines[0].trim(), lines[1].trim()} : null;
  }

  /** Creates the address file with O_CREAT|O_EXCL; false if it exists. */
  private boolean claim(IpAddress a, String containerId, String ifname) throws IOException {
    Path f = file(a);
    try (FileChannel ch =
        FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ch.write(
          ByteBuffer.wrap((containerId + "\n" + ifname + "\n").getBytes(StandardCharsets.UTF_8)));
      ch.force(true);
      return true;
    } catch (FileAlreadyExistsException e) {
      return false;
    }
  }

  /**
   * The addresses held by {@code containerId}/{@code ifname}.
   *
   * @throws IpamException IO if the store cannot be read
   */
  public List<IpAddress> get(String containerId, String ifname) throws IpamException {
    try (Locked _ = lock()) {
      return find(containerId, ifname);
    } catch (IOException e) {
      throw new IpamException(IpamException.Reason.IO, "IPAM store " + dir + ": " + e, e);
    }
  }

  /**
   * Frees what {@code containerId} holds on {@code ifname} (every interface if null). Freeing
   * nothing is fine: a repeated DEL succeeds.
   *
   * @return the addresses freed
   */
  public List<IpAddress> release(String containerId, String ifname) throws IpamException {
    try (Locked _ = lock()) {
      List<IpAddress> freed = new ArrayList<>();
      for (Map.Entry<IpAddress, String[]> e : entries().entrySet()) {
        String[] owner = e.getValue();
        if (owner != null
            && owner[0].equals(containerId)
            && (ifname == null || owner[1].equals(ifname))) {
          Files.deleteIfExists(file(e.getKey()));
          freed.add(e.getKey());
        }
      }
      return freed;
    } catch (IOException e) {
      throw new IpamException(IpamException.Reason.IO, "IPAM store " + dir + ": " + e, e);
    }
  }

  /**
   * Frees every address whose container is not in {@code liveContainerIds}, and every address file
   * without an owner (left by a crash between creating and writing it).
   *
   * @return the addresses freed
   */
  public List<IpAddress> gc(Set<String> liveContainerIds) throws IpamException {
    return gc(liveContainerIds, Duration.ZERO);
  }

  /**
   * Like {@link #gc(Set)}, but keeps address files younger than {@code minAge}: an ADD allocates
   * before the pod is known anywhere else, so a fresh address of an unknown container is in flight,
   * not leaked.
   */
  public List<IpAddress> gc(Set<String> liveContainerIds, Duration minAge) throws IpamException {
    try (Locked _ = lock()) {
      List<IpAddress> freed = new ArrayList<>();
      long newest = System.currentTimeMillis() - minAge.toMillis();
      for (Map.Entry<IpAddress, String[]> e : entries().entrySet()) {
        String[] owner = e.getValue();
        if (owner == null || !liveContainerIds.contains(owner[0])) {
          Path f = file(e.getKey());
          try {
            if (!minAge.isZero() && Files.getLastModifiedTime(f).toMillis() > newest) {
              continue;
            }
          } catch (NoSuchFileException gone) {
            continue;
          }
          Files.deleteIfExists(f);
          freed.add(e.getKey());
        }
      }
      return freed;
    } catch (IOException e) {
      throw new IpamException(IpamException.Reason.IO, "IPAM store " + dir + ": " + e, e);
    }
  }

  /**
   * {@link #gc(Set, Duration)} of every network's store under {@code root} (a missing root has
   * none).
   *
   * @return the freed addresses by network, only networks that freed any
   */
  public static Map<String, List<IpAddress>> gcAll(
      Path root, Set<String> liveContainerIds, Duration minAge) throws IpamException {
    Map<String, List<IpAddress>> freed = new java.util.TreeMap<>();
    if (!Files.isDirectory(root)) {
      return freed;
    }
    List<String> networks = new ArrayList<>();
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(root, Files::isDirectory)) {
      dirs.forEach(d -> networks.add(d.getFileName().toString()));
    } catch (IOException e) {
      throw new IpamException(IpamException.Reason.IO, "IPAM store " + root + ": " + e, e);
    }
    for (String network : networks) {
      List<IpAddress> f =
          new Ipam(root, network, List.of(), List.of()).gc(liveContainerIds, minAge);
      if (!f.isEmpty()) {
        freed.put(network, f);
      }
    }
    return freed;
  }

  /** Every allocated address (for tests and diagnostics). */
  public Set<IpAddress> allocated() throws IpamException {
    try (Locked _ = lock()) {
      return new TreeSet<>(entries().keySet());
    } catch (IOException e) {
      throw new IpamException(IpamException.Reason.IO, "IPAM store " + dir + ": " + e, e);
    }
  }

  private List<IpAddress> find(String containerId, String ifname) throws IOException {
    List<IpAddress> out = new ArrayList<>();
    for (Map.Entry<IpAddress, String[]> e : entries().entrySet()) {
      String[] owner = e.getValue();
      if (owner != null && owner[0].equals(containerId) && owner[1].equals(ifname)) {
        out.add(e.getKey());
      }
    }
    return out;
  }

  /** Address files -> {containerId, ifname}, or null for a file without a complete owner. */
  private Map<IpAddress, String[]> entries() throws IOException {
    Map<IpAddress, String[]> m = new java.util.TreeMap<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path f : files) {
        IpAddress a;
        try {
          a = IpAddress.parse(f.getFileName().toString());
        } catch (IllegalArgumentException e) {
          continue; // lock, cursors, temporary files
        }
        String text;
        try {
          text = Files.readString(f);
        } catch (NoSuchFileException e) {
          continue;
        }
        m.put(a, owner(text));
      }
    }
    return m;
  }

  private Path file(IpAddress a) {
    return dir.resolve(a.toString());
  }

  private static void checkOwner(String containerId, String ifname) {
    if (containerId == null || containerId.isBlank() || containerId.contains("\n")) {
      throw new IllegalArgumentException("bad container ID: " + containerId);
    }
    if (ifname == null || ifname.isBlank() || ifname.contains("\n")) {
      throw new IllegalArgumentException("bad interface name: " + ifname);
    }
  }

  /** The in-JVM lock and the file lock, released together. */
  private final class Locked implements AutoCloseable {
    private final ReentrantLock jvmLock;
    private final FileChannel channel;
    private final FileLock fileLock;

    Locked() throws IOException {
      Files.createDirectories(dir);
      Path lockFile = (nodeRoot == null ? dir : nodeRoot).resolve("lock");
      jvmLock = JVM_LOCKS.computeIfAbsent(lockFile, p -> new ReentrantLock());
      jvmLock.lock();
      try {
        channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
          fileLock = channel.lock();
        } catch (IOException | RuntimeException e) {
          channel.close();
          throw e;
        }
      } catch (IOException | RuntimeException e) {
        jvmLock.unlock();
        throw e;
      }
    }

    @Override
    public void close() throws IOException {
      try {
        fileLock.release();
        channel.close();
      } finally {
        jvmLock.unlock();
      }
    }
  }

  private Locked lock() throws IOException {
    return new Locked();
  }
}
