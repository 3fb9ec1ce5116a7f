package io.flatnet.agent.process;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.flatnet.agent.TestConfigs;
import io.flatnet.agent.cni.CommandRunner;
import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.NodeConfig;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What the agent runs for the kernel end of a host port (the cluster demo runs it for real: its
 * nodes' kernels get their addresses this way, also after a dataplane restart).
 */
class KernelSideTest {

  private static NodeConfig config(String kernel) throws Exception {
    String hostPort =
        "  - name: host0\n" + "    device: net_tap0,iface=fl-host\n" + "    role: host\n" + kernel;
    return ConfigLoader.parse(
        TestConfigs.BASE
            .replace(
                "addresses: [192.0.2.10/24]", "addresses: [192.0.2.10/24, \"2001:db8::10/64\"]")
            .replace("pods:\n", hostPort + "pods:\n"),
        "t");
  }

  private static List<String> run(NodeConfig config, String port, boolean linkHere) {
    List<String> ran = new ArrayList<>();
    CommandRunner recorder =
        argv -> {
          ran.add(String.join(" ", argv));
          boolean ok = linkHere || !argv.contains("show");
          return new CommandRunner.Result(ok ? 0 : 1, "", ok ? "" : "no such device");
        };
    new KernelSide(recorder, () -> config).portAdded(port);
    return ran;
  }

  @Test
  void putsTheNodeAddressesAndDefaultRoutesOnTheTap() throws Exception {
    assertEquals(
        List.of(
            "ip link set dev fl-host up",
            "ip addr replace 192.0.2.10/32 dev fl-host",
            "ip -6 addr replace 2001:db8::10/128 dev fl-host nodad",
            "ip route replace default dev fl-host",
            "sysctl -qw net.ipv4.ip_forward=1",
            "ip -6 route replace default dev fl-host",
            "sysctl -qw net.ipv6.conf.all.forwarding=1"),
        run(config("    kernel: {configure: true}\n"), "host0", true));
  }

  @Test
  void movesTheTapIntoTheNamespaceWhenItIsStillHere() throws Exception {
    NodeConfig c = config("    kernel: {configure: true, namespace: nk}\n");
    List<String> fresh = run(c, "host0", true);
    assertEquals("ip link show dev fl-host", fresh.get(0));
    assertEquals("ip link set dev fl-host netns nk", fresh.get(1));
    assertEquals("ip netns exec nk ip link set dev fl-host up", fresh.get(2));
    List<String> moved = run(c, "host0", false);
    assertEquals("ip netns exec nk ip link set dev fl-host up", moved.get(1));
  }

  @Test
  void leavesTheKernelAloneUnlessAsked() throws Exception {
    assertEquals(List.of(), run(config(""), "host0", true));
    assertEquals(List.of(), run(config("    kernel: {namespace: nk}\n"), "host0", true));
    assertEquals(List.of(), run(config("    kernel: {configure: true}\n"), "uplink0", true));
  }
}
