package io.flatnet.agent.cni;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Every case of {@code netpol/cases.yaml} (Kubernetes' network policy e2e suite, translated) on ONE
 * flatnet node: the nine pods are netns pods of one router, so ingress and egress are both checked
 * there. See {@link NetpolConformance}.
 *
 * <p>Run: {@code mvn -B -o -pl e2e -am test -Dtest=NetworkPolicyConformanceTest
 * -Dsurefire.failIfNoSpecifiedTests=false} (add {@code -Dnetpol.case=WORDS} for some cases only).
 */
class NetworkPolicyConformanceTest extends NetpolConformance {

  @Override
  NetpolCluster startCluster(Path tmp) throws Exception {
    RouterChild router = new RouterChild("fnq", Files.createDirectories(tmp.resolve("node")));
    NetpolCluster cluster = new NetpolCluster(List.of(router), "fnq", tmp);
    router.start();
    cluster.addPods(pod -> 0);
    return cluster;
  }

  @Override
  boolean include(NetpolCase c) {
    return true;
  }

  @Override
  String logName() {
    return "netpol-e2e";
  }
}
