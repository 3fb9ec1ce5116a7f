package io.flatnet.dataplane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.route.Ipv4Prefix;
import io.flatnet.route.Ipv6Prefix;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pods as network namespaces running Linux's own network stack, plugged into flatnet by af_packet
 * ports on veth pairs, and the node's kernel behind a TAP (the host path), in a "node" namespace:
 *
 * <pre>
 *   pod A (10.244.1.2, fd00:244:1::2) --veth-- af_packet --+
 *   pod B (10.244.1.3, fd00:244:1::3) --veth-- af_packet --+-- flatnet (gateway 10.244.1.1)
 *   node  (10.250.0.1, fd00:250::1)   --------- net_tap  --+
 * </pre>
 *
 * Both pods have a /24 (and /64): they ARP/NDP for each other directly, and flatnet's proxy answers
 * put the router in the path. Linux's ping, traceroute and tcpdump are the peers and witnesses.
 */
class PodNamespaceTest {
  private static final String SUFFIX = Long.toString(ProcessHandle.current().pid() % 100000);
  private static final String POD_A = "fnA" + SUFFIX;
  private static final String POD_B = "fnB" + SUFFIX;
  private static final String NODE = "fnN" + SUFFIX;
  private static final String VETH_A = "fva" + SUFFIX;
  private static final String VETH_B = "fvb" + SUFFIX;
  private static final String TAP = "ftap" + SUFFIX;

  @TempDir static File dir;
  private static Router router;

  @BeforeAll
  static void plugPodsIn() {
    DataplaneTestSupport.eal();
    cleanUp();
    PodNamespaces.create(POD_A, VETH_A, "10.244.1.2", "fd00:244:1::2");
    PodNamespaces.create(POD_B, VETH_B, "10.244.1.3", "fd00:244:1::3");
    Shell.must("ip", "netns", "add", NODE);

    router = Router.open(Router.Sizes.defaults(), dir);
    int gateway = Ipv4Prefix.parseAddress("10.244.1.1");
    long[] gateway6 = Ipv6Prefix.parseAddress("fd00:244:1::1");
    int portA =
        router.addPort(podPort("podA", "net_af_packet", "iface=" + VETH_A, gateway, gateway6));
    int portB =
        router.addPort(podPort("podB", "net_af_packet", "iface=" + VETH_B, gateway, gateway6));
    int host =
        router.addPort(
            new Router.PortSpec(
                "host",
                DataplaneTestSupport.unique("net_tap") + ",iface=" + TAP,
                PortTable.ROLE_HOST,
                1500,
                gateway,
                gateway6[0],
                gateway6[1]));
    node();

    router.addLocalAddress(Ipv4Prefix.parse("10.244.1.1/32"));
    router.addLocalAddress(Ipv6Prefix.parse("fd00:244:1::1/128"));
    PodNamespaces.routeToNeighbor(router, "10.244.1.2", "fd00:244:1::2", portA);
    PodNamespaces.routeToNeighbor(router, "10.244.1.3", "fd00:244:1::3", portB);
    PodNamespaces.routeToNeighbor(router, "10.250.0.1", "fd00:250::1", host);
    router.startWorker(-1, new BackoffIdleStrategy(10, 10, 1000, 100_000));
  }

  private static Router.PortSpec podPort(
      String name, String driver, String args, int gateway, long[] gateway6) {
    return new Router.PortSpec(
        name,
        DataplaneTestSupport.unique(driver) + "," + args + ",qpairs=1",
        PortTable.ROLE_POD,
        1500,
        gateway,
        gateway6[0],
        gateway6[1]);
  }

  /** The node's kernel: the TAP moves into its namespace, with the node IP and pod routes. */
  private static void node() {
    Shell.must("ip", "link", "set", TAP, "netns", NODE);
    Shell.mustIn(NODE, "ip", "link", "set", "lo", "up");
    Shell.mustIn(NODE, "ip", "link", "set", TAP, "up");
    Shell.mustIn(NODE, "ip", "addr", "add", "10.250.0.1/32", "dev", TAP);
    Shell.mustIn(NODE, "ip", "route", "add", "10.244.1.0/24", "dev", TAP);
    Shell.mustIn(NODE, "ip", "-6", "addr", "add", "fd00:250::1/128", "dev", TAP, "nodad");
    Shell.mustIn(NODE, "ip", "-6", "route", "add", "fd00:244:1::/64", "dev", TAP);
  }

