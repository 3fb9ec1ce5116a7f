package io.flatnet.agent.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentSocketServerTest {

  @TempDir Path dir;

  final List<AgentProtocol.Request> seen = new CopyOnWriteArrayList<>();

  AgentProtocol.Response echo(AgentProtocol.Request r) {
    seen.add(r);
    return switch (r.op()) {
      case "boom" -> throw new IllegalStateException("kaboom");
      case "slow" -> {
        try {
          Thread.sleep(2000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        yield AgentProtocol.Response.success();
      }
      default -> AgentProtocol.Response.success(r.socket(), "02:00:00:00:00:01");
    };
  }

  @Test
  void requestResponseOverTheClient() throws Exception {
    Path sock = dir.resolve("run/agent.sock");
    try (AgentSocketServer s = AgentSocketServer.start(sock, this::echo, 2)) {
      AgentClient c = new AgentClient(sock, Duration.ofSeconds(5));
      AgentProtocol.Request req =
          new AgentProtocol.Request(
              "pod-add",
              "ns/p",
              "cid",
              "vhost-user",
              List.of("10.0.0.2"),
              null,
              "/x.sock",
              "/ns",
              null);
      AgentProtocol.Response r = c.call(req);
      assertTrue(r.ok());
      assertEquals("/x.sock", r.socket());
      assertEquals("02:00:00:00:00:01", r.mac());
      assertEquals(List.of(req), seen);
      assertEquals(s.socket(), sock);
    }
    assertFalse(Files.exists(sock), "the socket file is removed on close");
  }

  @Test
  void severalRequestsPerConnectionAndBadLines() throws Exception {
    Path sock = dir.resolve("agent.sock");
    try (AgentSocketServer _ = AgentSocketServer.start(sock, this::echo, 2);
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(sock));
      LineChannel lines = new LineChannel(ch);
      lines.writeLine("{\"op\":\"pod-del\",\"name\":\"a/b\",\"future\":1}");
      assertEquals(
          "{\"ok\":true,\"mac\":\"02:00:00:00:00:01\"}",
          lines.readLine(AgentProtocol.MAX_RESPONSE_LINE));
      lines.writeLine("not json");
      AgentProtocol.Response bad =
          AgentProtocol.decodeResponse(lines.readLine(AgentProtocol.MAX_RESPONSE_LINE));
      assertFalse(bad.ok());
      assertTrue(bad.error().startsWith("bad request: "), bad.error());
      lines.writeLine("{\"name\":\"no-op\"}");
      assertEquals(
          "bad request: no op",
          AgentProtocol.decodeResponse(lines.readLine(AgentProtocol.MAX_RESPONSE_LINE)).error());
      lines.writeLine("{\"op\":\"boom\"}");
      AgentProtocol.Response boom =
          AgentProtocol.decodeResponse(lines.readLine(AgentProtocol.MAX_RESPONSE_LINE));
      assertTrue(boom.error().contains("kaboom"), boom.error());
      assertEquals(2, seen.size());
    }
  }

  @Test
  void idleConnectionsAreClosed() throws Exception {
    Path sock = dir.resolve("agent.sock");
    try (AgentSocketServer _ =
            AgentSocketServer.start(sock, this::echo, 1, Duration.ofMillis(200));
        SocketChannel idle = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      idle.connect(UnixDomainSocketAddress.of(sock));
      assertNull(
          new LineChannel(idle).readLine(AgentProtocol.MAX_RESPONSE_LINE), "closed by the server");
      // The only control thread is free again.
      assertTrue(
          new AgentClient(sock, Duration.ofSeconds(5)).call(AgentProtocol.Request.nodeInfo()).ok());
    }
  }

  @Test
  void oversizedRequestIsAnsweredWithAnErrorAndTheConnectionClosed() throws Exception {
    Path sock = dir.resolve("agent.sock");
    try (AgentSocketServer _ = AgentSocketServer.start(sock, this::echo, 1);
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(sock));
      LineChannel lines = new LineChannel(ch);
      try {
        lines.writeLine("x".repeat(AgentProtocol.MAX_REQUEST_LINE + 10));
      } catch (java.io.IOException e) {
        // the server may close before all is written
      }
      AgentProtocol.Response r =
          AgentProtocol.decodeResponse(lines.readLine(AgentProtocol.MAX_RESPONSE_LINE));
      assertFalse(r.ok());
      assertEquals("bad request: longer than 65536 bytes; closing the connection", r.error());
      try {
        assertNull(lines.readLine(AgentProtocol.MAX_RESPONSE_LINE));
      } catch (java.io.IOException e) {
        // reset: the server closed with the rest of our line unread
      }
      assertEquals(List.of(), seen);
    }
  }

  @Test
  void theClientRefusesAnOversizedRequestBeforeSendingIt() throws Exception {
    Path sock = dir.resolve("agent.sock");
    try (AgentSocketServer _ = AgentSocketServer.start(sock, this::echo, 1)) {
      java.io.IOException e =
          assertThrows(
              java.io.IOException.class,
              () ->
                  new AgentClient(sock, Duration.ofSeconds(5))
                      .call(AgentProtocol.Request.podDel("a/" + "b".repeat(70_000), "cid")));
      assertTrue(e.getMessage().contains("the agent accepts at most 65536"), e.getMessage());
      assertEquals(List.of(), seen);
    }
  }

  @Test
  void clientTimesOut() throws Exception {
    Path sock = dir.resolve("agent.sock");
    try (AgentSocketServer _ = AgentSocketServer.start(sock, this::echo, 1)) {
      AgentClient c = new AgentClient(sock, Duration.ofMillis(200));
      AgentClient.UnavailableException e =
          assertThrows(
              AgentClient.UnavailableException.class,
              () ->
                  c.call(
                      new AgentProtocol.Request(
                          "slow", null, null, null, null, null, null, null, null)));
      assertFalse(e.socketMissing());
      assertTrue(e.getMessage().contains("did not answer within 200 ms"), e.getMessage());
    }
  }

  @Test
  void missingSocketIsReportedAsSuch() {
    AgentClient c = new AgentClient(dir.resolve("none.sock"), Duration.ofSeconds(1));
    AgentClient.UnavailableException e =
        assertThrows(
            AgentClient.UnavailableException.class, () -> c.call(AgentProtocol.Request.nodeInfo()));
    assertTrue(e.socketMissing());
  }

  @Test
  void staleSocketFileIsReplacedAndDeadSocketRefuses() throws Exception {
    Path sock = dir.resolve("agent.sock");
    Files.writeString(sock, "stale");
    try (AgentSocketServer _ = AgentSocketServer.start(sock, this::echo, 1)) {
      assertTrue(
          new AgentClient(sock, Duration.ofSeconds(5)).call(AgentProtocol.Request.nodeInfo()).ok());
    }
    Files.writeString(sock, "stale");
    AgentClient.UnavailableException e =
        assertThrows(
            AgentClient.UnavailableException.class,
            () ->
                new AgentClient(sock, Duration.ofSeconds(1))
                    .call(AgentProtocol.Request.nodeInfo()));
    assertFalse(e.socketMissing());
  }
}
