package io.flatnet.agent.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunDirectoryLockTest {

  @TempDir Path dir;

  /** A second process that takes the lock, says so, and holds it until its stdin closes. */
  public static final class Holder {
    public static void main(String[] args) throws Exception {
      try (RunDirectoryLock _ = RunDirectoryLock.acquire(Path.of(args[0]))) {
        System.out.println("locked");
        System.out.flush();
        System.in.read();
      }
    }
  }

  @Test
  void aSecondRouterIsRefusedWithTheHoldersPidAndTheFirstKeepsTheLock() throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    Process holder =
        new ProcessBuilder(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                Holder.class.getName(),
                dir.toString())
            .redirectErrorStream(true)
            .start();
    try {
      BufferedReader out =
          new BufferedReader(
              new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
      assertEquals("locked", out.readLine());
      IOException e = assertThrows(IOException.class, () -> RunDirectoryLock.acquire(dir));
      assertEquals(
          dir
              + " is in use by another flatnet router (pid "
              + holder.pid()
              + "): one agent per run directory; stop it first or use another --dir",
          e.getMessage());
      // Refusing did not disturb the holder: still locked, its pid still in the file.
      assertThrows(IOException.class, () -> RunDirectoryLock.acquire(dir));
      assertEquals(
          holder.pid() + "", Files.readString(dir.resolve(RunDirectoryLock.FILE_NAME)).trim());
    } finally {
      holder.getOutputStream().close();
      assertTrue(holder.waitFor(30, TimeUnit.SECONDS));
    }
    // The holder is gone: the lock is free again, now with our pid.
    try (RunDirectoryLock lock = RunDirectoryLock.acquire(dir)) {
      assertEquals(ProcessHandle.current().pid() + "", Files.readString(lock.file()).trim());
    }
  }

  @Test
  void twoLocksInOneProcessAreRefusedToo() throws Exception {
    try (RunDirectoryLock _ = RunDirectoryLock.acquire(dir)) {
      IOException e = assertThrows(IOException.class, () -> RunDirectoryLock.acquire(dir));
      assertTrue(
          e.getMessage().contains("(pid " + ProcessHandle.current().pid() + ")"), e.getMessage());
    }
    RunDirectoryLock.acquire(dir).close();
  }

  @Test
  void aStaleSocketIsReplacedALiveOneIsNot() throws Exception {
    Path socket = dir.resolve("agent.sock");
    // Stale: bound, then the listener is gone (the file stays, as after a crash).
    try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      dead.bind(UnixDomainSocketAddress.of(socket));
    }
    assertTrue(Files.exists(socket));
    assertFalse(RunDirectoryLock.isListening(socket));
    RunDirectoryLock.removeStaleSocket(socket);
    assertFalse(Files.exists(socket));

    try (ServerSocketChannel live = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      live.bind(UnixDomainSocketAddress.of(socket));
      assertTrue(RunDirectoryLock.isListening(socket));
      IOException e =
          assertThrows(IOException.class, () -> RunDirectoryLock.removeStaleSocket(socket));
      assertTrue(e.getMessage().contains("another process is serving"), e.getMessage());
      assertTrue(Files.exists(socket), "the live socket is left alone");
      // The agent's server refuses to take it over as well.
      IOException again =
          assertThrows(
              IOException.class,
              () -> AgentSocketServer.start(socket, r -> AgentProtocol.Response.success(), 1));
      assertTrue(again.getMessage().contains("another process is serving"), again.getMessage());
      assertTrue(Files.exists(socket));
    }
    // A plain file where the socket goes is not a listener either.
    Files.delete(socket);
    Files.writeString(socket, "junk");
    assertFalse(RunDirectoryLock.isListening(socket));
    try (AgentSocketServer s =
        AgentSocketServer.start(socket, r -> AgentProtocol.Response.success(), 1)) {
      assertTrue(RunDirectoryLock.isListening(s.socket()));
    }
    assertEquals(0, countSockets(), "removed on close");
  }

  private long countSockets() throws IOException {
    try (var files = Files.list(dir)) {
      return files.filter(p -> p.getFileName().toString().endsWith(".sock")).count();
    }
  }
}
