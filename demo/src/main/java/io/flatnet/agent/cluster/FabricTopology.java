package io.flatnet.agent.cluster;

import io.flatnet.agent.process.NodeProcesses;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The fabric demo's model: the ToRs with their FRR, the nodes with their uplinks and pods, and the
 * BGP sessions between them. {@link FabricDemo} builds it, checks it and tears it down.
 */
final class FabricTopology {
  private FabricTopology() {}

  record Session(String address, String peer) {}

  /** FRR's zebra and bgpd in a namespace, each namespace its own pathspace ({@code -N}). */
  static final class Frr {
    static final String BIN = "/usr/lib/frr";
    static final String RUN = "/var/run/frr";

    private Frr() {}

    /**
     * Starts zebra (with FPM towards 127.0.0.1 if asked) and bgpd in {@code ns}, as the frr user
     * (FRR's vty group is frrvty, which root is not in), configs and logs in {@code confDir}.
     */
    static void start(String ns, Path confDir, String zebra, String bgpd, boolean fpm)
        throws IOException {
      Files.createDirectories(confDir);
      Files.writeString(confDir.resolve("zebra.conf"), zebra);
      Files.writeString(confDir.resolve("bgpd.conf"), bgpd);
      Path run = Path.of(RUN, ns);
      Files.createDirectories(run);
      Sh.must("chown", "-R", "frr:frr", run.toString(), confDir.toString());
      List<String> z =
          new ArrayList<>(
              List.of(
                  BIN + "/zebra",
                  "-d",
                  "-N",
                  ns,
                  "-u",
                  "frr",
                  "-g",
                  "frr",
                  "-f",
                  confDir.resolve("zebra.conf").toString(),
                  "-i",
                  run.resolve("zebra.pid").toString(),
                  "--log",
                  "file:" + confDir.resolve("zebra.log")));
      if (fpm) {
        z.addAll(List.of("-M", "dplane_fpm_nl"));
      }
      Sh.mustIn(ns, z.toArray(String[]::new));
      Sh.mustIn(
          ns,
          BIN + "/bgpd",
          "-d",
          "-N",
          ns,
          "-u",
          "frr",
          "-g",
          "frr",
          "-f",
          confDir.resolve("bgpd.conf").toString(),
          "-i",
          run.resolve("bgpd.pid").toString(),
          "--log",
          "file:" + confDir.resolve("bgpd.log"));
    }

    static String vtysh(String ns, String command) {
      return Sh.run("vtysh", "-N", ns, "-c", command).output();
    }
  }

  /** A top-of-rack router: a namespace with a bridge for its rack, FRR in AS 65001. */
  static final class Tor {
    final String name;
    final String ns;
    final int rack;
    final String v4;
    final String v6;
    final String linkV4;
    final String linkV6;

    Tor(String name, int rack, String linkV4, String linkV6) {
      this.name = name;
      this.ns = "fab-" + name;
      this.rack = rack;
      this.v4 = "10.250." + rack + ".1";
      this.v6 = "fd00:250:" + rack + "::1";
      this.linkV4 = linkV4;
      this.linkV6 = linkV6;
    }

