package io.flatnet.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.flatnet.image.NodeImage.Built;
import io.flatnet.image.NodeImage.Result;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The node image ({@code ./flatnet image}, image/build-image.sh): built from this checkout, loaded
 * with Debian's podman, and run: the launcher's help, {@code validate} and {@code plan} on the
 * docs' example config, the CNI plugin's VERSION, the jlinked runtime and DPDK's libraries. A
 * second build from the same tree must give the same digests.
 */
class ImageTest {
  static final JsonMapper JSON = JsonMapper.builder().build();

  @Test
  void podmanLoadsTheArchiveUnderTheNameTheManifestsUse() throws Exception {
    Built image = NodeImage.loaded();
    assertTrue(image.name().startsWith("flatnet/flatnet:"), image.name());
    Result id =
        NodeImage.podman(
            List.of("image", "inspect", "--format", "{{.Id}}", image.podmanName()), null, 30);
    assertEquals(0, id.exit(), id.output());
    // podman's image id is the config's digest: what was built is what runs.
    assertEquals(image.config(), "sha256:" + id.output().strip());
    // An OCI layout: oci-layout, index.json and sha256-addressed blobs, nothing else.
    Result listing = NodeImage.run(List.of("tar", "-tf", image.archive().toString()), null, 30);
    assertEquals(0, listing.exit(), listing.output());
    for (String entry : listing.output().lines().toList()) {
      assertTrue(
          entry.equals("oci-layout")
              || entry.equals("index.json")
              || entry.matches("blobs/(sha256/([0-9a-f]{64})?)?"),
          "unexpected entry in the archive: " + entry);
    }
  }

  @Test
  void launcherHelpFromTheInstalledLayout() throws Exception {
    Result help = NodeImage.inImage(List.of(), null, "flatnet", "--help");
    assertEquals(0, help.exit(), help.output());
    assertTrue(help.output().contains("validate --config node.yaml"), help.output());
    assertTrue(help.output().contains("plan --config node.yaml"), help.output());
    assertTrue(help.output().contains("Installed (the node image, /opt/flatnet)"), help.output());
    // The source tree's commands say they need one, and exit 2.
    Result build = NodeImage.inImage(List.of(), null, "flatnet", "build");
    assertEquals(2, build.exit(), build.output());
    assertTrue(build.output().contains("needs flatnet's source tree"), build.output());
  }

  @Test
  void frrIsInTheImageForTheBgpSection() throws Exception {
    Result frr =
        NodeImage.shInImage(
            "test -x /usr/lib/frr/zebra && test -x /usr/lib/frr/bgpd && command -v vtysh"
                + " && ls /usr/lib/x86_64-linux-gnu/frr/modules/dplane_fpm_nl.so");
    assertEquals(0, frr.exit(), frr.output());
  }

  @Test
  void validatesAndPlansTheDocsExampleConfig() throws Exception {
    String config = NodeImage.docsExampleConfig();
    // The config goes into the container on stdin, then the launcher checks it there.
    Result ok =
        NodeImage.inImage(
            List.of(),
            config,
            "sh",
            "-c",
            "cat >/tmp/node.yaml && flatnet validate --config /tmp/node.yaml");
    assertEquals(0, ok.exit(), ok.output());
    assertTrue(ok.output().contains("/tmp/node.yaml: ok (node node-a"), ok.output());

    Result plan =
        NodeImage.inImage(
            List.of(),
            config,
            "sh",
            "-c",
            "cat >/tmp/node.yaml && flatnet plan --config /tmp/node.yaml");
    assertEquals(0, plan.exit(), plan.output());
    assertTrue(plan.output().contains("generation 1:"), plan.output());
    assertTrue(plan.output().contains("add port uplink0"), plan.output());

    // A broken config: every error, exit 1.
    String broken = config.replace("10.244.1.0/24", "10.244.1.5/24");
    assertFalse(broken.equals(config), "the example has 10.244.1.0/24");
    Result bad =
        NodeImage.inImage(
            List.of(),
            broken,
            "sh",
            "-c",
            "cat >/tmp/node.yaml && flatnet validate --config /tmp/node.yaml");
    assertEquals(1, bad.exit(), bad.output());
    assertTrue(bad.output().contains("did you mean 10.244.1.0/24"), bad.output());
  }

