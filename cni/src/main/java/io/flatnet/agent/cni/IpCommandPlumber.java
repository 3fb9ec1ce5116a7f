package io.flatnet.agent.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.flatnet.agent.config.IpAddress;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link NetnsPlumber} with iproute2, nsenter and ethtool, as root (like any CNI plugin).
 *
 * <p>The pair is created <em>inside</em> the pod's namespace ({@code nsenter --net=NETNS ip link
 * add IFNAME ... type veth peer name HOST netns PID}), with the host end sent to the namespace of
 * this process by PID, so it works with any iproute2 (no namespace-path support needed) and the pod
 * end never appears in the host namespace under a temporary name. In shared mode the host end then
 * joins the pod bridge, isolated and guarded: bound to the pod's MAC and addresses ({@link
 * PodSegment}; the segment is made first if missing). DEL removes that pod's guards too.
 */
public final class IpCommandPlumber implements NetnsPlumber {

  private final CommandRunner runner;
  private final long hostPid;
  private final PodSegment segment;

  /**
   * @param runner runs the commands
   * @param hostPid a process in the namespace the host end goes to (this process, normally)
   */
  public IpCommandPlumber(CommandRunner runner, long hostPid) {
    this(runner, hostPid, new PodSegment(runner));
  }

  /**
   * @param runner runs the commands
   * @param hostPid a process in the namespace the host end goes to (this process, normally)
   * @param segment the pod bridge (its warnings go where the caller wants them)
   */
  public IpCommandPlumber(CommandRunner runner, long hostPid, PodSegment segment) {
    this.runner = runner;
    this.hostPid = hostPid;
    this.segment = segment;
  }

  public static IpCommandPlumber system() {
    return new IpCommandPlumber(CommandRunner.system(20), ProcessHandle.current().pid());
  }

