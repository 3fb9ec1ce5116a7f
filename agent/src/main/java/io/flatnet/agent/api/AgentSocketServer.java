package io.flatnet.agent.api;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The agent's end of the control socket: accepts connections on a unix socket and serves {@link
 * AgentProtocol} requests on a small pool of control threads (plain daemon platform threads, not
 * pinned to the workers' CPUs). A connection that sits idle (no request being read or handled) for
 * longer than the idle timeout is closed, so a stuck client cannot hold a control thread.
 *
 * <p>The socket file is created with mode 0660 after removing a stale file of the same name, and
 * removed on {@link #close()}.
 */
public final class AgentSocketServer implements AutoCloseable {

  private static final System.Logger LOG = System.getLogger(AgentSocketServer.class.getName());

  private final Path socket;
  private final AgentProtocol.Handler handler;
  private final ServerSocketChannel server;
  private final ExecutorService pool;
  private final ScheduledExecutorService reaper;
  private final Thread acceptor;
  private final long idleNanos;
  private final Map<SocketChannel, Long> lastActive = new ConcurrentHashMap<>();
  private volatile boolean closed;

  private AgentSocketServer(
      Path socket, AgentProtocol.Handler handler, int threads, Duration idleTimeout)
      throws IOException {
    this.socket = socket;
    this.handler = handler;
    this.idleNanos = idleTimeout.toNanos();
    Path parent = socket.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Files.deleteIfExists(socket);
    server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      server.bind(UnixDomainSocketAddress.of(socket));
      try {
        Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw----"));
      } catch (UnsupportedOperationException e) {
        // not a POSIX file system; keep the default
      }
    } catch (IOException e) {
      server.close();
      throw new IOException("cannot listen on " + socket + ": " + e.getMessage(), e);
    }
    AtomicInteger n = new AtomicInteger();
    pool =
        Executors.newFixedThreadPool(
            threads,
            r -> {
              Thread t = new Thread(r, "flatnet-agent-ctl-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    reaper =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "flatnet-agent-ctl-reaper");
              t.setDaemon(true);
              return t;
            });
    long period = Math.max(10, idleTimeout.toMillis() / 4);
    reaper.scheduleAtFixedRate(this::reapIdle, period, period, TimeUnit.MILLISECONDS);
    acceptor = new Thread(this::acceptLoop, "flatnet-agent-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /**
   * Listens on {@code socket} with {@code threads} control threads and a 30 s idle timeout.
   *
   * @throws IOException if the socket cannot be bound
   */
  public static AgentSocketServer start(Path socket, AgentProtocol.Handler handler, int threads)
      throws IOException {
    return start(socket, handler, threads, Duration.ofSeconds(30));
  }

  public static AgentSocketServer start(
      Path socket, AgentProtocol.Handler handler, int threads, Duration idleTimeout)
      throws IOException {
    return new AgentSocketServer(socket, handler, threads, idleTimeout);
  }

  public Path socket() {
    return socket;
  }

  private void acceptLoop() {
    while (!closed) {
      SocketChannel ch;
      try {
        ch = server.accept();
      } catch (ClosedChannelException e) {
        return;
      } catch (IOException e) {
        if (!closed) {
          LOG.log(System.Logger.Level.WARNING, "accept on " + socket + " failed: " + e);
        }
        continue;
      }
      lastActive.put(ch, System.nanoTime());
      try {
        pool.execute(() -> serve(ch));
      } catch (RejectedExecutionException e) {
        closeQuietly(ch);
      }
    }
  }

  private void serve(SocketChannel ch) {
    LineChannel lines = new LineChannel(ch);
    try (ch) {
      while (!closed) {
        String line = lines.readLine();
        if (line == null) {
          return;
        }
        if (line.isBlank()) {
          continue;
        }
        // Busy: not idle however long the handler takes (e.g. a slow apply).
        lastActive.remove(ch);
        AgentProtocol.Response response;
        try {
          AgentProtocol.Request request = AgentProtocol.decodeRequest(line);
          response = handle(request);
        } catch (IOException e) {
          response = AgentProtocol.Response.failure("bad request: " + e.getMessage());
        }
        lines.writeLine(AgentProtocol.encode(response));
        lastActive.put(ch, System.nanoTime());
      }
    } catch (IOException e) {
      if (!closed && ch.isOpen()) {
        LOG.log(System.Logger.Level.DEBUG, "control connection: " + e);
      }
    } finally {
      lastActive.remove(ch);
    }
  }

  private AgentProtocol.Response handle(AgentProtocol.Request request) {
    if (request == null || request.op() == null) {
      return AgentProtocol.Response.failure("bad request: no op");
    }
    try {
      AgentProtocol.Response r = handler.handle(request);
      return r == null ? AgentProtocol.Response.failure("handler returned nothing") : r;
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "handling " + request + " failed", e);
      return AgentProtocol.Response.failure(request.op() + " failed: " + e);
    }
  }

  private void reapIdle() {
    long now = System.nanoTime();
    lastActive.forEach(
        (ch, t) -> {
          if (now - t > idleNanos) {
            lastActive.remove(ch);
            closeQuietly(ch);
          }
        });
  }

  private static void closeQuietly(SocketChannel ch) {
    try {
      ch.close();
    } catch (IOException e) {
      // closing anyway
    }
  }

  /** Stops accepting, closes open connections, removes the socket file. */
  @Override
  public void close() throws IOException {
    closed = true;
    server.close();
    lastActive.keySet().forEach(AgentSocketServer::closeQuietly);
    reaper.shutdownNow();
    pool.shutdownNow();
    try {
      acceptor.join(1000);
      pool.awaitTermination(1, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Files.deleteIfExists(socket);
  }
}