  @Test
  void cniPluginAnswersVersion() throws Exception {
    JsonNode conflist =
        JSON.readTree(NodeImage.REPO.resolve("docs/deploy/10-flatnet.conflist").toFile());
    // The runtime passes the plugin's own config with the list's cniVersion and name.
    ObjectNode plugin = ((ObjectNode) conflist.get("plugins").get(0)).deepCopy();
    plugin.put("cniVersion", conflist.get("cniVersion").asText());
    plugin.put("name", conflist.get("name").asText());
    Result version =
        NodeImage.inImage(
            List.of("-e", "CNI_COMMAND=VERSION"),
            JSON.writeValueAsString(plugin),
            "/opt/flatnet/bin/flatnet-cni");
    assertEquals(0, version.exit(), version.output());
    JsonNode answer = JSON.readTree(version.output());
    assertEquals("1.0.0", answer.get("cniVersion").asText(), version.output());
    assertTrue(answer.get("supportedVersions").toString().contains("\"1.0.0\""), version.output());
  }

  @Test
  void holdsTheJlinkedRuntimeDpdkAndTheAgentsTools() throws Exception {
    Result r =
        NodeImage.shInImage(
            "set -e; /opt/flatnet/jre/bin/java --list-modules | sed 's/@.*//' | sort | tr '\\n' ' ';"
                + " echo; /opt/flatnet/jre/bin/java -version 2>&1 | head -n1;"
                + " test ! -e /usr/lib/jvm && echo no-other-jvm;"
                + " for l in eal mempool mbuf ethdev fib vhost; do"
                + "   f=/usr/lib/x86_64-linux-gnu/librte_$l.so.23; test -e $f; ldd $f | grep 'not found' || true;"
                + " done;"
                + " for p in net_vhost net_virtio net_tap net_af_packet bus_pci bus_vdev mempool_ring; do"
                + "   f=/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_$p.so.23; test -e $f;"
                + "   ldd $f | grep 'not found' || true;"
                + " done; echo dpdk-ok;"
                + " for c in bash ip bridge nft ethtool sysctl kill nsenter flock test; do command -v $c"
                + " >/dev/null || echo missing $c; done; echo tools-checked");
    assertEquals(0, r.exit(), r.output());
    String out = r.output();
    assertTrue(out.contains("java.base"), out);
    assertFalse(out.contains("jdk.compiler"), "only the modules jdeps finds, no compiler: " + out);
    assertFalse(out.contains("jdk.jlink"), out);
    assertTrue(out.contains("version \"25"), out);
    assertTrue(out.contains("no-other-jvm"), out);
    assertFalse(
        out.contains("not found"), "every DPDK library's dependencies are in the image: " + out);
    assertTrue(out.contains("dpdk-ok"), out);
    assertFalse(out.contains("missing"), out);
    assertTrue(out.contains("tools-checked"), out);
  }

  @Test
  void aSecondBuildOfTheSameTreeGivesTheSameDigests() throws Exception {
    Built first = NodeImage.build();
    Built second =
        NodeImage.build(NodeImage.REPO.resolve("target/image-again"), "image-build-again.log");
    // The root filesystem comes from the same cache; /opt/flatnet is made again (jlink, jars, tar).
    assertEquals(first.layers(), second.layers());
    assertEquals(first.config(), second.config());
    assertEquals(first.manifest(), second.manifest());
    assertEquals(
        Files.mismatch(first.archive(), second.archive()),
        -1L,
        "the archives are byte for byte equal");
  }
}
