package io.flatnet.agent.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.agent.TestConfigs;
import io.flatnet.agent.api.AgentClient;
import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.agent.api.AgentSocketServer;
import io.flatnet.agent.api.RunDirectoryLock;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** A second agent on a run directory in use stops before it touches the dataplane or any file. */
class AgentLockTest {

  @TempDir Path dir;

  @Test
  void aSecondAgentOnTheSameRunDirectoryRefusesAndTouchesNothing() throws Exception {
    Path config = dir.resolve("node.yaml");
    Files.writeString(config, TestConfigs.BASE);
    Path run = dir.resolve("run");
    Path socket = run.resolve("agent.sock");
    PrintStream err = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    // The first router: its lock and its live socket.
    try (RunDirectoryLock _ = RunDirectoryLock.acquire(run);
        AgentSocketServer _ =
            AgentSocketServer.start(socket, r -> AgentProtocol.Response.success(), 1)) {
      int exit;
      System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
      try {
        exit =
            new CommandLine(new AgentProcess())
                .execute("--config", config.toString(), "--dir", run.toString());
      } finally {
        System.setErr(err);
      }
      assertEquals(3, exit);
      String message = captured.toString(StandardCharsets.UTF_8);
      assertTrue(
          message.contains(
              "flatnet agent: "
                  + run
                  + " is in use by another flatnet router (pid "
                  + ProcessHandle.current().pid()
                  + ")"),
          message);
      assertTrue(
          new AgentClient(socket, Duration.ofSeconds(2))
              .call(AgentProtocol.Request.nodeInfo())
              .ok(),
          "the first router's socket still answers");
      assertTrue(Files.notExists(run.resolve("counters.dat")));
    }
  }
}
