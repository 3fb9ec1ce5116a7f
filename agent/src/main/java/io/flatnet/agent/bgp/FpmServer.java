package io.flatnet.agent.bgp;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The Forwarding Plane Manager end of zebra's {@code dplane_fpm_nl}: listens where the {@code
 * bgp.fpm} config says, takes zebra's connection (one at a time: a new one replaces the old), reads
 * its frames on a thread of its own and feeds a {@link BgpRoutes} table.
 *
 * <p>zebra connects 3 s after it starts and, when a connection fails, tries again every 3 s; on
 * every connection it sends its whole table first. So routes survive zebra going away:
 *
 * <ul>
 *   <li>On a disconnect (zebra restarting, or a connection closed for bad data) the routes stay in
 *       use. If no connection comes back within {@code staleHold} (default {@link
 *       #DEFAULT_STALE_HOLD}, BGP graceful restart's usual restart time), they are dropped.
 *   <li>On a (re)connect, routes the new connection re-sends replace the old; once the connection
 *       has been quiet for {@code resyncQuiet} (default {@link #DEFAULT_RESYNC_QUIET}) after its
 *       first burst, or {@link #MAX_RESYNC} after it began, the old routes it did not re-send are
 *       dropped.
 * </ul>
 *
 * Bad data (see {@link FpmDecoder}) closes the connection with a logged error; the routes stay, and
 * zebra reconnects and re-sends.
 */
public final class FpmServer implements AutoCloseable {

  public static final Duration DEFAULT_RESYNC_QUIET = Duration.ofSeconds(2);
  public static final Duration DEFAULT_STALE_HOLD = Duration.ofSeconds(120);

  /** A resync ends at the latest this long after the connection, even if zebra never pauses. */
  public static final Duration MAX_RESYNC = Duration.ofSeconds(60);

  private static final System.Logger LOG = System.getLogger(FpmServer.class.getName());

  private final InetSocketAddress listen;
  private final BgpRoutes routes;
  private final FpmDecoder decoder;
  private final Duration resyncQuiet;
  private final Duration staleHold;
  private final ScheduledExecutorService timer;

  private ServerSocket server;
  private Thread acceptor;
  private Socket connection;
  private long connectionEpoch;
  private long connectionStart;
  private ScheduledFuture<?> resyncEnd;
  private ScheduledFuture<?> staleDrop;
  private boolean closed;

  public FpmServer(InetSocketAddress listen, BgpRoutes routes) {
    this(listen, routes, DEFAULT_RESYNC_QUIET, DEFAULT_STALE_HOLD);
  }

  public FpmServer(
      InetSocketAddress listen, BgpRoutes routes, Duration resyncQuiet, Duration staleHold) {
    this.listen = listen;
    this.routes = routes;
    this.decoder = FpmDecoder.forThisHost();
    this.resyncQuiet = resyncQuiet;
    this.staleHold = staleHold;
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "flatnet-fpm-timer");
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Binds and starts accepting.
   *
   * @throws IOException if the address cannot be bound (in use, not this node's)
   */
  public synchronized void start() throws IOException {
    if (server != null || closed) {
      return;
    }
    ServerSocket s = new ServerSocket();
    try {
      s.setReuseAddress(true);
      s.bind(listen, 1);
    } catch (IOException e) {
      s.close();
      throw new IOException("cannot listen for zebra's FPM connection on " + describe(listen), e);
    }
    server = s;
    acceptor = new Thread(this::acceptLoop, "flatnet-fpm-accept");
    acceptor.setDaemon(true);
    acceptor.start();
    LOG.log(System.Logger.Level.INFO, "bgp: listening for zebra's FPM connection on " + where());
  }

  /** The address and port bound (the port is the real one when 0 was asked for). */
  public synchronized InetSocketAddress boundAddress() {
    return server == null ? listen : (InetSocketAddress) server.getLocalSocketAddress();
  }

  /** Whether zebra is connected now. */
  public synchronized boolean connected() {
    return connection != null;
  }

  private String where() {
    return describe(boundAddress());
  }

  private static String describe(InetSocketAddress a) {
    return a.getAddress().getHostAddress() + " port " + a.getPort();
  }

  private void acceptLoop() {
    while (true) {
      ServerSocket s;
      synchronized (this) {
        s = server;
      }
      if (s == null) {
        return;
      }
      Socket accepted;
      try {
        accepted = s.accept();
      } catch (IOException e) {
        synchronized (this) {
          if (closed) {
            return;
          }
        }
        LOG.log(System.Logger.Level.WARNING, "bgp: FPM accept failed: " + e.getMessage());
        sleepQuietly();
        continue;
      }
      Socket old;
      long epoch;
      synchronized (this) {
        if (closed) {
          closeQuietly(accepted);
          return;
        }
        old = connection;
        connection = accepted;
        epoch = routes.beginEpoch();
        connectionEpoch = epoch;
        connectionStart = System.nanoTime();
        cancel(staleDrop);
        staleDrop = null;
        scheduleResyncEnd(epoch);
      }
      if (old != null) {
        LOG.log(System.Logger.Level.INFO, "bgp: a new FPM connection replaces the old one");
        closeQuietly(old); // its reader stops; its messages are ignored from now
      }
      LOG.log(
          System.Logger.Level.INFO,
          "bgp: zebra connected from " + accepted.getRemoteSocketAddress() + " (FPM)");
      Thread reader = new Thread(() -> read(accepted, epoch), "flatnet-fpm-connection-" + epoch);
      reader.setDaemon(true);
      reader.start();
    }
  }

  private void read(Socket socket, long epoch) {
    String ending = "zebra closed the FPM connection";
    FpmDecoder.Reader reader;
    try {
      reader = new FpmDecoder.Reader(new BufferedInputStream(socket.getInputStream()), decoder);
      for (List<FpmMessage> frame = reader.next(); frame != null; frame = reader.next()) {
        routes.apply(epoch, frame);
        frameRead(epoch);
      }
    } catch (FpmFormatException e) {
      ending = "closing the FPM connection: " + e.getMessage();
    } catch (SocketException e) {
      ending = "FPM connection ended: " + e.getMessage();
    } catch (IOException e) {
      ending = "FPM connection failed: " + e.getMessage();
    } catch (RuntimeException e) {
      // A bug must not end the agent: drop the connection, zebra reconnects and re-sends.
      LOG.log(System.Logger.Level.ERROR, "bgp: FPM connection: unexpected error", e);
      ending = "closing the FPM connection after an unexpected error: " + e;
    } finally {
      closeQuietly(socket);
    }
    synchronized (this) {
      if (connection != socket || closed) {
        return; // replaced or closing: not news
      }
      connection = null;
      cancel(resyncEnd);
      resyncEnd = null;
      staleDrop =
          timer.schedule(() -> dropStale(epoch), staleHold.toMillis(), TimeUnit.MILLISECONDS);
    }
    LOG.log(
        System.Logger.Level.WARNING,
        "bgp: "
            + ending
            + "; keeping zebra's routes in use, for "
            + staleHold.toSeconds()
            + " s unless it reconnects (it retries every 3 s)");
  }

  /** During a resync, every frame pushes its end back by {@link #resyncQuiet}. */
  private synchronized void frameRead(long epoch) {
    if (resyncEnd != null && epoch == connectionEpoch) {
      cancel(resyncEnd);
      scheduleResyncEnd(epoch);
    }
  }

  private void scheduleResyncEnd(long epoch) {
    long sinceStart = System.nanoTime() - connectionStart;
    long delay = Math.min(resyncQuiet.toNanos(), Math.max(0, MAX_RESYNC.toNanos() - sinceStart));
    resyncEnd = timer.schedule(() -> endResync(epoch), delay, TimeUnit.NANOSECONDS);
  }

  private void endResync(long epoch) {
    synchronized (this) {
      if (epoch != connectionEpoch || resyncEnd == null) {
        return;
      }
      resyncEnd = null;
    }
    int dropped = routes.endResync(epoch);
    LOG.log(
        System.Logger.Level.INFO,
        "bgp: zebra has sent its table ("
            + routes.snapshot().routes().size()
            + " routes)"
            + (dropped > 0 ? "; dropped " + dropped + " it no longer has" : ""));
  }

  private void dropStale(long epoch) {
    synchronized (this) {
      if (connection != null || epoch != connectionEpoch || closed) {
        return;
      }
      staleDrop = null;
    }
    int dropped = routes.clear();
    LOG.log(
        System.Logger.Level.WARNING,
        "bgp: zebra has not reconnected for "
            + staleHold.toSeconds()
            + " s; dropped its "
            + dropped
            + " routes");
  }

  /** Stops listening and closes zebra's connection. The routes table is left as it is. */
  @Override
  public void close() {
    Thread a;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      if (server != null) {
        closeQuietly(server);
      }
      if (connection != null) {
        closeQuietly(connection);
        connection = null;
      }
      a = acceptor;
      timer.shutdownNow();
    }
    if (a != null) {
      try {
        a.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static void cancel(ScheduledFuture<?> f) {
    if (f != null) {
      f.cancel(false);
    }
  }

  private static void sleepQuietly() {
    try {
      Thread.sleep(200);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception e) {
      // closing: nothing to add
    }
  }
}
