package io.flatnet.agent.process;

import io.flatnet.agent.cni.CommandRunner;
import io.flatnet.agent.config.HostKernel;
import io.flatnet.agent.config.IfAddress;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.config.PortConfig;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The kernel's end of the host port, when the config asks for it ({@code
 * ports[].kernel.configure}): the node keeps its addresses and its default routes behind flatnet,
 * so SSH, the kubelet and kube-proxy keep working on a node whose only NIC flatnet owns. Applied
 * each time the dataplane adds the host port, so also after a dataplane restart, which makes a new
 * TAP. A failure is logged and leaves forwarding alone.
 */
final class KernelSide {
  private final CommandRunner commands;
  private final Supplier<NodeConfig> config;

  KernelSide(CommandRunner commands, Supplier<NodeConfig> config) {
    this.commands = commands;
    this.config = config;
  }

  /**
   * Configures the kernel end of every host port that asks for it: at the agent's start (the
   * dataplane may have kept its ports, so no port is added) and on SIGHUP. Idempotent.
   */
  void applyAll() {
    for (PortConfig port : config.get().ports()) {
      if ("host".equals(port.role())) {
        portAdded(port.name());
      }
    }
  }

  /** Configures the kernel end of port {@code name} if the config says so. */
  void portAdded(String name) {
    NodeConfig node = config.get();
    PortConfig port =
        node.ports().stream().filter(p -> p.name().equals(name)).findFirst().orElse(null);
    if (port == null || port.kernel() == null || !port.kernel().configure()) {
      return;
    }
    String tap = HostKernel.tapName(port.device());
    String namespace = port.kernel().namespace();
    try {
      List<String> done = apply(tap, namespace, nodeAddresses(node));
      System.out.println(
          "flatnet agent: kernel end of "
              + name
              + ": "
              + tap
              + (namespace == null ? "" : " in namespace " + namespace)
              + ": "
              + String.join(", ", done));
    } catch (IOException e) {
      System.err.println(
          "flatnet agent: kernel end of " + name + " (" + tap + "): " + e.getMessage());
    }
  }

  private List<String> apply(String tap, String namespace, List<IfAddress> addresses)
      throws IOException {
    List<String> done = new ArrayList<>();
    if (namespace != null && commands.run(List.of("ip", "link", "show", "dev", tap)).ok()) {
      must(List.of("ip", "link", "set", "dev", tap, "netns", namespace));
      done.add("moved");
    }
    must(in(namespace, "ip", "link", "set", "dev", tap, "up"));
    boolean v4 = false;
    boolean v6 = false;
    for (IfAddress a : addresses) {
      String host = a.address() + (a.address().isV4() ? "/32" : "/128");
      if (a.address().isV4()) {
        must(in(namespace, "ip", "addr", "replace", host, "dev", tap));
        v4 = true;
      } else {
        must(in(namespace, "ip", "-6", "addr", "replace", host, "dev", tap, "nodad"));
        v6 = true;
      }
      done.add(host);
    }
    // The node's default routes go through flatnet, which routes on from its own table.
    if (v4) {
      must(in(namespace, "ip", "route", "replace", "default", "dev", tap));
      must(in(namespace, "sysctl", "-qw", "net.ipv4.ip_forward=1"));
    }
    if (v6) {
      must(in(namespace, "ip", "-6", "route", "replace", "default", "dev", tap));
      must(in(namespace, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"));
    }
    done.add("default routes, forwarding on");
    return done;
  }

  /** The node's own addresses: those on its uplink ports. */
  private static List<IfAddress> nodeAddresses(NodeConfig node) {
    List<IfAddress> addresses = new ArrayList<>();
    for (PortConfig p : node.ports()) {
      if ("uplink".equals(p.role())) {
        for (String a : p.addresses()) {
          addresses.add(IfAddress.parse(a.trim()));
        }
      }
    }
    return addresses;
  }

  private static List<String> in(String namespace, String... command) {
    List<String> argv = new ArrayList<>();
    if (namespace != null) {
      argv.addAll(List.of("ip", "netns", "exec", namespace));
    }
    argv.addAll(List.of(command));
    return argv;
  }

  private void must(List<String> argv) throws IOException {
    CommandRunner.Result r = commands.run(argv);
    if (!r.ok()) {
      throw new IOException(
          String.join(" ", argv) + " failed (" + r.exitCode() + "): " + r.stderr().strip());
    }
  }
}
