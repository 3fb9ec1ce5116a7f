package io.flatnet.agent.bgp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.NodeConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** FRR's command lines and where its files go (no FRR needed; FrrSessionTest runs them). */
class FrrProcessesTest {

  @Test
  void commandLines() {
    FrrProcesses.Layout l =
        new FrrProcesses.Layout(
            Path.of("/usr/lib/frr"), Path.of("/run/n/frr"), List.of(), "frrvty");
    String common =
        " -i /run/n/frr/%s.pid -z /run/n/frr/zserv.api --vty_socket /run/n/frr -P 0 -u root -g"
            + " frrvty --log stdout --log-level info --limit-fds 1024";
    assertEquals(
        "/usr/lib/frr/zebra -f /run/n/frr/zebra.conf"
            + common.formatted("zebra")
            + " -M dplane_fpm_nl",
        String.join(" ", FrrProcesses.zebraCommand(l)));
    assertEquals(
        "/usr/lib/frr/bgpd -f /run/n/frr/bgpd.conf" + common.formatted("bgpd"),
        String.join(" ", FrrProcesses.bgpdCommand(l)));
  }

  @Test
  void layoutFromTheNodeConfig() throws Exception {
    String yaml =
        FrrConfigWriterTest.NODE
            + """
              frr: {binDir: /opt/frr/bin}
            """;
    NodeConfig c = ConfigLoader.parse(yaml, "n");
    FrrProcesses.Layout l = FrrProcesses.Layout.of(c, Path.of("/var/lib/flatnet/agent"));
    assertEquals(Path.of("/var/lib/flatnet/agent/frr"), l.runDir());
    assertEquals(Path.of("/opt/frr/bin"), l.binDir());
    assertEquals(List.of(), l.prefix());
    assertEquals(FrrProcesses.frrGroup(), l.group());

    String inNamespace =
        yaml.replace("frr: {binDir: /opt/frr/bin}", "frr: {runDir: /run/x/frr}")
            .replace(
                "ports:\n",
                """
                ports:
                  - name: host0
                    device: net_tap0,iface=fl-host
                    role: host
                    kernel: {configure: true, namespace: node1}
                """);
    l = FrrProcesses.Layout.of(ConfigLoader.parse(inNamespace, "n"), Path.of("/x"));
    assertEquals(Path.of("/run/x/frr"), l.runDir());
    assertEquals(List.of("ip", "netns", "exec", "node1"), l.prefix());
  }
}
