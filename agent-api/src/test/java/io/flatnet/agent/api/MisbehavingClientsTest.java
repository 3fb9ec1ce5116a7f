package io.flatnet.agent.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients that misbehave on purpose, over real unix sockets, while a well-behaved client (a CNI
 * style node-info, a ctl show-ports) must still get its answer promptly. One handler thread, so
 * that any client holding it would show.
 */
class MisbehavingClientsTest {

  /**
   * A well-behaved client's deadline: far below every idle timeout a stuck handler would wait for
   * (8 s and more), far above what a loaded 2-CPU CI machine takes to answer (2.4 s seen once).
   */
  static final Duration PROMPTLY = Duration.ofSeconds(5);

  @TempDir Path dir;

  final List<SocketChannel> opened = new ArrayList<>();

  @AfterEach
  void closeClients() throws IOException {
    for (SocketChannel ch : opened) {
      ch.close();
    }
  }

  static AgentProtocol.Response handle(AgentProtocol.Request r) {
    return switch (r.op()) {
      case AgentProtocol.SHOW_ROUTES -> AgentProtocol.Response.data(routes(100_000));
      case AgentProtocol.SHOW_PORTS -> AgentProtocol.Response.data(routes(10));
      default -> AgentProtocol.Response.nodeInfo(List.of("10.244.1.0/24"), List.of("169.254.1.1"));
    };
  }

  static ArrayNode routes(int n) {
    ArrayNode out = AgentProtocol.json().createArrayNode();
    for (int i = 0; i < n; i++) {
      ObjectNode r = out.addObject();
      r.put("prefix", "10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255) + "/32");
      r.put("via", "192.168.0.1");
      r.put("port", "uplink0");
    }
    return out;
  }

  AgentSocketServer start(AgentSocketServer.Settings settings) throws IOException {
    return AgentSocketServer.start(
        dir.resolve("agent.sock"), MisbehavingClientsTest::handle, settings);
  }

  static AgentSocketServer.Settings oneThread() {
    return AgentSocketServer.Settings.defaults()
        .withHandlerThreads(1)
        .withIdleTimeout(Duration.ofSeconds(30))
        .withWriteTimeout(Duration.ofMillis(500));
  }

  SocketChannel connect() throws IOException {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    opened.add(ch);
    ch.connect(UnixDomainSocketAddress.of(dir.resolve("agent.sock")));
    return ch;
  }

  /** A well-behaved client's call, which must finish within {@link #PROMPTLY}. */
  AgentProtocol.Response wellBehaved(AgentProtocol.Request request) throws IOException {
    long t0 = System.nanoTime();
    AgentProtocol.Response r = new AgentClient(dir.resolve("agent.sock"), PROMPTLY).call(request);
    assertTrue(r.ok(), r.error());
    assertTrue(
        System.nanoTime() - t0 < PROMPTLY.toNanos(), "answered in " + (System.nanoTime() - t0));
    return r;
  }

  static void send(SocketChannel ch, String line) throws IOException {
    ByteBuffer b = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }

  /** Reads until the server closes; how many bytes came. Fails if that takes over 5 s. */
  static long readUntilClosed(SocketChannel ch) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(1 << 16);
    long total = 0;
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    try {
      int n;
      while ((n = ch.read(b)) >= 0) {
        total += n;
        b.clear();
        assertTrue(System.nanoTime() < deadline, "the server did not close the connection");
      }
    } catch (IOException e) {
      // reset by the server: closed as well
    }
    return total;
  }

