package io.flatnet.agent;

import io.flatnet.agent.config.ConfigValidator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * Shared config text for the agent's, the CNI plugin's and the config's tests (this module's test
 * jar).
 */
public final class TestConfigs {
  private TestConfigs() {}

  /** A validator that believes CPUs 0-3 are online. */
  public static final ConfigValidator VALIDATOR = new ConfigValidator(Set.of(0, 1, 2, 3));

  /** A small valid dual-stack config. */
  public static final String BASE =
      """
      node:
        name: node-a
        podCIDRs: [10.244.1.0/24, "fd00:244:1::/64"]
        serviceCIDRs: [10.96.0.0/12]
        gateways: [169.254.1.1, "fe80::1"]
      ports:
        - name: uplink0
          device: "0000:3b:00.0"
          role: uplink
          addresses: [192.0.2.10/24]
      pods:
        - name: default/a
          kind: vhost-user
          socket: /run/flatnet/vhost/a.sock
          ips: [10.244.1.10, "fd00:244:1::10"]
          mac: "02:00:00:00:01:0a"
      peers:
        - name: node-b
          nodeIPs: [192.0.2.11]
          podCIDRs: [10.244.2.0/24]
      routes:
        - prefix: 0.0.0.0/0
          via: 192.0.2.1
          port: uplink0
      """;

  /** The "Full example" YAML block of docs/config.md. */
  public static String docExample() throws IOException {
    String md = Files.readString(Path.of("..", "docs", "config.md"));
    int section = md.indexOf("## Full example");
    int start = md.indexOf("```yaml\n", section) + "```yaml\n".length();
    int end = md.indexOf("```", start);
    return md.substring(start, end);
  }
}
