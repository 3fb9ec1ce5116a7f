package io.flatnet.agent.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.config.IpAddress;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** CniMain in-process against a real AgentSocketServer with a recording handler (no DPDK). */
class CniMainTest {

  @TempDir Path dir;
  CniFixture fx;
  final List<String> plumbing = new ArrayList<>();
  String failPlumbing;

  /** Records plumbing calls instead of running ip/nsenter (the lead's e2e tests run those). */
  final NetnsPlumber recorder =
      new NetnsPlumber() {
        @Override
        public void add(
            String netns,
            String ifname,
            String host,
            String mac,
            List<IpAddress> ips,
            List<IpAddress> gws,
            int mtu,
            boolean shared)
            throws PlumbingException {
          plumbing.add(
              "add "
                  + netns
                  + " "
                  + ifname
                  + " "
                  + host
                  + " "
                  + mac
                  + " "
                  + ips
                  + " "
                  + gws
                  + " "
                  + mtu
                  + (shared ? " shared" : " port"));
          if ("add".equals(failPlumbing)) {
            throw new PlumbingException("ip link add: RTNETLINK answers: File exists", null);
          }
        }

        @Override
        public void del(String host) {
          plumbing.add("del " + host);
        }

        @Override
        public void check(
            String netns,
            String ifname,
            String host,
            List<IpAddress> ips,
            List<IpAddress> gws,
            boolean shared)
            throws PlumbingException {
          plumbing.add(
              "check "
                  + ifname
                  + " "
                  + host
                  + " "
                  + ips
                  + " "
                  + gws
                  + (shared ? " shared" : " port"));
          if ("check".equals(failPlumbing)) {
            throw new PlumbingException("eth0 has no addresses", null);
          }
        }
      };

  record Run(int exit, String stdout, String stderr) {
    JsonNode json() throws IOException {
      return CniFixture.parse(stdout);
    }
  }