  static void awaitOpenConnections(AgentSocketServer server, int n) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    while (server.openConnections() != n) {
      assertTrue(System.nanoTime() < deadline, "open connections: " + server.openConnections());
      Thread.sleep(20);
    }
  }

  @Test
  void aClientThatNeverReadsItsAnswerIsDisconnectedAndBlocksNobody() throws Exception {
    try (AgentSocketServer server = start(oneThread())) {
      SocketChannel greedy = connect();
      // About 8 MB of answer, far more than the socket buffers hold: the server's write blocks.
      send(greedy, AgentProtocol.encode(AgentProtocol.Request.of(AgentProtocol.SHOW_ROUTES)));
      Thread.sleep(300);
      wellBehaved(AgentProtocol.Request.nodeInfo());
      wellBehaved(AgentProtocol.Request.of(AgentProtocol.SHOW_PORTS));
      awaitOpenConnections(server, 0); // the greedy one is cut off after the write timeout
      long got = readUntilClosed(greedy);
      assertTrue(got < 8_000_000, "the server gave up mid-answer, after " + got + " bytes");
    }
  }

  @Test
  void aClientThatPipelinesWithoutReadingIsDisconnectedAndBlocksNobody() throws Exception {
    try (AgentSocketServer server = start(oneThread())) {
      SocketChannel pipeliner = connect();
      pipeliner.configureBlocking(false);
      String request =
          AgentProtocol.encode(AgentProtocol.Request.of(AgentProtocol.SHOW_PORTS)) + "\n";
      ByteBuffer many =
          ByteBuffer.wrap(
              request.repeat(20_000).getBytes(StandardCharsets.UTF_8)); // ~10 MB of answers
      long until = System.nanoTime() + Duration.ofSeconds(1).toNanos();
      try {
        while (many.hasRemaining() && System.nanoTime() < until) {
          if (pipeliner.write(many) == 0) {
            Thread.sleep(5);
          }
        }
      } catch (IOException e) {
        // broken pipe: already disconnected for not reading
      }
      assertTrue(many.hasRemaining(), "the server stopped reading once its answers backed up");
      wellBehaved(AgentProtocol.Request.nodeInfo());
      awaitOpenConnections(server, 0);
      pipeliner.configureBlocking(true);
      readUntilClosed(pipeliner);
    }
  }

  @Test
  void silentClientsHoldNoHandlerAndTooManyAreRefusedClearly() throws Exception {
    AgentSocketServer.Settings settings =
        // Long enough that the first two silent clients are still open when the third connects,
        // however slow the machine (1.5 s was not, once, on a loaded CI machine).
        oneThread().withMaxConnections(3).withIdleTimeout(Duration.ofSeconds(8));
    try (AgentSocketServer server = start(settings)) {
      connect();
      connect();
      awaitOpenConnections(server, 2);
      // Two connections that send nothing: the third one still gets its answer at once.
      wellBehaved(AgentProtocol.Request.nodeInfo());
      // The server may not have seen that client's close yet; if the third silent client came
      // first it would be the one refused, and the busy check below would find room.
      awaitOpenConnections(server, 2);
      connect();
      awaitOpenConnections(server, 3);
      AgentProtocol.Response busy =
          new AgentClient(dir.resolve("agent.sock"), PROMPTLY)
              .call(AgentProtocol.Request.nodeInfo());
      assertFalse(busy.ok());
      assertTrue(busy.wantsRetry());
      assertEquals(
          "agent busy: 3 control connections are open, the most it serves; try again",
          busy.error());
      // The reaper closes the silent ones; then there is room again.
      awaitOpenConnections(server, 0);
      wellBehaved(AgentProtocol.Request.nodeInfo());
    }
  }

  @Test
  void aClientTricklingARequestIsCutOffAtTheIdleTimeout() throws Exception {
    try (AgentSocketServer server = start(oneThread().withIdleTimeout(Duration.ofMillis(600)))) {
      SocketChannel slow = connect();
      long t0 = System.nanoTime();
      try {
        for (int i = 0; i < 40; i++) {
          slow.write(ByteBuffer.wrap(new byte[] {'{'})); // never a whole line
          Thread.sleep(50);
        }
      } catch (IOException e) {
        // closed by the server
      }
      awaitOpenConnections(server, 0);
      assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(3).toNanos());
    }
  }

  @Test
  void showRoutesOf100kRoutesThroughTheRealSocket() throws Exception {
    try (AgentSocketServer _ = start(AgentSocketServer.Settings.defaults())) {
      AgentProtocol.Response r =
          new AgentClient(dir.resolve("agent.sock"), Duration.ofSeconds(30))
              .call(AgentProtocol.Request.of(AgentProtocol.SHOW_ROUTES));
      assertTrue(r.ok(), r.error());
      assertEquals(100_000, r.data().size());
      assertEquals("10.1.134.159/32", r.data().get(99_999).get("prefix").asText());
      assertTrue(
          AgentProtocol.encode(r).length() > AgentProtocol.MAX_REQUEST_LINE * 50,
          "far beyond the old 64 KiB line limit");
    }
  }

  @Test
  void aLiveSocketIsNotTakenOver() throws Exception {
    try (AgentSocketServer first = start(AgentSocketServer.Settings.defaults())) {
      IOException e =
          assertThrows(IOException.class, () -> start(AgentSocketServer.Settings.defaults()));
      assertTrue(e.getMessage().contains("another process is serving"), e.getMessage());
      wellBehaved(AgentProtocol.Request.nodeInfo());
      assertTrue(Files.exists(first.socket()));
    }
  }

  @Test
  void theSocketIsBornWithMode0660AndItsGroup() throws Exception {
    AgentSocketServer.Settings settings =
        AgentSocketServer.Settings.defaults().withSocketGroup("65534");
    try (AgentSocketServer server = start(settings)) {
      assertEquals(
          "rw-rw----",
          java.nio.file.attribute.PosixFilePermissions.toString(
              Files.getPosixFilePermissions(server.socket())));
      int gid = (Integer) Files.getAttribute(server.socket(), "unix:gid");
      assertEquals(65534, gid);
      try (var siblings = Files.list(dir)) {
        assertEquals(List.of(server.socket()), siblings.toList(), "no private directory left");
      }
    }
  }

  @Test
  void aMissingSocketGroupIsAClearErrorAndLeavesNothingBehind() throws Exception {
    IOException e =
        assertThrows(
            IOException.class,
            () -> start(AgentSocketServer.Settings.defaults().withSocketGroup("no-such-group-x")));
    assertEquals(
        "cannot listen on "
            + dir.resolve("agent.sock")
            + ": the socket group 'no-such-group-x' (agent.socketGroup) does not exist on this node",
        e.getMessage());
    try (var left = Files.list(dir)) {
      assertEquals(List.of(), left.toList());
    }
  }
}
