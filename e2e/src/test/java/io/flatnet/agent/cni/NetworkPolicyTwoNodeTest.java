package io.flatnet.agent.cni;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * The cases of {@code netpol/cases.yaml} marked {@code twoNodes} (all of them with {@code
 * -Dnetpol.twoNodes.all=true}) with the nine pods on TWO flatnet nodes, whose uplinks share a
 * switch (a bridge in namespace {@code fnw-sw}) and which are each other's {@code peers}: a
 * connection between the nodes is checked against the client's egress on its node and the server's
 * ingress on the other. Node 0 (10.244.5.0/24) has x/a, x/c, y/a, z/b; node 1 (10.244.6.0/24) has
 * x/b, y/b, y/c, z/a, z/c; so x/a and x/b, x/a and y/b (the self-check's pods), are on different
 * nodes. Every node's config lists all nine Pods, those of the other node with status.podIPs.
 *
 * <p>Run: {@code mvn -B -o -pl e2e -am test -Dtest=NetworkPolicyTwoNodeTest
 * -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class NetworkPolicyTwoNodeTest extends NetpolConformance {

  static final String SWITCH = "fnw-sw";
  static final Set<String> ON_NODE_0 = Set.of("x/a", "x/c", "y/a", "z/b");

  @Override
  NetpolCluster startCluster(Path tmp) throws Exception {
    RouterChild.sh("ip", "netns", "del", SWITCH);
    RouterChild a = new RouterChild("fnw0", Files.createDirectories(tmp.resolve("node0")));
    RouterChild b = new RouterChild("fnw1", Files.createDirectories(tmp.resolve("node1")));
    a.switchNs = SWITCH;
    b.switchNs = SWITCH;
    a.uplinkV4 = "10.250.99.1";
    a.uplinkV6 = "fd00:250:99::1";
    b.uplinkV4 = "10.250.99.3";
    b.uplinkV6 = "fd00:250:99::3";
    b.podCidr4 = "10.244.6.0/24";
    b.podCidr6 = "fd00:244:6::/64";
    a.extraConfig = peer("node1", b);
    b.extraConfig = peer("node0", a);
    NetpolCluster cluster = new NetpolCluster(List.of(a, b), "fnw", tmp);
    a.start();
    b.start();
    cluster.addPods(pod -> ON_NODE_0.contains(pod) ? 0 : 1);
    return cluster;
  }

  private static String peer(String name, RouterChild other) {
    return "peers:\n"
        + "  - name: "
        + name
        + "\n    nodeIPs: ["
        + other.uplinkV4
        + ", \""
        + other.uplinkV6
        + "\"]\n    podCIDRs: ["
        + other.podCidr4
        + ", \""
        + other.podCidr6
        + "\"]\n";
  }

  @Override
  boolean include(NetpolCase c) {
    return c.twoNodes() || Boolean.getBoolean("netpol.twoNodes.all");
  }

  @Override
  String logName() {
    return "netpol-two-node-e2e";
  }

  @Override
  void afterNodes() {
    RouterChild.sh("ip", "netns", "del", SWITCH);
  }
}
