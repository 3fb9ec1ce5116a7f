package io.flatnet.agent.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/flatnet-cni as a real process (as a CNI runtime runs it: env, stdin, stdout, exit code),
 * against a real AgentSocketServer with a recording handler. Needs cni/target/classpath.txt, which
 * the build writes in process-classes.
 */
class CniScriptTest {

  static final Path SCRIPT = Path.of("..", "bin", "flatnet-cni").toAbsolutePath().normalize();

  @TempDir Path dir;
  CniFixture fx;

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

  Run run(Map<String, String> env, String stdin) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(SCRIPT.toString());
    pb.environment().keySet().removeIf(k -> k.startsWith("CNI_"));
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    pb.environment().put("FLATNET_HOME", dir.resolve("no-install").toString());
    pb.environment().putAll(env);
    Process p = pb.start();
    CompletableFuture<String> err =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
              } catch (IOException e) {
                return e.toString();
              }
            });
    try (var in = p.getOutputStream()) {
      in.write(stdin.getBytes(StandardCharsets.UTF_8));
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "flatnet-cni timed out");
    return new Run(p.exitValue(), out, err.get());
  }

  String vhost(String cidrs) {
    return fx.conf("1.0.0", cidrs, ",\"kind\":\"vhost-user\"");
  }

  @Test
  void version() throws Exception {
    assertTrue(Files.isExecutable(SCRIPT), SCRIPT + " is not executable");
    Run r = run(Map.of("CNI_COMMAND", "VERSION"), "{\"cniVersion\":\"1.0.0\"}");
    assertEquals(0, r.exit(), r.toString());
    assertEquals("1.0.0", r.json().path("cniVersion").asText());
    assertTrue(r.json().path("supportedVersions").toString().contains("\"1.0.0\""), r.stdout());
  }

  @Test
  void missingEnvironment() throws Exception {
    Map<String, String> env = fx.env("ADD", "c1");
    env.remove("CNI_CONTAINERID");
    Run r = run(env, vhost("[\"10.244.1.0/24\"]"));
    assertEquals(1, r.exit(), r.toString());
    assertEquals(CniError.INVALID_ENV, r.json().path("code").asInt());
    assertEquals("CNI_CONTAINERID is not set", r.json().path("msg").asText());
    assertTrue(r.stderr().contains("flatnet-cni: error 4"), r.stderr());
  }

  @Test
  void badJson() throws Exception {
    Run r = run(fx.env("ADD", "c1"), "{\"cniVersion\": ");
    assertEquals(1, r.exit(), r.toString());
    assertEquals(CniError.DECODE_FAILURE, r.json().path("code").asInt());
  }

  @Test
  void exhaustedRangeAgainstARealAgentSocket() throws Exception {
    String conf = vhost("[\"10.244.9.0/31\"]"); // a /31 holds two addresses
    assertEquals(0, run(fx.env("ADD", "c1"), conf).exit());
    Run second = run(fx.env("ADD", "c2"), conf);
    assertEquals(0, second.exit(), second.toString());
    assertEquals("10.244.9.1/32", second.json().path("ips").get(0).path("address").asText());
    Run r = run(fx.env("ADD", "c3"), conf);
    assertEquals(1, r.exit(), r.toString());
    assertEquals(CniError.RANGE_EXHAUSTED, r.json().path("code").asInt());
    assertEquals(2, fx.requests.size());
  }

  @Test
  void delOfAnUnknownContainerSucceeds() throws Exception {
    Run r = run(fx.env("DEL", "unknown"), vhost(null));
    assertEquals(0, r.exit(), r.toString());
    assertEquals("", r.stdout());
    assertEquals("pod-del", fx.requests.get(0).op());
  }

  @Test
  void noJdkIsACniError() throws Exception {
    Run r =
        run(
            Map.of(
                "CNI_COMMAND",
                "VERSION",
                "JAVA_HOME",
                dir.resolve("nojdk").toString(),
                "FLATNET_JVM_DIR",
                dir.resolve("nojvms").toString(),
                "PATH",
                "/usr/bin:/bin"),
            "");
    // A JDK 25 may still be found on this machine's default locations only through
    // FLATNET_JVM_DIR, which points nowhere: so the script must fail cleanly.
    assertEquals(1, r.exit(), r.toString());
    assertEquals(CniError.RUNTIME_MISSING, r.json().path("code").asInt());
  }
}