  @BeforeEach
  void setUp() throws Exception {
    fx = new CniFixture(dir);
    Files.createFile(dir.resolve("netns"));
  }

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
  }

  Run run(Map<String, String> env, String stdin) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        new CniMain(recorder)
            .run(
                env,
                new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  String vhost(String cidrs) {
    return fx.conf("1.0.0", cidrs, ",\"kind\":\"vhost-user\"");
  }

  static void assertError(Run r, int code) throws IOException {
    assertEquals(1, r.exit(), r.toString());
    JsonNode j = r.json();
    assertEquals(code, j.path("code").asInt(), r.stdout());
    assertTrue(j.path("msg").isTextual(), r.stdout());
    assertTrue(j.path("cniVersion").isTextual(), r.stdout());
  }

  long ipFiles() throws IOException {
    Path store = dir.resolve("ipam/flatnet");
    if (!Files.exists(store)) {
      return 0;
    }
    try (Stream<Path> s = Files.list(store)) {
      return s.filter(
              p ->
                  p.getFileName().toString().matches("[0-9a-f.:]+")
                      && !p.getFileName().toString().contains("_"))
          .count();
    }
  }

  @Test
  void version() throws Exception {
    Run r = run(Map.of("CNI_COMMAND", "VERSION"), "{\"cniVersion\":\"0.4.0\"}");
    assertEquals(0, r.exit());
    assertEquals("0.4.0", r.json().path("cniVersion").asText());
    assertEquals(
        "[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\"]", r.json().path("supportedVersions").toString());
    assertEquals(
        "1.0.0", run(Map.of("CNI_COMMAND", "VERSION"), "").json().path("cniVersion").asText());
  }

  @Test
  void envErrors() throws Exception {
    assertError(run(Map.of(), vhost("[\"10.244.1.0/24\"]")), CniError.INVALID_ENV);
    Map<String, String> env = fx.env("ADD", "c1");
    env.remove("CNI_CONTAINERID");
    assertError(run(env, vhost("[\"10.244.1.0/24\"]")), CniError.INVALID_ENV);
    env = fx.env("ADD", "c1");
    env.remove("CNI_NETNS");
    Run r = run(env, vhost("[\"10.244.1.0/24\"]"));
    assertError(r, CniError.INVALID_ENV);
    assertEquals("CNI_NETNS is not set", r.json().path("msg").asText());
    env = fx.env("ADD", "bad id!");
    assertError(run(env, vhost("[\"10.244.1.0/24\"]")), CniError.INVALID_ENV);
    env = fx.env("ADD", "c1");
    env.put("CNI_IFNAME", "much-too-long-name0");
    assertError(run(env, vhost("[\"10.244.1.0/24\"]")), CniError.INVALID_ENV);
    env = fx.env("ADD", "c1");
    env.put("CNI_ARGS", "novalue");
    assertError(run(env, vhost("[\"10.244.1.0/24\"]")), CniError.INVALID_ENV);
    assertError(run(fx.env("FROB", "c1"), vhost("[\"10.244.1.0/24\"]")), CniError.INVALID_ENV);
    assertTrue(fx.requests.isEmpty());
  }

  @Test
  void configErrors() throws Exception {
    Map<String, String> env = fx.env("ADD", "c1");
    assertError(run(env, "{not json"), CniError.DECODE_FAILURE);
    assertError(run(env, "[1,2]"), CniError.DECODE_FAILURE);
    Run r = run(env, fx.conf("2.0.0", "[\"10.244.1.0/24\"]", ""));
    assertError(r, CniError.INCOMPATIBLE_VERSION);
    assertEquals("1.0.0", r.json().path("cniVersion").asText());
    assertError(
        run(env, "{\"cniVersion\":\"1.0.0\",\"type\":\"flatnet\"}"), CniError.INVALID_CONFIG);
    assertError(
        run(env, fx.conf("1.0.0", "[\"10.244.1.0/24\"]", ",\"ipam\":{\"type\":\"host-local\"}")),
        CniError.UNSUPPORTED_FIELD);
    r = run(env, fx.conf("0.4.0", "[\"10.244.1.5/24\"]", ""));
    assertError(r, CniError.INVALID_CONFIG);
    assertEquals("0.4.0", r.json().path("cniVersion").asText());
    assertTrue(r.json().path("msg").asText().contains("did you mean 10.244.1.0/24?"), r.stdout());
    assertError(
        run(env, fx.conf("1.0.0", "[\"10.244.1.0/24\"]", ",\"kind\":\"bridge\"")),
        CniError.INVALID_CONFIG);
    assertEquals(0, ipFiles());
  }

  @Test
  void addVhostUser() throws Exception {
    Run r =
        run(fx.env("ADD", "0123456789abcdef"), vhost("[\"10.244.1.0/24\",\"fd00:244:1::/64\"]"));
    assertEquals(0, r.exit(), r.toString());
    JsonNode j = r.json();
    assertEquals("1.0.0", j.path("cniVersion").asText());
    String sock = dir.resolve("vhost/0123456789ab-eth0.sock").toString();
    JsonNode iface = j.path("interfaces").get(0);
    assertEquals("eth0", iface.path("name").asText());
    assertEquals(dir.resolve("netns").toString(), iface.path("sandbox").asText());
    assertEquals(sock, iface.path("socketPath").asText());
    assertTrue(iface.path("mac").asText().startsWith("02:"));
    assertEquals(1, j.path("interfaces").size());
    assertEquals(
        "[{\"address\":\"10.244.1.1/32\",\"gateway\":\"169.254.1.1\",\"interface\":0},"
            + "{\"address\":\"fd00:244:1::1/128\",\"gateway\":\"fe80::1\",\"interface\":0}]",
        j.path("ips").toString());
    assertEquals(
        "[{\"dst\":\"0.0.0.0/0\",\"gw\":\"169.254.1.1\"},{\"dst\":\"::/0\",\"gw\":\"fe80::1\"}]",
        j.path("routes").toString());
    assertEquals("{}", j.path("dns").toString());
    AgentProtocol.Request req = fx.requests.get(0);
    assertEquals(AgentProtocol.POD_ADD, req.op());
    assertEquals("default/web-0123456789abcdef", req.name());
    assertEquals("0123456789abcdef", req.containerId());
    assertEquals("vhost-user", req.kind());
    assertEquals(sock, req.socket());
    assertEquals(List.of("10.244.1.1", "fd00:244:1::1"), req.ips());
    assertTrue(plumbing.isEmpty());
  }

  @Test
  void oldVersionsGetIpVersionAndDnsPassesThrough() throws Exception {
    Run r =
        run(
            fx.env("ADD", "c1"),
            fx.conf(
                "0.4.0",
                "[\"10.244.1.0/24\"]",
                ",\"kind\":\"vhost-user\",\"dns\":{\"nameservers\":[\"10.96.0.10\"]}"));
    assertEquals(0, r.exit(), r.toString());
    assertEquals("4", r.json().path("ips").get(0).path("version").asText());
    assertEquals("0.4.0", r.json().path("cniVersion").asText());
    assertEquals("[\"10.96.0.10\"]", r.json().path("dns").path("nameservers").toString());
  }

  @Test
  void exhaustedRange() throws Exception {
    String conf = vhost("[\"10.244.9.0/30\"]"); // .1 and .2 usable: the gateway is link-local
    assertEquals(0, run(fx.env("ADD", "c1"), conf).exit());
    assertEquals(0, run(fx.env("ADD", "c2"), conf).exit());
    Run r = run(fx.env("ADD", "c3"), conf);
    assertError(r, CniError.RANGE_EXHAUSTED);
    assertEquals("pod address range exhausted", r.json().path("msg").asText());
    assertTrue(r.json().path("details").asText().contains("10.244.9.0/30"), r.stdout());
    assertEquals(2, fx.requests.size());
    // Freeing one makes room again.
    assertEquals(0, run(fx.env("DEL", "c1"), conf).exit());
    assertEquals(0, run(fx.env("ADD", "c3"), conf).exit());
  }

  @Test
  void addIsIdempotentForTheSameContainer() throws Exception {
    String conf = vhost("[\"10.244.1.0/24\"]");
    Run a = run(fx.env("ADD", "c1"), conf);
    Run b = run(fx.env("ADD", "c1"), conf);
    assertEquals(a.json().path("ips"), b.json().path("ips"));
    assertEquals(1, ipFiles());
  }

  @Test
  void agentRefusalAndUnavailabilityFreeTheAddress() throws Exception {
    String conf = vhost("[\"10.244.1.0/24\"]");
    Map<String, String> env = fx.env("ADD", "c1");
    env.put("CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=reject-me");
    Run r = run(env, conf);
    assertError(r, CniError.AGENT_REJECTED);
    assertEquals("pod refused: default/reject-me", r.json().path("details").asText());
    assertEquals(0, ipFiles());
    env.put("CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=later");
    assertError(run(env, conf), CniError.TRY_AGAIN_LATER);
    assertEquals(0, ipFiles());
    fx.close();
    assertError(run(fx.env("ADD", "c1"), conf), CniError.TRY_AGAIN_LATER);
    assertEquals(0, ipFiles());
  }

  @Test
  void delOfAnUnknownContainerSucceeds() throws Exception {
    Run r = run(fx.env("DEL", "never-added"), vhost(null));
    assertEquals(0, r.exit(), r.toString());
    assertEquals("", r.stdout());
    assertEquals(AgentProtocol.POD_DEL, fx.requests.get(0).op());
    assertEquals("never-added", fx.requests.get(0).containerId());
    // Without CNI_NETNS too (allowed for DEL), and twice.
    Map<String, String> env = fx.env("DEL", "never-added");
    env.remove("CNI_NETNS");
    assertEquals(0, run(env, vhost(null)).exit());
  }

  @Test
  void delWithoutARunningAgentStillFreesTheAddress() throws Exception {
    String conf = vhost("[\"10.244.1.0/24\"]");
    assertEquals(0, run(fx.env("ADD", "c1"), conf).exit());
    assertEquals(1, ipFiles());
    fx.close();
    Run r = run(fx.env("DEL", "c1"), conf);
    assertEquals(0, r.exit(), r.toString());
    assertTrue(r.stderr().contains("does not exist"), r.stderr());
    assertEquals(0, ipFiles());
  }

  @Test
  void check() throws Exception {
    String conf = vhost("[\"10.244.1.0/24\"]");
    Run add = run(fx.env("ADD", "c1"), conf);
    String withPrev =
        conf.substring(0, conf.length() - 1) + ",\"prevResult\":" + add.stdout().strip() + "}";
    Run r = run(fx.env("CHECK", "c1"), withPrev);
    assertEquals(0, r.exit(), r.toString());
    assertEquals("", r.stdout());
    assertEquals(AgentProtocol.POD_CHECK, fx.requests.getLast().op());
    assertError(run(fx.env("CHECK", "c1"), conf), CniError.INVALID_CONFIG);
    assertError(run(fx.env("CHECK", "c2"), withPrev), CniError.UNKNOWN_CONTAINER);
    String wrongPrev = withPrev.replace("10.244.1.1/32", "10.244.1.77/32");
    assertError(run(fx.env("CHECK", "c1"), wrongPrev), CniError.CHECK_FAILED);
    assertError(
        run(fx.env("CHECK", "c1"), withPrev.replace("\"1.0.0\"", "\"0.3.1\"")),
        CniError.INCOMPATIBLE_VERSION);
  }

  @Test
  void netnsPodJoinsTheSharedBridgeByDefault() throws Exception {
    String conf = fx.conf("1.0.0", "[\"10.244.1.0/24\"]", "");
    Run r = run(fx.env("ADD", "c1"), conf);
    assertEquals(0, r.exit(), r.toString());
    String host = CniMain.hostIfaceName("c1", "eth0");
    assertTrue(plumbing.getFirst().endsWith(" 1500 shared"), plumbing.toString());
    AgentProtocol.Request req = fx.requests.get(0);
    assertEquals("bridge", req.kind());
    assertEquals(host, req.ifname());
    String withPrev =
        conf.substring(0, conf.length() - 1) + ",\"prevResult\":" + r.stdout().strip() + "}";
    assertEquals(0, run(fx.env("CHECK", "c1"), withPrev).exit());
    assertEquals("check eth0 " + host + " [10.244.1.1] [169.254.1.1] shared", plumbing.getLast());
    assertEquals(0, run(fx.env("DEL", "c1"), conf).exit());
    assertEquals("del " + host, plumbing.getLast());
    assertError(
        run(fx.env("ADD", "c2"), fx.conf("1.0.0", "[\"10.244.1.0/24\"]", ",\"attach\":\"x\"")),
        CniError.INVALID_CONFIG);
  }

  @Test
  void netnsPodIsPlumbedAndAttachedAsAfPacket() throws Exception {
    String conf = fx.conf("1.0.0", "[\"10.244.1.0/24\"]", ",\"mtu\":1400,\"attach\":\"port\"");
    Run r = run(fx.env("ADD", "c1"), conf);
    assertEquals(0, r.exit(), r.toString());
    String host = CniMain.hostIfaceName("c1", "eth0");
    assertTrue(host.matches("fn[0-9a-f]{12}"), host);
    String mac = r.json().path("interfaces").get(0).path("mac").asText();
    assertEquals(
        List.of(
            "add "
                + dir.resolve("netns")
                + " eth0 "
                + host
                + " "
                + mac
                + " [10.244.1.1] [169.254.1.1] 1400 port"),
        plumbing);
    assertEquals(host, r.json().path("interfaces").get(1).path("name").asText());
    assertFalse(r.json().path("interfaces").get(1).has("sandbox"));
    AgentProtocol.Request req = fx.requests.get(0);
    assertEquals("af_packet", req.kind());
    assertEquals(host, req.ifname());
    assertNull(req.socket());
    // CHECK runs the interface check; DEL removes the pair.
    String withPrev =
        conf.substring(0, conf.length() - 1) + ",\"prevResult\":" + r.stdout().strip() + "}";
    assertEquals(0, run(fx.env("CHECK", "c1"), withPrev).exit());
    failPlumbing = "check";
    assertError(run(fx.env("CHECK", "c1"), withPrev), CniError.CHECK_FAILED);
    assertEquals(0, run(fx.env("DEL", "c1"), conf).exit());
    assertEquals("del " + host, plumbing.getLast());
    assertEquals(0, ipFiles());
  }

  @Test
  void netnsFailuresUndoEverything() throws Exception {
    String conf = fx.conf("1.0.0", "[\"10.244.1.0/24\"]", "");
    failPlumbing = "add";
    Run r = run(fx.env("ADD", "c1"), conf);
    assertError(r, CniError.PLUMBING_FAILED);
    assertTrue(r.json().path("details").asText().contains("File exists"));
    assertEquals(0, ipFiles());
    assertTrue(fx.requests.isEmpty());
    failPlumbing = null;
    plumbing.clear();
    Map<String, String> env = fx.env("ADD", "c1");
    env.put("CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=reject-me");
    assertError(run(env, conf), CniError.AGENT_REJECTED);
    assertEquals("del " + CniMain.hostIfaceName("c1", "eth0"), plumbing.getLast());
    assertEquals(0, ipFiles());
    Files.delete(dir.resolve("netns"));
    assertError(run(fx.env("ADD", "c1"), conf), CniError.UNKNOWN_CONTAINER);
  }

  @Test
  void podCidrsComeFromTheAgentWhenTheConfigHasNone() throws Exception {
    Run r = run(fx.env("ADD", "c1"), fx.conf("1.0.0", null, ",\"kind\":\"vhost-user\""));
    assertEquals(0, r.exit(), r.toString());
    assertEquals(AgentProtocol.NODE_INFO, fx.requests.get(0).op());
    assertEquals("10.250.0.1/32", r.json().path("ips").get(0).path("address").asText());
  }

  @Test
  void podNameWithoutKubernetesArgs() throws Exception {
    Map<String, String> env = fx.env("ADD", "c1");
    env.remove("CNI_ARGS");
    assertEquals(0, run(env, vhost("[\"10.244.1.0/24\"]")).exit());
    assertEquals("cni/c1", fx.requests.get(0).name());
  }

  /** What podman 4.3's CNI backend passes (logged from a real podman run): the container name. */
  @Test
  void podmanContainerNameBecomesThePodName() throws Exception {
    String conf = vhost("[\"10.244.1.0/24\"]");
    Map<String, String> add = fx.env("ADD", "93dd51ae890f1f3a");
    add.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=web1");
    assertEquals(0, run(add, conf).exit());
    Map<String, String> del = fx.env("DEL", "93dd51ae890f1f3a");
    del.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=web1");
    assertEquals(0, run(del, conf).exit());
    assertEquals(AgentProtocol.POD_ADD, fx.requests.get(0).op());
    assertEquals("podman/web1", fx.requests.get(0).name());
    assertEquals(AgentProtocol.POD_DEL, fx.requests.get(1).op());
    assertEquals("podman/web1", fx.requests.get(1).name());
    assertEquals("93dd51ae890f1f3a", fx.requests.get(1).containerId());
  }

  @Test
  void podNameRules() {
    assertEquals(
        "default/web-1",
        CniMain.podName(Map.of("K8S_POD_NAMESPACE", "default", "K8S_POD_NAME", "web-1"), "c1"));
    assertEquals(
        "default/web-1",
        CniMain.podName(
            Map.of(
                "IgnoreUnknown",
                "1",
                "K8S_POD_NAMESPACE",
                "default",
                "K8S_POD_NAME",
                "web-1",
                "K8S_POD_INFRA_CONTAINER_ID",
                "c1"),
            "c1"));
    // podman: a name and no namespace
    assertEquals("podman/web1", CniMain.podName(Map.of("K8S_POD_NAME", "web1"), "c1"));
    assertEquals("podman/a_b.c-9", CniMain.podName(Map.of("K8S_POD_NAME", "a_b.c-9"), "c1"));
    assertEquals(
        "podman/web1",
        CniMain.podName(Map.of("K8S_POD_NAMESPACE", " ", "K8S_POD_NAME", "web1"), "c1"));
    // names the agent would refuse: the container id instead
    for (String bad : List.of("web-", "_web", "we/b", "we b", "wéb", "x".repeat(254))) {
      assertEquals("cni/c1", CniMain.podName(Map.of("K8S_POD_NAME", bad), "c1"), "name " + bad);
    }
    assertEquals(
        "podman/" + "x".repeat(253),
        CniMain.podName(Map.of("K8S_POD_NAME", "x".repeat(253)), "c1"));
    // nothing usable
    assertEquals("cni/c1", CniMain.podName(Map.of(), "c1"));
    assertEquals("cni/c1", CniMain.podName(Map.of("K8S_POD_NAMESPACE", "default"), "c1"));
    assertEquals("cni/c1", CniMain.podName(Map.of("K8S_POD_NAME", ""), "c1"));
  }
}