  @AfterAll
  static void unplug() {
    if (router != null) {
      router.close();
    }
    cleanUp();
  }

  private static void cleanUp() {
    for (String namespace : List.of(POD_A, POD_B, NODE)) {
      Shell.run("ip", "netns", "del", namespace);
    }
    Shell.run("ip", "link", "del", VETH_A);
    Shell.run("ip", "link", "del", VETH_B);
  }

  private static String ping(String namespace, String... args) {
    String[] command = new String[args.length + 5];
    command[0] = "ping";
    command[1] = "-c";
    command[2] = "3";
    command[3] = "-W";
    command[4] = "2";
    System.arraycopy(args, 0, command, 5, args.length);
    return Shell.mustIn(namespace, command);
  }

  @Test
  void podsReachEachOtherThroughTheRouterOverIpv4AndIpv6() {
    String v4 = ping(POD_A, "-i", "0.2", "10.244.1.3");
    assertTrue(v4.contains("ttl=63"), "one router hop takes one off the TTL:\n" + v4);
    String v6 = ping(POD_A, "-6", "-i", "0.2", "fd00:244:1::3");
    assertTrue(v6.contains("ttl=63"), "one router hop takes one off the hop limit:\n" + v6);
    ping(POD_B, "-i", "0.2", "10.244.1.2");
  }

  @Test
  void podsPingTheirGateway() {
    assertTrue(ping(POD_A, "-i", "0.2", "10.244.1.1").contains("ttl=64"));
    assertTrue(ping(POD_A, "-6", "-i", "0.2", "fd00:244:1::1").contains("ttl=64"));
  }

  /** What the router held when an assertion failed: its drops and neighbour states. */
  private static String routerState() {
    StringBuilder out = new StringBuilder("\nrouter drops:");
    for (DropReason reason : DropReason.values()) {
      long n = router.counters().sum(WorkerCounters.dropLabel(0, reason));
      if (n != 0) {
        out.append(' ').append(reason.label()).append('=').append(n);
      }
    }
    out.append("\nneighbours: ").append(router.neighbors());
    return out.toString();
  }

  @Test
  void aTtlOfOneExpiresAtTheRouterAndTracerouteSeesBothHops() {
    Shell.Result expired = Shell.in(POD_A, "ping", "-c", "1", "-W", "2", "-t", "1", "10.244.1.3");
    assertTrue(
        expired.output().contains("From 10.244.1.1")
            && expired.output().contains("Time to live exceeded"),
        expired.output());
    // Both neighbours resolved first: traceroute fires 16 probes at once, and only 4 may wait for
    // an unresolved neighbour (the rest are neighbor-queue-full by design).
    ping(POD_A, "-i", "0.2", "10.244.1.3");
    String trace =
        Shell.mustIn(POD_A, "traceroute", "-I", "-n", "-q", "1", "-w", "2", "10.244.1.3");
    assertTrue(
        trace.matches("(?s).*\\n\\s*1\\s+10\\.244\\.1\\.1\\s.*"),
        "hop 1 is the router:\n" + trace + routerState());
    assertTrue(
        trace.matches("(?s).*\\n\\s*2\\s+10\\.244\\.1\\.3\\s.*"),
        "hop 2 is pod B:\n" + trace + routerState());
  }

  @Test
  void theReceivingPodSeesTheSendersOwnAddressNoNat() throws Exception {
    Process capture =
        Shell.startIn(
            POD_B,
            List.of("tcpdump", "-n", "-l", "-i", "eth0", "-c", "2", "icmp and host 10.244.1.2"));
    Thread.sleep(1500); // tcpdump needs a moment to attach
    ping(POD_A, "-i", "0.2", "10.244.1.3");
    assertTrue(capture.waitFor(10, TimeUnit.SECONDS), "tcpdump saw nothing");
    String seen = new String(capture.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(seen.contains("IP 10.244.1.2 > 10.244.1.3: ICMP echo request"), seen);
  }

  @Test
  void theNodeReachesItsPodsThroughTheHostPathAndPodsReachTheNode() {
    ping(NODE, "-i", "0.2", "10.244.1.2");
    ping(NODE, "-6", "-i", "0.2", "fd00:244:1::3");
    ping(POD_B, "-i", "0.2", "10.250.0.1");
    assertEquals(0, router.counters().sum(WorkerCounters.dropLabel(0, DropReason.BAD_IPV4_HEADER)));
  }
}
