package io.flatnet.agent.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.config.MacAddress;
import io.flatnet.control.PodKinds;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The shared pod segment of a node: a Linux bridge {@value #BRIDGE} that every netns pod's host
 * veth end joins as an <em>isolated</em> port (pods cannot reach each other around the router), and
 * one veth pair {@value #ROUTER_END} / {@value #BRIDGE_END} whose bridge end is the only
 * non-isolated port. The router attaches ONE af_packet DPDK port ({@value #PORT_NAME}) to {@value
 * #ROUTER_END}, so a node holds as many netns pods as its address range allows, not one per DPDK
 * port.
 *
 * <pre>
 *   pod netns: eth0 ─veth─ fnXXXX (isolated) ─┐
 *   pod netns: eth0 ─veth─ fnYYYY (isolated) ─┤ bridge fn-pods ── fn-pods0-br ─veth─ fn-pods0 ← router port pods0
 *   ...                                       ┘
 * </pre>
 *
 * {@link #ensure} is idempotent and safe to run from several processes at once (CNI ADDs in
 * parallel, the router): every step accepts "already there", and the last step (the bridge end up)
 * is what the fast path checks. The segment stays when pods or the router go, so a router restart
 * leaves the pods' kernel side as it was.
 *
 * <p><b>Guards.</b> A pod with CAP_NET_RAW can write any frame on its eth0. {@link #join} therefore
 * binds each pod port to the pod's MAC and addresses with the kernel's own tools, before the port
 * comes up:
 *
 * <ul>
 *   <li>no MAC learning on the port, a static FDB entry for the pod's MAC on it, and {@code locked
 *       on} (only frames from a MAC whose FDB entry points at the port pass) where the kernel has
 *       it (5.18 and later; without it a warning is logged and the other guards still hold);
 *   <li>nftables rules in {@code table bridge flatnet}: a base chain on the bridge's prerouting
 *       hook (before forwarding and any FDB update) jumps, by input interface, through the verdict
 *       map {@code pods} to the pod's own chain {@code pod-IFACE}, which drops (and counts) frames
 *       whose Ethernet source is not the pod's MAC, IPv4 from any source but the pod's IPv4, IPv6
 *       from any source but the pod's IPv6, {@code ::} (DAD) and {@code fe80::/10} (NDP), ARP whose
 *       sender MAC or IPv4 is not the pod's (0.0.0.0, a probe, is fine), and any other EtherType
 *       (VLAN tags included: they would hide the rest).
 * </ul>
 *
 * {@link #leave} removes a pod's map element and chain, nothing else. Without {@code nft} a pod
 * cannot join: the guards are not optional (see docs/security.md, "The shared pod bridge").
 */
public final class PodSegment {

  /** The bridge. */
  public static final String BRIDGE = PodKinds.POD_BRIDGE;

  /** The router's end of the segment's veth pair: its af_packet port is on this interface. */
  public static final String ROUTER_END = PodKinds.SEGMENT_ROUTER_END;

  /** The bridge's end of that pair. */
  public static final String BRIDGE_END = "fn-pods0-br";

  /** The router's DPDK port on {@link #ROUTER_END} (a pod-role port, like a pod's own port). */
  public static final String PORT_NAME = PodKinds.SEGMENT_PORT;

  /** The nftables table (family bridge) that holds the pod ports' guards. */
  public static final String NFT_TABLE = "flatnet";

  /** Its verdict map: pod port name to {@code jump pod-NAME}. */
  public static final String NFT_MAP = "pods";

  /** What to install when {@code nft} is missing. */
  static final String NFT_PACKAGE = "nftables";

  private static final JsonMapper JSON = JsonMapper.builder().build();

  private final CommandRunner runner;
  private final Consumer<String> log;

  /** A segment whose warnings go to stderr. */
  public PodSegment(CommandRunner runner) {
    this(runner, line -> System.err.println("flatnet-cni: " + line));
  }

  /**
   * @param runner runs the commands
   * @param log takes warnings (a guard the kernel cannot provide)
   */
  public PodSegment(CommandRunner runner, Consumer<String> log) {
    this.runner = runner;
    this.log = log;
  }

  /**
   * Makes the bridge and the router's veth pair if they are not there, all up, IPv6 off on every
   * interface of the segment (the kernel must not talk on it: the router answers the gateways).
   *
   * @param mtu the MTU of a veth pair made now
   */
  public void ensure(int mtu) throws NetnsPlumber.PlumbingException {
    if (ready()) {
      return;
    }
    String m = Integer.toString(mtu);
    create(List.of("ip", "link", "add", BRIDGE, "type", "bridge", "mcast_snooping", "0"), BRIDGE);
    quiet("sysctl", "-q", "-w", "net.ipv6.conf." + BRIDGE + ".disable_ipv6=1");
    must("ip", "link", "set", BRIDGE, "up");
    create(
        List.of(
            "ip",
            "link",
            "add",
            ROUTER_END,
            "mtu",
            m,
            "type",
            "veth",
            "peer",
            "name",
            BRIDGE_END,
            "mtu",
            m),
        ROUTER_END);
    for (String end : List.of(ROUTER_END, BRIDGE_END)) {
      quiet("sysctl", "-q", "-w", "net.ipv6.conf." + end + ".disable_ipv6=1");
    }
    // Frames for the router arrive at fn-pods0 addressed to its MAC: the node's kernel must not
    // route them too (it has no address there, but it may have ip_forward on).
    quiet("sysctl", "-q", "-w", "net.ipv4.conf." + ROUTER_END + ".forwarding=0");
    must("ip", "link", "set", ROUTER_END, "up");
    must("ip", "link", "set", BRIDGE_END, "master", BRIDGE);
    must("bridge", "link", "set", "dev", BRIDGE_END, "isolated", "off");
    must("ip", "link", "set", BRIDGE_END, "up");
  }

  /** True when the last step of {@link #ensure} is done: the bridge end is up on the bridge. */
  boolean ready() throws NetnsPlumber.PlumbingException {
    JsonNode link = link(BRIDGE_END);
    return link != null && BRIDGE.equals(link.path("master").asText()) && hasFlag(link, "UP");
  }

  /**
   * Puts a pod's host veth end on the bridge, isolated and guarded (see the class comment: no
   * learning, a static FDB entry for {@code mac}, locked if the kernel can, the nftables chain),
   * and only then brings it up, so it never carries a frame unguarded or talks to another pod.
   *
   * @param hostIface the host end
   * @param mac the pod's MAC (its eth0's)
   * @param ips the pod's addresses
   * @throws NetnsPlumber.PlumbingException if a step fails, or {@code nft} is not installed
   */
  public void join(String hostIface, String mac, List<IpAddress> ips)
      throws NetnsPlumber.PlumbingException {
    String podMac = podMac(mac);
    checkName(hostIface);
    must("ip", "link", "set", hostIface, "master", BRIDGE);
    must("bridge", "link", "set", "dev", hostIface, "isolated", "on", "learning", "off");
    must("bridge", "fdb", "replace", podMac, "dev", hostIface, "master", "static");
    CommandRunner.Result locked = run("bridge", "link", "set", "dev", hostIface, "locked", "on");
    if (!locked.ok()) {
      log.accept(
          "bridge port locking is not available (bridge link set dev "
              + hostIface
              + " locked on: "
              + locked.stderr().strip()
              + "; it needs Linux 5.18 and iproute2 5.18): "
              + hostIface
              + " is guarded by learning off, its static FDB entry and the nftables rules only");
    }
    nft(guardScript(hostIface, podMac, ips));
    must("ip", "link", "set", hostIface, "up");
  }

  /**
   * Removes a pod port's nftables guards: its element in the map and its chain, nothing of any
   * other pod's. Nothing to do if they (or the table, or nft itself) are not there. The port's FDB
   * entry and flags go with the port.
   */
  public void leave(String hostIface) throws NetnsPlumber.PlumbingException {
    checkName(hostIface);
    String t = "bridge " + NFT_TABLE;
    String chain = chain(hostIface);
    // "add" before "delete" in one transaction: deleting what is not there is not an error.
    String script =
        String.join(
            "\n",
            "add chain " + t + " " + chain,
            "add element " + t + " " + NFT_MAP + " { \"" + hostIface + "\" : jump " + chain + " }",
            "delete element " + t + " " + NFT_MAP + " { \"" + hostIface + "\" }",
            "flush chain " + t + " " + chain,
            "delete chain " + t + " " + chain);
    CommandRunner.Result r;
    try {
      r = runner.run(List.of("nft", script));
    } catch (IOException e) {
      return; // no nft: no guards can have been installed
    }
    if (!r.ok()) {
      // No table or no map (a flushed ruleset): then no chain of the pod's is left either (the
      // element cannot outlive the chain it jumps to), and DEL must not fail for ever.
      if (!run("nft", "list", "chain", "bridge", NFT_TABLE, chain).ok()) {
        return;
      }
      throw failure(List.of("nft", script), r);
    }
  }

  /**
   * The nftables transaction that (re)installs one pod port's guards: the table, the map and the
   * base chain if missing (the base chain's one rule is rewritten, so it is there exactly once),
   * the pod's chain emptied and refilled, and its element in the map. One {@code nft} run is one
   * transaction: it applies entirely or not at all, and parallel ADDs do not interleave.
   */
  static String guardScript(String hostIface, String mac, List<IpAddress> ips) {
    String t = "bridge " + NFT_TABLE;
    String chain = chain(hostIface);
    String rule = "add rule " + t + " " + chain + " ";
    List<String> v4 = new ArrayList<>();
    List<String> v6 = new ArrayList<>();
    for (IpAddress a : ips) {
      (a.isV4() ? v4 : v6).add(a.toString());
    }
    List<String> arpSenders = new ArrayList<>(v4);
    arpSenders.add("0.0.0.0");
    v6.addAll(List.of("::", "fe80::/10"));
    List<String> lines = new ArrayList<>();
    lines.add("add table " + t);
    lines.add("add map " + t + " " + NFT_MAP + " { type ifname : verdict; }");
    lines.add(
        "add chain "
            + t
            + " prerouting { type filter hook prerouting priority filter; policy accept; }");
    lines.add("flush chain " + t + " prerouting");
    lines.add("add rule " + t + " prerouting iifname vmap @" + NFT_MAP);
    lines.add("add chain " + t + " " + chain);
    lines.add("flush chain " + t + " " + chain);
    lines.add(
        rule + "ether saddr != " + mac + " counter drop comment \"source MAC not the pod's\"");
    lines.add(
        rule
            + "ether type arp arp htype 1 arp ptype ip arp hlen 6 arp plen 4 arp saddr ether "
            + mac
            + " arp saddr ip "
            + set(arpSenders)
            + " accept");
    lines.add(
        rule + "ether type arp counter drop comment \"ARP sender not the pod's MAC and IPv4\"");
    if (!v4.isEmpty()) {
      lines.add(rule + "ether type ip ip saddr " + set(v4) + " accept");
    }
    lines.add(rule + "ether type ip counter drop comment \"IPv4 source not the pod's\"");
    lines.add(rule + "ether type ip6 ip6 saddr " + set(v6) + " accept");
    lines.add(rule + "ether type ip6 counter drop comment \"IPv6 source not the pod's\"");
    lines.add(rule + "counter drop comment \"not IPv4, IPv6 or ARP\"");
    lines.add(
        "add element " + t + " " + NFT_MAP + " { \"" + hostIface + "\" : jump " + chain + " }");
    return String.join("\n", lines);
  }

  /** The pod port's own chain. */
  static String chain(String hostIface) {
    return "pod-" + hostIface;
  }

  private static String set(List<String> items) {
    return items.size() == 1 ? items.getFirst() : "{ " + String.join(", ", items) + " }";
  }

  /** A unicast MAC, lower case (it goes into commands and nft rules). */
  private static String podMac(String mac) throws NetnsPlumber.PlumbingException {
    long m;
    try {
      m = MacAddress.parse(mac);
    } catch (IllegalArgumentException e) {
      throw new NetnsPlumber.PlumbingException(e.getMessage(), e);
    }
    if (MacAddress.isMulticast(m) || m == 0) {
      throw new NetnsPlumber.PlumbingException(
          "the pod MAC " + mac + " is not a unicast address", null);
    }
    return MacAddress.format(m);
  }

  /** Interface names go into nft scripts: nothing but what the plugin makes (fn + hex). */
  private static void checkName(String hostIface) throws NetnsPlumber.PlumbingException {
    if (!hostIface.matches("[A-Za-z0-9_.-]{1,15}")) {
      throw new NetnsPlumber.PlumbingException(
          "invalid host interface name \"" + hostIface + "\"", null);
    }
  }

  /**
   * Checks a pod's host end: on the bridge, isolated, up, guarded (learning off, locked where the
   * kernel reports the flag, a static FDB entry for {@code mac} on it, its element in the nftables
   * map, its chain binding {@code mac} and {@code ips}); and that the segment itself is ready.
   *
   * @throws NetnsPlumber.PlumbingException naming what is wrong
   */
  public void checkJoined(String hostIface, String mac, List<IpAddress> ips)
      throws NetnsPlumber.PlumbingException {
    String podMac = podMac(mac);
    checkName(hostIface);
    JsonNode link = link(hostIface);
    if (link == null) {
      throw new NetnsPlumber.PlumbingException(
          "the host end " + hostIface + " does not exist", null);
    }
    if (!BRIDGE.equals(link.path("master").asText())) {
      throw new NetnsPlumber.PlumbingException(
          hostIface + " is not on the bridge " + BRIDGE + " (master: " + link.path("master") + ")",
          null);
    }
    JsonNode port = link.path("linkinfo").path("info_slave_data");
    if (!port.path("isolated").asBoolean(false)) {
      throw new NetnsPlumber.PlumbingException(
          hostIface + " is not isolated on " + BRIDGE + " (bridge link set dev ... isolated on)",
          null);
    }
    if (port.path("learning").asBoolean(true)) {
      throw new NetnsPlumber.PlumbingException(
          hostIface
              + " learns MAC addresses on "
              + BRIDGE
              + " (bridge link set dev ... learning off)",
          null);
    }
    if (port.has("locked") && !port.path("locked").asBoolean()) {
      throw new NetnsPlumber.PlumbingException(
          hostIface + " is not locked on " + BRIDGE + " (bridge link set dev ... locked on)", null);
    }
    if (!hasFlag(link, "UP")) {
      throw new NetnsPlumber.PlumbingException(hostIface + " is down", null);
    }
    if (!hasStaticEntry(hostIface, podMac)) {
      throw new NetnsPlumber.PlumbingException(
          "no static FDB entry for the pod's MAC "
              + podMac
              + " on "
              + hostIface
              + " (bridge fdb replace "
              + podMac
              + " dev "
              + hostIface
              + " master static)",
          null);
    }
    String t = "bridge " + NFT_TABLE;
    String chain = chain(hostIface);
    CommandRunner.Result element =
        nftRun("get", "element", "bridge", NFT_TABLE, NFT_MAP, "{ \"" + hostIface + "\" }");
    if (!element.ok() || !element.stdout().contains("jump " + chain)) {
      throw new NetnsPlumber.PlumbingException(
          hostIface
              + " has no element in the nftables map "
              + t
              + " "
              + NFT_MAP
              + ", so its traffic is not checked"
              + (element.ok() ? "" : " (" + element.stderr().strip() + ")"),
          null);
    }
    CommandRunner.Result rules = nftRun("list", "chain", "bridge", NFT_TABLE, chain);
    if (!rules.ok()) {
      throw new NetnsPlumber.PlumbingException(
          "the nftables chain " + t + " " + chain + " is missing (" + rules.stderr().strip() + ")",
          null);
    }
    List<String> want = new ArrayList<>(List.of("ether saddr != " + podMac + " "));
    for (IpAddress a : ips) {
      want.add(" " + a + " ");
    }
    String text = rules.stdout().replace(",", " ").replace("}", " ").replace("\n", " ");
    for (String w : want) {
      if (!text.contains(w)) {
        throw new NetnsPlumber.PlumbingException(
            "the nftables chain "
                + t
                + " "
                + chain
                + " does not bind "
                + hostIface
                + " to "
                + podMac
                + " and "
                + ips
                + " (no \""
                + w.strip()
                + "\")",
            null);
      }
    }
    if (!ready()) {
      throw new NetnsPlumber.PlumbingException(
          "the router's end of the pod segment ("
              + BRIDGE_END
              + " on "
              + BRIDGE
              + ", up) is missing",
          null);
    }
  }

  /** True if {@code bridge fdb} holds {@code mac} as a static entry on {@code port}. */
  private boolean hasStaticEntry(String port, String mac) throws NetnsPlumber.PlumbingException {
    CommandRunner.Result r = run("bridge", "-j", "fdb", "show", "dev", port);
    if (!r.ok()) {
      return false;
    }
    try {
      JsonNode root = JSON.readTree(r.stdout());
      if (root == null) {
        return false;
      }
      for (JsonNode e : root) {
        if (mac.equalsIgnoreCase(e.path("mac").asText())
            && BRIDGE.equals(e.path("master").asText())
            && "static".equals(e.path("state").asText())) {
          return true;
        }
      }
      return false;
    } catch (IOException e) {
      throw new NetnsPlumber.PlumbingException(
          "cannot parse the output of bridge -j fdb show dev " + port + ": " + e, e);
    }
  }

  /** {@code ip -j -d link show dev NAME}'s object, or null if there is no such interface. */
  JsonNode link(String name) throws NetnsPlumber.PlumbingException {
    CommandRunner.Result r = run("ip", "-j", "-d", "link", "show", "dev", name);
    if (!r.ok()) {
      return null;
    }
    try {
      JsonNode root = JSON.readTree(r.stdout());
      return root != null && root.isArray() && !root.isEmpty() ? root.get(0) : null;
    } catch (IOException e) {
      throw new NetnsPlumber.PlumbingException(
          "cannot parse the output of ip -j -d link show dev " + name + ": " + e, e);
    }
  }

  static boolean hasFlag(JsonNode link, String flag) {
    for (JsonNode f : link.path("flags")) {
      if (flag.equals(f.asText())) {
        return true;
      }
    }
    return false;
  }

  /** Runs a creating command; if it fails but the interface exists now (a racing ADD), fine. */
  private void create(List<String> argv, String name) throws NetnsPlumber.PlumbingException {
    CommandRunner.Result r = run(argv.toArray(String[]::new));
    if (!r.ok() && !run("ip", "link", "show", "dev", name).ok()) {
      throw failure(argv, r);
    }
  }

  private void must(String... argv) throws NetnsPlumber.PlumbingException {
    CommandRunner.Result r = run(argv);
    if (!r.ok()) {
      throw failure(List.of(argv), r);
    }
  }

  /** Runs an nft transaction (one argument: the script). */
  private void nft(String script) throws NetnsPlumber.PlumbingException {
    CommandRunner.Result r = nftRun(script);
    if (!r.ok()) {
      throw failure(List.of("nft", script), r);
    }
  }

  /** Runs nft; a missing nft is an error that names the package to install. */
  private CommandRunner.Result nftRun(String... args) throws NetnsPlumber.PlumbingException {
    List<String> argv = new ArrayList<>();
    argv.add("nft");
    argv.addAll(List.of(args));
    try {
      return runner.run(argv);
    } catch (IOException e) {
      throw new NetnsPlumber.PlumbingException(
          "cannot run nft ("
              + e.getMessage()
              + "): flatnet needs nftables to guard the pods' ports on the bridge "
              + BRIDGE
              + "; install it: apt-get install "
              + NFT_PACKAGE,
          e);
    }
  }

  private void quiet(String... argv) throws NetnsPlumber.PlumbingException {
    run(argv);
  }

  private CommandRunner.Result run(String... argv) throws NetnsPlumber.PlumbingException {
    try {
      return runner.run(List.of(argv));
    } catch (IOException e) {
      throw new NetnsPlumber.PlumbingException(String.join(" ", argv) + ": " + e.getMessage(), e);
    }
  }

  static NetnsPlumber.PlumbingException failure(List<String> argv, CommandRunner.Result r) {
    return new NetnsPlumber.PlumbingException(
        String.join(" ", argv) + " exited " + r.exitCode() + ": " + r.stderr().strip(), null);
  }
}
