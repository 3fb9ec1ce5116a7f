package io.flatnet.agent.ipam;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.config.IpNet;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IpamTest {

  @TempDir Path dir;

  static IpAddress ip(String s) {
    return IpAddress.parse(s);
  }

  Ipam ipam(String... cidrsThenGateways) {
    List<IpNet> ranges = new ArrayList<>();
    List<IpAddress> gws = new ArrayList<>();
    for (String s : cidrsThenGateways) {
      if (s.contains("/")) {
        ranges.add(IpNet.parse(s));
      } else {
        gws.add(ip(s));
      }
    }
    return new Ipam(dir.resolve("net1"), ranges, gws);
  }

  @Test
  void skipsNetworkGatewayAndBroadcast() throws Exception {
    Ipam ipam = ipam("10.0.0.0/29", "10.0.0.1");
    List<IpAddress> got = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      got.addAll(ipam.allocate("c" + i, "eth0"));
    }
    assertEquals(
        List.of(ip("10.0.0.2"), ip("10.0.0.3"), ip("10.0.0.4"), ip("10.0.0.5"), ip("10.0.0.6")),
        got);
    IpamException e = assertThrows(IpamException.class, () -> ipam.allocate("c9", "eth0"));
    assertEquals(IpamException.Reason.EXHAUSTED, e.reason());
    assertTrue(
        e.getMessage().startsWith("no free IPv4 address left in 10.0.0.0/29 (all allocated"),
        e.getMessage());
    assertEquals("c2\neth0\n", Files.readString(dir.resolve("net1/10.0.0.4")));
  }

  @Test
  void allocateIsIdempotentPerContainerAndInterface() throws Exception {
    Ipam ipam = ipam("10.0.0.0/24", "10.0.0.1");
    List<IpAddress> a = ipam.allocate("c1", "eth0");
    assertEquals(a, ipam.allocate("c1", "eth0"));
    assertEquals(
        a,
        new Ipam(dir.resolve("net1"), List.of(IpNet.parse("10.0.0.0/24")), List.of())
            .allocate("c1", "eth0"));
    assertFalse(a.equals(ipam.allocate("c1", "net1")));
    assertEquals(a, ipam.get("c1", "eth0"));
  }

  @Test
  void releaseIsIdempotentAndRoundRobinDoesNotReuseAtOnce() throws Exception {
    Ipam ipam = ipam("10.0.0.0/24", "10.0.0.1");
    assertEquals(List.of(ip("10.0.0.2")), ipam.allocate("c1", "eth0"));
    assertEquals(List.of(ip("10.0.0.2")), ipam.release("c1", "eth0"));
    assertEquals(List.of(), ipam.release("c1", "eth0"));
    assertEquals(List.of(), ipam.release("never-seen", null));
    assertEquals(List.of(ip("10.0.0.3")), ipam.allocate("c2", "eth0"));
    assertEquals(Set.of(ip("10.0.0.3")), ipam.allocated());
  }

  @Test
  void wrapsAroundToFreedAddresses() throws Exception {
    Ipam ipam = ipam("10.0.0.0/30", "10.0.0.1");
    assertEquals(List.of(ip("10.0.0.2")), ipam.allocate("c1", "eth0"));
    assertThrows(IpamException.class, () -> ipam.allocate("c2", "eth0"));
    ipam.release("c1", "eth0");
    assertEquals(List.of(ip("10.0.0.2")), ipam.allocate("c2", "eth0"));
  }

  @Test
  void dualStackGivesOneAddressPerFamily() throws Exception {
    Ipam ipam = ipam("10.0.0.0/24", "fd00:1::/64", "169.254.1.1", "fd00:1::1");
    assertEquals(List.of(ip("10.0.0.1"), ip("fd00:1::2")), ipam.allocate("c1", "eth0"));
    assertEquals(List.of(ip("10.0.0.2"), ip("fd00:1::3")), ipam.allocate("c2", "eth0"));
    assertTrue(Files.exists(dir.resolve("net1/fd00:1::3")));
    assertEquals(List.of(ip("10.0.0.1"), ip("fd00:1::2")), ipam.release("c1", "eth0"));
  }

  @Test
  void exhaustingOneFamilyKeepsNothing() throws Exception {
    Ipam ipam = ipam("10.0.0.0/24", "fd00:1::/126", "10.0.0.1", "fd00:1::1");
    ipam.allocate("c1", "eth0"); // fd00:1::2
    ipam.allocate("c2", "eth0"); // fd00:1::3
    IpamException e = assertThrows(IpamException.class, () -> ipam.allocate("c3", "eth0"));
    assertTrue(
        e.getMessage().contains("no free IPv6 address left in fd00:1::/126"), e.getMessage());
    assertEquals(4, ipam.allocated().size(), "the IPv4 address of the failed ADD was given back");
  }

  @Test
  void secondRangeOfAFamilyIsUsedWhenTheFirstIsFull() throws Exception {
    Ipam ipam = ipam("10.0.0.0/30", "10.0.1.0/30", "10.0.0.1", "10.0.1.1");
    assertEquals(List.of(ip("10.0.0.2")), ipam.allocate("c1", "eth0"));
    assertEquals(List.of(ip("10.0.1.2")), ipam.allocate("c2", "eth0"));
  }

  @Test
  void gcReclaimsDeadContainersAndCrashLeftovers() throws Exception {
    Ipam ipam = ipam("10.0.0.0/24", "10.0.0.1");
    ipam.allocate("live", "eth0"); // .2
    ipam.allocate("dead", "eth0"); // .3
    // A crash between creating an address file and writing it leaves it empty.
    Files.createFile(dir.resolve("net1/10.0.0.50"));
    Files.writeString(dir.resolve("net1/10.0.0.51"), "half");
    assertEquals(
        Set.of(ip("10.0.0.3"), ip("10.0.0.50"), ip("10.0.0.51")),
        new HashSet<>(ipam.gc(Set.of("live"))));
    assertEquals(Set.of(ip("10.0.0.2")), ipam.allocated());
    assertEquals(List.of(), ipam.gc(Set.of("live")));
  }

  @Test
  void aLeftoverOfACrashedAddIsReclaimedByItsDel() throws Exception {
    Ipam ipam = ipam("10.0.0.0/24", "10.0.0.1");
    ipam.allocate("c1", "eth0");
    // "crash": the plugin died after IPAM; the runtime then calls DEL.
    assertEquals(List.of(ip("10.0.0.2")), ipam.release("c1", "eth0"));
    assertEquals(Set.of(), ipam.allocated());
  }

  @Test
  void ipv6ScanIsBounded() throws Exception {
    Ipam ipam = ipam("fd00::/64", "fe80::1");
    assertEquals(List.of(ip("fd00::1")), ipam.allocate("c1", "eth0"));
  }

  @Test
  void concurrentThreadsWithTheirOwnInstancesNeverShareAnAddress() throws Exception {
    int threads = 8;
    int each = 25;
    Set<IpAddress> all = ConcurrentHashMap.newKeySet();
    List<IpAddress> list = Collections.synchronizedList(new ArrayList<>());
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> fs = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int tt = t;
      fs.add(
          pool.submit(
              () -> {
                Ipam mine = ipam("10.1.0.0/23", "10.1.0.1");
                go.await();
                for (int i = 0; i < each; i++) {
                  for (IpAddress a : mine.allocate("t" + tt + "-" + i, "eth0")) {
                    all.add(a);
                    list.add(a);
                  }
                }
                return null;
              }));
    }
    go.countDown();
    for (Future<?> f : fs) {
      f.get(60, TimeUnit.SECONDS);
    }
    pool.shutdown();
    assertEquals(threads * each, list.size());
    assertEquals(threads * each, all.size(), "an address was handed out twice");
    assertEquals(all, ipam("10.1.0.0/23").allocated());
  }

  @Test
  void concurrentProcessesNeverShareAnAddress() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String cp =
        System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    int procs = 3;
    int each = 30;
    Path store = dir.resolve("shared");
    List<Process> ps = new ArrayList<>();
    for (int p = 0; p < procs; p++) {
      ps.add(
          new ProcessBuilder(
                  java,
                  "-cp",
                  cp,
                  "-XX:TieredStopAtLevel=1",
                  IpamChild.class.getName(),
                  store.toString(),
                  "10.2.0.0/26",
                  "10.2.0.1",
                  Integer.toString(each),
                  "p" + p)
              .redirectError(ProcessBuilder.Redirect.INHERIT)
              .start());
    }
    // And this JVM competes too.
    Ipam here = new Ipam(store, List.of(IpNet.parse("10.2.0.0/26")), List.of(ip("10.2.0.1")));
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      try {
        for (IpAddress a : here.allocate("here-" + i, "eth0")) {
          lines.add("here-" + i + " " + a);
        }
      } catch (IpamException e) {
        lines.add("EXHAUSTED");
      }
    }
    for (Process p : ps) {
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child timed out");
      assertEquals(0, p.exitValue());
      lines.addAll(
          new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList());
    }
    // 64 addresses - network, broadcast, gateway = 61 for 100 requests.
    List<String> owners = lines.stream().filter(l -> !l.equals("EXHAUSTED")).toList();
    Set<String> addrs = new HashSet<>();
    for (String l : owners) {
      assertTrue(addrs.add(l.split(" ")[1]), "handed out twice: " + l);
    }
    assertEquals(61, addrs.size());
    assertEquals(100 - 61, lines.stream().filter(l -> l.equals("EXHAUSTED")).count());
    assertEquals(61, here.allocated().size());
    for (String l : owners) {
      String[] parts = l.split(" ");
      assertEquals(parts[0] + "\neth0\n", Files.readString(store.resolve(parts[1])));
    }
    assertTrue(cp.contains(File.pathSeparator) || cp.endsWith(".jar"));
  }

  @Test
  void anAddressLeftOwnerlessByACrashedAddIsTakenOverByTheNextAdd() throws Exception {
    // 10.5.0.0/29: .1 is the gateway, .2-.6 usable.
    Ipam ipam = new Ipam(dir, "net1", List.of(IpNet.parse("10.5.0.0/29")), List.of(ip("10.5.0.1")));
    for (int i = 0; i < 3; i++) {
      ipam.allocate("c" + i, "eth0"); // .2 .3 .4
    }
    // Plugins killed between O_EXCL create and write: an empty file and a half-written one.
    Files.writeString(dir.resolve("net1/10.5.0.5"), "");
    Files.writeString(dir.resolve("net1/10.5.0.6"), "c-dead");
    assertEquals(List.of(ip("10.5.0.5")), ipam.allocate("c-new", "eth0"));
    assertEquals(List.of(ip("10.5.0.6")), ipam.allocate("c-new2", "eth0"));
    assertEquals("c-new2\neth0\n", Files.readString(dir.resolve("net1/10.5.0.6")));
    // Complete owners are never taken over.
    IpamException e = assertThrows(IpamException.class, () -> ipam.allocate("c-more", "eth0"));
    assertEquals(IpamException.Reason.EXHAUSTED, e.reason());
    assertEquals(List.of(ip("10.5.0.2")), ipam.get("c0", "eth0"));
  }

  @Test
  void concurrentAddsFromTwoNetworkConfigsNeverShareAnAddress() throws Exception {
    List<IpNet> ranges = List.of(IpNet.parse("10.6.0.0/27"), IpNet.parse("fd00:6::/123"));
    List<IpAddress> gws = List.of(ip("10.6.0.1"), ip("fd00:6::1"));
    Ipam a = new Ipam(dir, "flatnet", ranges, gws);
    Ipam b = new Ipam(dir, "flatnet-vhost", ranges, gws);
    // 10.6.0.2 .. 10.6.0.30: 29 addresses for 2 x 15 containers: one must be refused.
    java.util.concurrent.ConcurrentLinkedQueue<IpAddress> got =
        new java.util.concurrent.ConcurrentLinkedQueue<>();
    java.util.concurrent.atomic.AtomicInteger exhausted =
        new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (Ipam ipam : List.of(a, b)) {
      for (int t = 0; t < 3; t++) {
        int first = t * 5;
        String net = ipam == a ? "a" : "b";
        threads.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      try {
                        go.await();
                        for (int i = first; i < first + 5; i++) {
                          try {
                            got.addAll(ipam.allocate(net + "-c" + i, "eth0"));
                          } catch (IpamException e) {
                            assertEquals(IpamException.Reason.EXHAUSTED, e.reason());
                            exhausted.incrementAndGet();
                          }
                        }
                      } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                      }
                    }));
      }
    }
    go.countDown();
    for (Thread t : threads) {
      t.join();
    }
    List<IpAddress> v4 = got.stream().filter(IpAddress::isV4).toList();
    assertEquals(29, v4.size(), got.toString());
    assertEquals(29, new java.util.HashSet<>(v4).size(), "no IPv4 address twice: " + v4);
    List<IpAddress> v6 = got.stream().filter(x -> !x.isV4()).toList();
    assertEquals(new java.util.HashSet<>(v6).size(), v6.size(), "no IPv6 address twice");
    assertEquals(1, exhausted.get());
    Set<IpAddress> both = new java.util.TreeSet<>(a.allocated());
    both.retainAll(b.allocated());
    assertEquals(Set.of(), both);
  }

  @Test
  void gcOfTheNodeFreesGoneContainersButNotFreshAllocations() throws Exception {
    Ipam a = new Ipam(dir, "net-a", List.of(IpNet.parse("10.7.0.0/24")), List.of());
    Ipam b = new Ipam(dir, "net-b", List.of(IpNet.parse("10.7.0.0/24")), List.of());
    IpAddress live = a.allocate("live", "eth0").get(0);
    IpAddress gone = a.allocate("gone", "eth0").get(0);
    IpAddress goneB = b.allocate("gone-too", "eth0").get(0);
    IpAddress inFlight = b.allocate("adding-now", "eth0").get(0);
    java.nio.file.attribute.FileTime hourAgo =
        java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 3_600_000);
    for (Path f :
        List.of(
            dir.resolve("net-a/" + live),
            dir.resolve("net-a/" + gone),
            dir.resolve("net-b/" + goneB))) {
      Files.setLastModifiedTime(f, hourAgo);
    }
    Map<String, List<IpAddress>> freed =
        Ipam.gcAll(dir, Set.of("live"), java.time.Duration.ofMinutes(10));
    assertEquals(Map.of("net-a", List.of(gone), "net-b", List.of(goneB)), freed);
    assertEquals(Set.of(live), a.allocated());
    assertEquals(Set.of(inFlight), b.allocated(), "an ADD in flight keeps its address");
    assertEquals(Map.of(), Ipam.gcAll(dir.resolve("missing"), Set.of(), java.time.Duration.ZERO));
  }
}
