package io.flatnet.agent.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ControlAccessTest {

  @TempDir Path dir;

  @Test
  void readsAreOpenWritesNeedRootOrAWriter() {
    for (String op : ControlAccess.READ_ONLY_OPS) {
      assertNull(ControlAccess.refusal(op, 65534, ControlAccess.ROOT_ONLY), op);
      assertNull(ControlAccess.refusal(op, ControlAccess.UNKNOWN_UID, ControlAccess.ROOT_ONLY));
    }
    for (String op :
        List.of(
            AgentProtocol.POD_ADD,
            AgentProtocol.POD_DEL,
            AgentProtocol.ROUTE_ADD,
            AgentProtocol.ROUTE_DEL,
            AgentProtocol.CAPTURE_START, // it shows the packets' contents
            AgentProtocol.CAPTURE_STOP,
            "some-future-op")) {
      assertNull(ControlAccess.refusal(op, 0, ControlAccess.ROOT_ONLY), op);
      assertNull(ControlAccess.refusal(op, 1000, uid -> uid == 1000), op);
      String refusal = ControlAccess.refusal(op, 1001, uid -> uid == 1000);
      assertTrue(refusal.startsWith("permission denied: uid 1001 may not run " + op), refusal);
      assertTrue(
          ControlAccess.refusal(op, ControlAccess.UNKNOWN_UID, uid -> true)
              .contains("whose uid could not be read"));
    }
  }

  @Test
  void userNamesAndNumbersToUids() {
    assertEquals(OptionalInt.of(0), UnixUsers.uid("root"));
    assertEquals(OptionalInt.of(65534), UnixUsers.uid("65534"));
    assertEquals(OptionalInt.of(4242), UnixUsers.uid("4242"), "a uid without a name is fine");
    assertEquals(OptionalInt.empty(), UnixUsers.uid("no-such-user-here"));
    assertEquals(OptionalInt.empty(), UnixUsers.uid(""));
    assumeTrue(Files.exists(Path.of("/usr/bin/getent")));
    assertEquals(OptionalInt.of(65534), UnixUsers.uid("nobody"));
  }

  static final String HELPER =
      """
      import java.net.*;
      import java.nio.*;
      import java.nio.channels.*;
      import java.nio.charset.StandardCharsets;
      import java.nio.file.Path;

      /** Sends each argument after the first as a request line; prints each answer line. */
      public class PeerClient {
        public static void main(String[] args) throws Exception {
          try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(Path.of(args[0])));
            var in = new java.io.BufferedReader(
                new java.io.InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
            var out = Channels.newOutputStream(ch);
            for (int i = 1; i < args.length; i++) {
              out.write((args[i] + "\\n").getBytes(StandardCharsets.UTF_8));
              out.flush();
              System.out.println(in.readLine());
            }
          }
        }
      }
      """;

  /** Runs the helper as uid/gid 65534 (nobody) with no other groups; its output lines. */
  List<String> asNobody(Path socket, String... requests) throws Exception {
    Path helper = dir.resolve("helper/PeerClient.java");
    Files.createDirectories(helper.getParent());
    Files.writeString(helper, HELPER);
    Files.setPosixFilePermissions(helper.getParent(), PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(helper, PosixFilePermissions.fromString("rw-r--r--"));
    String java = ProcessHandle.current().info().command().orElseThrow();
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                java,
                helper.toString(),
                socket.toString()));
    cmd.addAll(List.of(requests));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "helper finished");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), out);
    return out.lines().toList();
  }

  static boolean canDropPrivileges() {
    try {
      return "0"
              .equals(
                  new String(
                          new ProcessBuilder("id", "-u").start().getInputStream().readAllBytes(),
                          StandardCharsets.UTF_8)
                      .trim())
          && Files.isExecutable(Path.of("/usr/bin/setpriv"));
    } catch (IOException e) {
      return false;
    }
  }

  @Test
  void overTheRealSocketANonRootPeerMayReadButNotWrite() throws Exception {
    assumeTrue(canDropPrivileges(), "needs root and setpriv");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path socket = dir.resolve("run/agent.sock");
    Files.createDirectories(socket.getParent());
    Files.setPosixFilePermissions(socket.getParent(), PosixFilePermissions.fromString("rwxr-xr-x"));
    List<String> handled = new java.util.concurrent.CopyOnWriteArrayList<>();
    AgentProtocol.Handler handler =
        r -> {
          handled.add(r.op());
          return AgentProtocol.Response.success();
        };
    String show = AgentProtocol.encode(AgentProtocol.Request.of(AgentProtocol.SHOW_PORTS));
    String routeAdd =
        AgentProtocol.encode(AgentProtocol.Request.routeAdd("10.9.0.0/16", "10.0.0.1", "up0"));
    AgentSocketServer.Settings settings =
        AgentSocketServer.Settings.defaults().withSocketGroup("65534");
    try (AgentSocketServer _ = AgentSocketServer.start(socket, handler, settings)) {
      List<String> out = asNobody(socket, show, routeAdd);
      assertEquals("{\"ok\":true}", out.get(0));
      AgentProtocol.Response refused = AgentProtocol.decodeResponse(out.get(1));
      assertEquals(
          "permission denied: uid 65534 may not run route-add (it changes the router: only root"
              + " and the uids in agent.writers may; read-only commands such as show and trace are"
              + " open to the socket's group)",
          refused.error());
      assertEquals(List.of(AgentProtocol.SHOW_PORTS), handled, "the write never reached it");
      // Root may write.
      assertTrue(
          new AgentClient(socket, Duration.ofSeconds(5))
              .call(AgentProtocol.Request.routeAdd("10.9.0.0/16", "10.0.0.1", "up0"))
              .ok());
    }
    handled.clear();
    try (AgentSocketServer _ =
        AgentSocketServer.start(socket, handler, settings.withWriters(Set.of(65534)::contains))) {
      assertEquals(List.of("{\"ok\":true}"), asNobody(socket, routeAdd));
      assertEquals(List.of(AgentProtocol.ROUTE_ADD), handled);
    }
  }

  static final String HOLDER =
      """
      import java.net.*;
      import java.nio.channels.*;
      import java.nio.charset.StandardCharsets;
      import java.nio.file.Path;
      import java.util.*;

      /** Opens args[1] connections that send nothing, prints what the last one is told, holds. */
      public class Holder {
        public static void main(String[] args) throws Exception {
          List<SocketChannel> held = new ArrayList<>();
          int n = Integer.parseInt(args[1]);
          for (int i = 0; i < n; i++) {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            ch.connect(UnixDomainSocketAddress.of(Path.of(args[0])));
            held.add(ch);
            Thread.sleep(200);
          }
          var in = new java.io.BufferedReader(new java.io.InputStreamReader(
              Channels.newInputStream(held.get(n - 1)), StandardCharsets.UTF_8));
          System.out.println(in.readLine());
          System.out.println("held");
          System.out.flush();
          System.in.read();
        }
      }
      """;

  @Test
  void nonRootClientsHoldingConnectionsCannotLockOutRoot() throws Exception {
    assumeTrue(canDropPrivileges(), "needs root and setpriv");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path socket = dir.resolve("agent.sock");
    AgentSocketServer.Settings settings =
        AgentSocketServer.Settings.defaults()
            .withSocketGroup("65534")
            .withMaxConnections(4)
            .withIdleTimeout(Duration.ofSeconds(60));
    Path helper = dir.resolve("holder/Holder.java");
    Files.createDirectories(helper.getParent());
    Files.writeString(helper, HOLDER);
    Files.setPosixFilePermissions(helper.getParent(), PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(helper, PosixFilePermissions.fromString("rw-r--r--"));
    String java = ProcessHandle.current().info().command().orElseThrow();
    try (AgentSocketServer server =
        AgentSocketServer.start(socket, r -> AgentProtocol.Response.success(), settings)) {
      assertEquals(3, server.nonRootLimit());
      Process holder =
          new ProcessBuilder(
                  "setpriv",
                  "--reuid=65534",
                  "--regid=65534",
                  "--clear-groups",
                  java,
                  helper.toString(),
                  socket.toString(),
                  "4")
              .redirectErrorStream(true)
              .start();
      try {
        var out =
            new java.io.BufferedReader(
                new java.io.InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
        AgentProtocol.Response refused = AgentProtocol.decodeResponse(out.readLine());
        assertEquals(
            "agent busy: 3 control connections of non-root clients are open, the most it serves"
                + " (the rest are kept for root); try again",
            refused.error());
        assertTrue(refused.wantsRetry());
        assertEquals("held", out.readLine());
        // Uid 65534 holds 3 silent connections; root (CNI) still gets in at once.
        long t0 = System.nanoTime();
        assertTrue(
            new AgentClient(socket, Duration.ofSeconds(2))
                .call(AgentProtocol.Request.nodeInfo())
                .ok());
        assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(2).toNanos());
      } finally {
        holder.getOutputStream().close();
        assertTrue(holder.waitFor(30, TimeUnit.SECONDS));
      }
    }
  }
}