    void create() {
      Sh.must("ip", "netns", "add", ns);
      Sh.mustIn(ns, "ip", "link", "set", "lo", "up");
      Sh.mustIn(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1");
      Sh.mustIn(ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1");
      // A link set down keeps its IPv6 addresses (Linux drops them by default), as a switch port
      // does: node1's link to ToR B comes back with its address after the failover.
      Sh.mustIn(ns, "sysctl", "-qw", "net.ipv6.conf.all.keep_addr_on_down=1");
      Sh.mustIn(ns, "sysctl", "-qw", "net.ipv6.conf.default.keep_addr_on_down=1");
      Sh.mustIn(ns, "ip", "link", "add", "br0", "type", "bridge");
      // The ToR's own packets (BGP) leave with a full checksum: flatnet's af_packet port on the
      // other end of the veth gets them as they are.
      Sh.mustIn(ns, "ethtool", "-K", "br0", "tx", "off");
      Sh.mustIn(ns, "ip", "addr", "add", v4 + "/24", "dev", "br0");
      Sh.mustIn(ns, "ip", "addr", "add", v6 + "/64", "dev", "br0", "nodad");
      Sh.mustIn(ns, "ip", "link", "set", "br0", "up");
    }

    List<Session> sessions(FabricDemo demo) {
      List<Session> sessions = new ArrayList<>();
      for (FabNode node : demo.nodesOn(this)) {
        for (Uplink u : node.uplinks) {
          if (u.tor == this) {
            String peer = node.name + ", AS " + node.asn;
            sessions.add(new Session(u.v4, peer));
            sessions.add(new Session(u.v6, peer));
          }
        }
      }
      Tor other = demo.other(this);
      sessions.add(new Session(other.linkV4, other.name + ", iBGP"));
      sessions.add(new Session(other.linkV6, other.name + ", iBGP"));
      return sessions;
    }

    boolean established(String address) {
      return state(address).equals("Established");
    }

    private static final Pattern STATE = Pattern.compile("BGP state = (\\w+)");

    String state(String address) {
      Matcher m = STATE.matcher(Frr.vtysh(ns, "show bgp neighbors " + address));
      return m.find() ? m.group(1) : "unknown";
    }

    void startFrr(FabricDemo demo) throws IOException {
      StringBuilder bgp = new StringBuilder();
      bgp.append("hostname ").append(name).append('\n');
      bgp.append("router bgp ").append(FabricDemo.TOR_ASN).append('\n');
      bgp.append(" bgp router-id ").append(v4).append('\n');
      bgp.append(" no bgp ebgp-requires-policy\n");
      bgp.append(" no bgp default ipv4-unicast\n");
      bgp.append(" timers bgp 1 3\n");
      List<Session> sessions = sessions(demo);
      for (FabNode node : demo.nodesOn(this)) {
        for (Uplink u : node.uplinks) {
          if (u.tor == this) {
            for (String a : List.of(u.v4, u.v6)) {
              bgp.append(" neighbor ").append(a).append(" remote-as ").append(node.asn);
              bgp.append('\n');
              bgp.append(" neighbor ").append(a).append(" description ").append(node.name);
              bgp.append('\n');
              // The node's own packets cross flatnet (its host port, then its uplink), which
              // counts as a hop: eBGP's TTL of 1 would not make it.
              bgp.append(" neighbor ").append(a).append(" ebgp-multihop 2\n");
              // The node opens its sessions, as to a ToR that listens for a range of nodes
              // (bgp listen range): when the ToR opened them after a link came back, FRR 8.4 on
              // the node kept tracking the ToR's address as a connected next hop, which it is not
              // (the node's kernel has only /32s), and the path through it stayed invalid.
              bgp.append(" neighbor ").append(a).append(" passive\n");
            }
          }
        }
      }
      Tor other = demo.other(this);
      for (String a : List.of(other.linkV4, other.linkV6)) {
        bgp.append(" neighbor ")
            .append(a)
            .append(" remote-as ")
            .append(FabricDemo.TOR_ASN)
            .append('\n');
        bgp.append(" neighbor ").append(a).append(" timers connect 1\n");
      }
      for (String family : List.of("ipv4", "ipv6")) {
        bgp.append(" address-family ").append(family).append(" unicast\n");
        bgp.append("  maximum-paths 8\n  maximum-paths ibgp 8\n");
        for (Session s : sessions) {
          if (s.address.contains(":") == family.equals("ipv6")) {
            bgp.append("  neighbor ").append(s.address).append(" activate\n");
          }
        }
        String ibgp = family.equals("ipv6") ? other.linkV6 : other.linkV4;
        bgp.append("  neighbor ").append(ibgp).append(" next-hop-self\n");
        bgp.append(" exit-address-family\n");
      }
      Frr.start(ns, demo.dir.resolve(name), "hostname " + name + "\n", bgp.toString(), false);
    }
  }

  /** One of a node's uplinks: a veth from the node's namespace to its ToR. */
  record Uplink(
      String port,
      String iface,
      Tor tor,
      String torIface,
      boolean bridged,
      String v4,
      int len4,
      String v6,
      String torV4,
      String torV6) {}

  /** A pod: a network namespace whose eth0 is a veth; the node's router opens the other end. */
  record Pod(String name, String ns, String hostIface, String v4, String v6) {}

  /**
   * A node: its kernel (BGP, the TAP's kernel end), its uplinks' veth ends, its pod's host end and
   * its flatnet processes, all in one namespace, as on a real node where they share the host's.
   */
  static final class FabNode {
    final int index;
    final int rack;
    final String name;
    final String ns;
    final long asn;
    final String tap;
    final String podV4Cidr;
    final String podV6Cidr;
    final Pod pod;
    final List<Uplink> uplinks = new ArrayList<>();
    final Path config;
    final Path runDir;
    Process router;

    FabNode(int index, Tor tor, Path dir) {
      this.index = index;
      this.rack = tor.rack;
      this.name = "node" + index;
      this.ns = "fab-n" + index;
      this.asn = 65010 + index;
      this.tap = "fabt" + index;
      this.podV4Cidr = "10.244." + index + ".0/24";
      this.podV6Cidr = "fd00:244:" + index + "::/64";
      this.pod =
          new Pod(
              "pod" + index,
              "fab-p" + index,
              "fabp" + index,
              "10.244." + index + ".2",
              "fd00:244:" + index + "::2");
      this.config = dir.resolve(name + ".yaml");
      this.runDir = dir.resolve(name);
      uplinks.add(
          new Uplink(
              tor.name,
              "upa",
              tor,
              "n" + index,
              true,
              "10.250." + tor.rack + ".1" + index,
              24,
              "fd00:250:" + tor.rack + "::1" + index,
              tor.v4,
              tor.v6));
    }

    /**
     * The node's kernel must leave the af_packet interfaces to flatnet: no IPv6 on them, and an nft
     * ingress chain that drops everything (af_packet sees frames before that hook), or the kernel,
     * which owns the node's addresses and forwards, would answer and forward copies.
     */
    private void leaveToFlatnet(String iface) {
      Sh.mustIn(ns, "sysctl", "-qw", "net.ipv6.conf." + iface + ".disable_ipv6=1");
      Sh.mustIn(
          ns,
          "nft",
          "add chain netdev fabric in-"
              + iface
              + " { type filter hook ingress device "
              + iface
              + " priority 0 ; policy drop ; }");
      Sh.mustIn(ns, "ip", "link", "set", iface, "up");
    }

    void create() {
      Sh.must("ip", "netns", "add", ns);
      Sh.mustIn(ns, "ip", "link", "set", "lo", "up");
      Sh.mustIn(ns, "sysctl", "-qw", "net.ipv4.conf.all.send_redirects=0");
      Sh.mustIn(ns, "nft", "add table netdev fabric");
      for (Uplink u : uplinks) {
        Sh.must(
            "ip",
            "link",
            "add",
            u.iface,
            "netns",
            ns,
            "type",
            "veth",
            "peer",
            "name",
            u.torIface,
            "netns",
            u.tor.ns);
        Sh.mustIn(u.tor.ns, "ethtool", "-K", u.torIface, "tx", "off");
        if (u.bridged) {
          Sh.mustIn(u.tor.ns, "ip", "link", "set", u.torIface, "master", "br0", "up");
        } else {
          Sh.mustIn(u.tor.ns, "ip", "addr", "add", u.torV4 + "/" + u.len4, "dev", u.torIface);
          Sh.mustIn(u.tor.ns, "ip", "addr", "add", u.torV6 + "/64", "dev", u.torIface, "nodad");
          Sh.mustIn(u.tor.ns, "ip", "link", "set", u.torIface, "up");
        }
        leaveToFlatnet(u.iface);
      }
      Sh.must("ip", "netns", "add", pod.ns);
      Sh.must(
          "ip",
          "link",
          "add",
          pod.hostIface,
          "netns",
          ns,
          "type",
          "veth",
          "peer",
          "name",
          "eth0",
          "netns",
          pod.ns);
      leaveToFlatnet(pod.hostIface);
      Sh.mustIn(pod.ns, "ip", "link", "set", "lo", "up");
      Sh.mustIn(pod.ns, "ip", "link", "set", "eth0", "up");
      Sh.mustIn(pod.ns, "ethtool", "-K", "eth0", "tx", "off");
      Sh.mustIn(pod.ns, "ip", "addr", "add", pod.v4 + "/32", "dev", "eth0");
      Sh.mustIn(pod.ns, "ip", "route", "add", "169.254.1.1", "dev", "eth0");
      Sh.mustIn(pod.ns, "ip", "route", "add", "default", "via", "169.254.1.1", "dev", "eth0");
      Sh.mustIn(pod.ns, "ip", "-6", "addr", "add", pod.v6 + "/128", "dev", "eth0", "nodad");
      Sh.mustIn(pod.ns, "ip", "-6", "route", "add", "default", "via", "fe80::1", "dev", "eth0");
    }

    void writeConfig(FabricDemo demo) throws IOException {
      StringBuilder y = new StringBuilder();
      y.append("node:\n  name: ").append(name).append('\n');
      y.append("  podCIDRs: [").append(podV4Cidr).append(", \"").append(podV6Cidr);
      y.append("\"]\n");
      y.append("  gateways: [169.254.1.1, \"fe80::1\"]\n");
      y.append("ports:\n");
      int afPacket = 0;
      for (Uplink u : uplinks) {
        y.append("  - name: ").append(u.port).append('\n');
        y.append("    device: net_af_packet").append(afPacket++).append(",iface=");
        y.append(u.iface).append('\n');
        y.append("    role: uplink\n    addresses: [").append(u.v4).append('/').append(u.len4);
        y.append(", \"").append(u.v6).append("/64\"]\n");
      }
      y.append("  - name: host\n    device: net_tap0,iface=").append(tap).append('\n');
      y.append("    role: host\n    addresses: [169.254.200.1/30]\n");
      // The node's addresses live on the TAP's kernel end, in this same namespace: FRR's
      // sessions start there and cross flatnet.
      y.append("    kernel: {configure: true}\n");
      y.append("pods:\n");
      y.append("  - name: default/").append(pod.name).append("\n    kind: af_packet\n");
      y.append("    interface: ").append(pod.hostIface).append('\n');
      y.append("    ips: [").append(pod.v4).append(", \"").append(pod.v6).append("\"]\n");
      // No route to the ToRs: the bgp section routes each neighbour's address via itself
      // (origin bgp-neighbor), so the sessions come up before BGP has taught anything.
      if (demo.staticRoutes) {
        y.append("routes:\n");
        Uplink first = uplinks.get(0);
        for (FabNode other : demo.nodes) {
          if (other != this) {
            y.append("  - {prefix: ").append(other.podV4Cidr).append(", via: ");
            y.append(first.torV4).append(", port: ").append(first.port).append("}\n");
            y.append("  - {prefix: \"").append(other.podV6Cidr).append("\", via: \"");
            y.append(first.torV6).append("\", port: ").append(first.port).append("}\n");
          }
        }
      }
      y.append("bgp:\n  asn: ").append(asn).append('\n');
      y.append("  routerId: ").append(uplinks.get(0).v4).append('\n');
      y.append("  keepalive: 1\n  hold: 3\n  neighbors:\n");
      for (Uplink u : uplinks) {
        for (String a : List.of(u.torV4, u.torV6)) {
          y.append("    - {address: \"").append(a).append("\", asn: ").append(FabricDemo.TOR_ASN);
          y.append(", description: ").append(u.tor.name).append("}\n");
        }
      }
      if (demo.frrByDemo) {
        y.append("  frr: {manage: false}\n");
      }
      int cpus = Runtime.getRuntime().availableProcessors();
      y.append("workers:\n  cpus: [").append(cpus - 1).append("]\n  idle: backoff\n");
      Files.writeString(config, y.toString());
    }

    /** What flatnet's agent would run with {@code bgp.frr.manage}: zebra and bgpd. */
    void startOwnFrr(FabricDemo demo) throws IOException {
      StringBuilder zebra = new StringBuilder("hostname " + name + "\n");
      // The kernel's only routes are the defaults into flatnet's TAP.
      zebra.append("ip nht resolve-via-default\nipv6 nht resolve-via-default\n");
      if (!demo.staticRoutes) {
        zebra.append("fpm address 127.0.0.1 port 2620\nno fpm use-next-hop-groups\n");
      }
      StringBuilder bgp = new StringBuilder();
      bgp.append("hostname ").append(name).append('\n');
      bgp.append("router bgp ").append(asn).append('\n');
      bgp.append(" bgp router-id ").append(uplinks.get(0).v4).append('\n');
      bgp.append(" no bgp ebgp-requires-policy\n no bgp network import-check\n");
      bgp.append(" no bgp default ipv4-unicast\n timers bgp 1 3\n");
      bgp.append(" bgp bestpath as-path multipath-relax\n");
      for (Uplink u : uplinks) {
        for (String[] pair : List.of(new String[] {u.torV4, u.v4}, new String[] {u.torV6, u.v6})) {
          String a = pair[0];
          bgp.append(" neighbor ")
              .append(a)
              .append(" remote-as ")
              .append(FabricDemo.TOR_ASN)
              .append('\n');
          bgp.append(" neighbor ").append(a).append(" ebgp-multihop 2\n");
          bgp.append(" neighbor ").append(a).append(" update-source ").append(pair[1]);
          bgp.append('\n');
          bgp.append(" neighbor ").append(a).append(" timers connect 1\n");
        }
      }
      for (String family : List.of("ipv4", "ipv6")) {
        boolean v6 = family.equals("ipv6");
        bgp.append(" address-family ").append(family).append(" unicast\n");
        bgp.append("  network ").append(v6 ? podV6Cidr : podV4Cidr).append('\n');
        bgp.append("  maximum-paths 8\n");
        for (Uplink u : uplinks) {
          bgp.append("  neighbor ").append(v6 ? u.torV6 : u.torV4).append(" activate\n");
          if (v6) {
            bgp.append("  neighbor ").append(u.torV6).append(" route-map global-next-hop in\n");
          }
        }
        bgp.append(" exit-address-family\n");
      }
      // The ToR's link-local next hop is on its bridge, which flatnet's TAP is not: use its
      // global address (flatnet resolves it on the uplink).
      bgp.append("route-map global-next-hop permit 10\n set ipv6 next-hop prefer-global\n");
      Frr.start(ns, runDir.resolve("frr"), zebra.toString(), bgp.toString(), !demo.staticRoutes);
    }

    void start() throws IOException {
      Files.createDirectories(runDir);
      router = ClusterDemo.startNode(ns, config, runDir);
    }

    String log() throws IOException {
      Path log = runDir.resolve("router.log");
      return Files.exists(log) ? Files.readString(log) : "";
    }

    void awaitReady() throws Exception {
      long deadline = System.nanoTime() + 90_000_000_000L;
      while (System.nanoTime() < deadline) {
        if (!router.isAlive()) {
          throw new IllegalStateException(name + "'s router exited:\n" + log());
        }
        String log = log();
        if (log.contains("CNI socket") && log.contains(ClusterDemo.Node.KERNEL_END)) {
          return;
        }
        Thread.sleep(100);
      }
      throw new IllegalStateException(name + "'s router did not start in 90 s:\n" + log());
    }

    void stop() {
      if (router != null) {
        try {
          NodeProcesses.stopSupervisor(
              router, runDir.resolve("router.log"), Duration.ofSeconds(10));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        router = null;
      }
    }
  }
}
