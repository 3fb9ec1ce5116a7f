package io.flatnet.agent.bgp;

import static io.flatnet.agent.bgp.FpmBytes.recording;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** The server's connection handling, with short timers: replacement, resync, stale hold. */
class FpmServerTest {

  /** The recording's first 11 frames: zebra's table on connect. */
  static final int FIRST_TABLE_BYTES = 744;

  static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(20);
    }
  }

  static FpmServer server(BgpRoutes routes, Duration resyncQuiet, Duration staleHold)
      throws IOException {
    FpmServer s =
        new FpmServer(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
            routes,
            resyncQuiet,
            staleHold);
    s.start();
    return s;
  }

  static Socket connect(FpmServer s) throws IOException {
    return new Socket(InetAddress.getLoopbackAddress(), s.boundAddress().getPort());
  }

  static int routeCount(BgpRoutes routes) {
    return routes.snapshot().routes().size();
  }

  @Test
  void routesAreDroppedWhenZebraStaysAwayLongerThanTheStaleHold() throws Exception {
    BgpRoutes routes = new BgpRoutes(() -> {});
    try (FpmServer s = server(routes, Duration.ofMillis(200), Duration.ofMillis(700))) {
      try (Socket zebra = connect(s)) {
        zebra
            .getOutputStream()
            .write(Arrays.copyOf(recording("nhg-off-connection1.fpm"), FIRST_TABLE_BYTES));
        await("the table", () -> routeCount(routes) == 11);
      }
      await("the disconnect", () -> !s.connected());
      Thread.sleep(300);
      assertEquals(11, routeCount(routes), "kept while zebra may come back");
      await("the stale hold to end", () -> routeCount(routes) == 0);
    }
  }

  @Test
  void aReconnectWithinTheStaleHoldKeepsTheRoutesAndResyncs() throws Exception {
    BgpRoutes routes = new BgpRoutes(() -> {});
    byte[] bytes = recording("nhg-off-connection1.fpm");
    try (FpmServer s = server(routes, Duration.ofMillis(300), Duration.ofMillis(700))) {
      try (Socket zebra = connect(s)) {
        zebra.getOutputStream().write(Arrays.copyOf(bytes, FIRST_TABLE_BYTES));
        await("the table", () -> routeCount(routes) == 11);
      }
      await("the disconnect", () -> !s.connected());
      try (Socket zebra = connect(s)) {
        zebra.getOutputStream().write(Arrays.copyOf(bytes, 148)); // 10.9 and 10.10 only
        Thread.sleep(1000); // past the stale hold: it was cancelled by the connection
        await("the resync", () -> routeCount(routes) == 2);
        assertTrue(s.connected());
      }
    }
  }

  @Test
  void aNewConnectionReplacesTheOld() throws Exception {
    BgpRoutes routes = new BgpRoutes(() -> {});
    try (FpmServer s = server(routes, Duration.ofSeconds(2), Duration.ofSeconds(60));
        Socket first = connect(s)) {
      await("the first connection", s::connected);
      try (Socket second = connect(s)) {
        first.setSoTimeout(5000);
        boolean closed;
        try {
          closed = first.getInputStream().read() == -1;
        } catch (SocketException e) {
          closed = true;
        }
        assertTrue(closed, "the old connection is closed");
        second.getOutputStream().write(Arrays.copyOf(recording("nhg-off-connection1.fpm"), 64));
        await("the new connection's route", () -> routeCount(routes) == 1);
      }
    }
  }

  @Test
  void anAddressInUseIsAClearError() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      FpmServer s =
          new FpmServer(
              new InetSocketAddress(InetAddress.getLoopbackAddress(), taken.getLocalPort()),
              new BgpRoutes(() -> {}));
      IOException e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class, s::start);
      assertTrue(
          e.getMessage().startsWith("cannot listen for zebra's FPM connection on 127.0.0.1 port "),
          e.getMessage());
      assertFalse(s.connected());
      s.close();
    }
  }
}