  @Override
  public void add(
      String netns,
      String ifname,
      String hostIface,
      String mac,
      List<IpAddress> ips,
      List<IpAddress> gateways,
      int mtu,
      boolean shared)
      throws PlumbingException {
    String ns = "--net=" + netns;
    if (shared) {
      segment.ensure(mtu); // before anything of the pod's, so a failure leaves nothing to undo
    }
    // A host end left by an earlier, interrupted ADD would make "ip link add" fail. (Its guards,
    // if any, are rewritten by join.)
    delLink(hostIface);
    must(
        "nsenter",
        ns,
        "ip",
        "link",
        "add",
        ifname,
        "mtu",
        Integer.toString(mtu),
        "address",
        mac,
        "type",
        "veth",
        "peer",
        "name",
        hostIface,
        "mtu",
        Integer.toString(mtu),
        "netns",
        Long.toString(hostPid));
    try {
      must("nsenter", ns, "ip", "link", "set", "lo", "up");
      for (IpAddress a : ips) {
        if (a.isV4()) {
          must("nsenter", ns, "ip", "-4", "addr", "add", a + "/32", "dev", ifname);
        } else {
          must("nsenter", ns, "ip", "-6", "addr", "add", a + "/128", "dev", ifname, "nodad");
        }
      }
      must("nsenter", ns, "ip", "link", "set", ifname, "up");
      for (IpAddress gw : gateways) {
        String fam = gw.isV4() ? "-4" : "-6";
        String host = gw + (gw.isV4() ? "/32" : "/128");
        must("nsenter", ns, "ip", fam, "route", "replace", host, "dev", ifname, "scope", "link");
        must(
            "nsenter",
            ns,
            "ip",
            fam,
            "route",
            "replace",
            "default",
            "via",
            gw.toString(),
            "dev",
            ifname);
      }
      must("nsenter", ns, "ethtool", "-K", ifname, "tx", "off");
      // The host end carries only the pod's traffic to the router: no IPv6 of its own.
      run("sysctl", "-q", "-w", "net.ipv6.conf." + hostIface + ".disable_ipv6=1");
      if (shared) {
        segment.join(hostIface, mac, ips);
      } else {
        must("ip", "link", "set", hostIface, "up");
      }
    } catch (PlumbingException e) {
      try {
        del(hostIface);
      } catch (PlumbingException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /** Deletes the pair and the port's guards on the pod bridge (if it had any). */
  @Override
  public void del(String hostIface) throws PlumbingException {
    delLink(hostIface);
    segment.leave(hostIface);
  }

  private void delLink(String hostIface) throws PlumbingException {
    CommandRunner.Result show = run("ip", "link", "show", "dev", hostIface);
    if (!show.ok()) {
      return; // already gone (or never made)
    }
    CommandRunner.Result r = run("ip", "link", "del", "dev", hostIface);
    if (!r.ok() && run("ip", "link", "show", "dev", hostIface).ok()) {
      throw failure(List.of("ip", "link", "del", "dev", hostIface), r);
    }
  }

  @Override
  public void check(
      String netns,
      String ifname,
      String hostIface,
      List<IpAddress> ips,
      List<IpAddress> gateways,
      boolean shared)
      throws PlumbingException {
    List<String> argv =
        List.of("nsenter", "--net=" + netns, "ip", "-j", "addr", "show", "dev", ifname);
    JsonNode root = json(argv);
    List<IpAddress> have = new ArrayList<>();
    String mac = null;
    try {
      for (JsonNode link : root) {
        mac = link.path("address").asText(null);
        for (JsonNode info : link.path("addr_info")) {
          have.add(IpAddress.parse(info.path("local").asText()));
        }
      }
    } catch (IllegalArgumentException e) {
      throw new PlumbingException(
          "cannot parse the output of " + String.join(" ", argv) + ": " + e, e);
    }
    for (IpAddress a : ips) {
      if (!have.contains(a)) {
        throw new PlumbingException(
            ifname + " in " + netns + " does not hold " + a + " (it has " + have + ")", null);
      }
    }
    for (IpAddress gw : gateways) {
      String fam = gw.isV4() ? "-4" : "-6";
      List<String> routes =
          List.of("nsenter", "--net=" + netns, "ip", "-j", fam, "route", "show", "default");
      boolean found = false;
      for (JsonNode route : json(routes)) {
        found |=
            gw.toString().equals(route.path("gateway").asText())
                && ifname.equals(route.path("dev").asText());
      }
      if (!found) {
        throw new PlumbingException(
            "no default route via " + gw + " dev " + ifname + " in " + netns, null);
      }
    }
    if (shared) {
      if (mac == null) {
        throw new PlumbingException(ifname + " in " + netns + " has no MAC address", null);
      }
      segment.checkJoined(hostIface, mac, ips);
    } else {
      JsonNode link = segment.link(hostIface);
      if (link == null || !PodSegment.hasFlag(link, "UP")) {
        throw new PlumbingException(
            "the host end " + hostIface + (link == null ? " does not exist" : " is down"), null);
      }
    }
  }

  private JsonNode json(List<String> argv) throws PlumbingException {
    CommandRunner.Result r = run(argv.toArray(String[]::new));
    if (!r.ok()) {
      throw failure(argv, r);
    }
    try {
      JsonNode root = JsonMapper.builder().build().readTree(r.stdout());
      if (root == null || !root.isArray()) {
        throw new IOException("not a JSON array");
      }
      return root;
    } catch (IOException e) {
      throw new PlumbingException(
          "cannot parse the output of " + String.join(" ", argv) + ": " + e, e);
    }
  }

  private void must(String... argv) throws PlumbingException {
    CommandRunner.Result r = run(argv);
    if (!r.ok()) {
      throw failure(List.of(argv), r);
    }
  }

  private CommandRunner.Result run(String... argv) throws PlumbingException {
    try {
      return runner.run(List.of(argv));
    } catch (IOException e) {
      throw new PlumbingException(String.join(" ", argv) + ": " + e.getMessage(), e);
    }
  }

  private static PlumbingException failure(List<String> argv, CommandRunner.Result r) {
    return new PlumbingException(
        String.join(" ", argv) + " exited " + r.exitCode() + ": " + r.stderr().strip(), null);
  }
}
