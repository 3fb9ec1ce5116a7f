package io.flatnet.agent.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.util.List;

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
 */
public final class PodSegment {

  /** The bridge. */
  public static final String BRIDGE = "fn-pods";

  /** The router's end of the segment's veth pair: its af_packet port is on this interface. */
  public static final String ROUTER_END = "fn-pods0";

  /** The bridge's end of that pair. */
  public static final String BRIDGE_END = "fn-pods0-br";

  /** The router's DPDK port on {@link #ROUTER_END} (a pod-role port, like a pod's own port). */
  public static final String PORT_NAME = "pods0";

  private static final JsonMapper JSON = JsonMapper.builder().build();

  private final CommandRunner runner;

  public PodSegment(CommandRunner runner) {
    this.runner = runner;
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
   * Puts a pod's host veth end on the bridge, isolated, and brings it up (isolated before up, so it
   * never talks to another pod).
   */
  public void join(String hostIface) throws NetnsPlumber.PlumbingException {
    must("ip", "link", "set", hostIface, "master", BRIDGE);
    must("bridge", "link", "set", "dev", hostIface, "isolated", "on");
    must("ip", "link", "set", hostIface, "up");
  }

  /**
   * Checks a pod's host end: on the bridge, isolated, up; and that the segment itself is ready.
   *
   * @throws NetnsPlumber.PlumbingException naming what is wrong
   */
  public void checkJoined(String hostIface) throws NetnsPlumber.PlumbingException {
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
    if (!link.path("linkinfo").path("info_slave_data").path("isolated").asBoolean(false)) {
      throw new NetnsPlumber.PlumbingException(
          hostIface + " is not isolated on " + BRIDGE + " (bridge link set dev ... isolated on)",
          null);
    }
    if (!hasFlag(link, "UP")) {
      throw new NetnsPlumber.PlumbingException(hostIface + " is down", null);
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
