package io.flatnet.agent.api;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntPredicate;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

/**
 * The agent's end of the control socket: accepts connections on a unix socket and serves {@link
 * AgentProtocol} requests.
 *
 * <p>No client can stall the others: each connection has a thread of its own (a virtual thread: a
 * CNI call or a route change is one connection, and a platform thread's start and exit cost more
 * CPU than the request; the JVM's carriers are not on the workers' CPUs), at most {@link
 * Settings#maxConnections()} at once (one more is answered "agent busy" and closed; non-root peers
 * get at most three quarters of them, so root, i.e. CNI, always has room), and a reaper closes a
 * connection that has not sent a whole request within {@link Settings#idleTimeout()} or has not
 * taken any of its answer for {@link Settings#writeTimeout()}. Only the handler calls are limited
 * to {@link Settings#handlerThreads()} at once. A request line is bounded ({@link
 * AgentProtocol#MAX_REQUEST_LINE}); an answer may be large.
 *
 * <p>Each request is checked with the peer's uid (SO_PEERCRED) by {@link ControlAccess}: reads for
 * anyone who can open the socket, changes for root and {@link Settings#writers()}.
 *
 * <p>The socket is bound in a private (0700) directory beside its final path, given mode 0660 and
 * its group there, and renamed into place, so it is never reachable with looser permissions. A
 * socket file that nobody serves is replaced; one that answers is left alone and start fails. The
 * file is removed on {@link #close()} if it is still ours.
 */
public final class AgentSocketServer implements AutoCloseable {

  private static final System.Logger LOG = System.getLogger(AgentSocketServer.class.getName());

  /**
   * How the server runs.
   *
   * @param handlerThreads how many requests are handled at once
   * @param idleTimeout how long a connection may take to send a whole request
   * @param writeTimeout how long a client may leave its answer unread (no progress at all)
   * @param maxConnections open connections at most; more are refused at once
   * @param socketGroup the socket file's group (null: the process's)
   * @param writers non-root uids that may change the router (asked per request)
   */
  public record Settings(
      int handlerThreads,
      Duration idleTimeout,
      Duration writeTimeout,
      int maxConnections,
      String socketGroup,
      IntPredicate writers) {

    public Settings {
      if (handlerThreads < 1 || maxConnections < 1) {
        throw new IllegalArgumentException("handlerThreads and maxConnections must be at least 1");
      }
      Objects.requireNonNull(idleTimeout);
      Objects.requireNonNull(writeTimeout);
      writers = writers == null ? ControlAccess.ROOT_ONLY : writers;
    }

    /** 2 handler threads, 30 s to send a request, 5 s to take an answer, 64 connections. */
    public static Settings defaults() {
      return new Settings(
          2, Duration.ofSeconds(30), Duration.ofSeconds(5), 64, null, ControlAccess.ROOT_ONLY);
    }

    public Settings withHandlerThreads(int n) {
      return new Settings(n, idleTimeout, writeTimeout, maxConnections, socketGroup, writers);
    }

    public Settings withIdleTimeout(Duration d) {
      return new Settings(handlerThreads, d, writeTimeout, maxConnections, socketGroup, writers);
    }

    public Settings withWriteTimeout(Duration d) {
      return new Settings(handlerThreads, idleTimeout, d, maxConnections, socketGroup, writers);
    }

    public Settings withMaxConnections(int n) {
      return new Settings(handlerThreads, idleTimeout, writeTimeout, n, socketGroup, writers);
    }

    public Settings withSocketGroup(String group) {
      return new Settings(
          handlerThreads, idleTimeout, writeTimeout, maxConnections, group, writers);
    }

    public Settings withWriters(IntPredicate w) {
      return new Settings(
          handlerThreads, idleTimeout, writeTimeout, maxConnections, socketGroup, w);
    }
  }

  /** What a connection is doing, for the reaper. */
  private enum Phase {
    /** Waiting for (the rest of) a request: bounded by the idle timeout. */
    AWAITING_REQUEST,
    /** In the handler: not bounded here (an apply may take long). */
    HANDLING,
    /** Writing the answer: bounded by the write timeout since the last progress. */
    WRITING
  }

  private final class Connection {
    final SocketChannel channel;
    final int number;
    volatile Phase phase = Phase.AWAITING_REQUEST;
    volatile long since = System.nanoTime();
    volatile int uid = ControlAccess.UNKNOWN_UID;
    boolean countedAsNonRoot;

    Connection(SocketChannel channel, int number) {
      this.channel = channel;
      this.number = number;
    }

    void enter(Phase p) {
      since = System.nanoTime();
      phase = p;
    }

    void progress() {
      since = System.nanoTime();
    }
  }

  private final Path socket;
  private final AgentProtocol.Handler handler;
  private final Settings settings;
  private final ServerSocketChannel server;
  private final Object socketFileKey;
  private final Semaphore handlerSlots;
  private final Set<Connection> open = ConcurrentHashMap.newKeySet();
  private final AtomicInteger connectionNumbers = new AtomicInteger();

  /** Open connections of non-root peers: they may not take the places kept for root (CNI). */
  private final AtomicInteger nonRootOpen = new AtomicInteger();

  private final ScheduledExecutorService reaper;
  private final Thread acceptor;
  private volatile boolean closed;

  private AgentSocketServer(Path socket, AgentProtocol.Handler handler, Settings settings)
      throws IOException {
    this.socket = socket;
    this.handler = handler;
    this.settings = settings;
    this.handlerSlots = new Semaphore(settings.handlerThreads());
    server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      socketFileKey = bindInPlace(server, socket, settings.socketGroup());
    } catch (IOException e) {
      server.close();
      throw new IOException("cannot listen on " + socket + ": " + e.getMessage(), e);
    }
    reaper =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "flatnet-agent-ctl-reaper");
              t.setDaemon(true);
              return t;
            });
    long shortest = Math.min(settings.idleTimeout().toMillis(), settings.writeTimeout().toMillis());
    long period = Math.max(10, shortest / 4);
    reaper.scheduleAtFixedRate(this::reap, period, period, TimeUnit.MILLISECONDS);
    acceptor = new Thread(this::acceptLoop, "flatnet-agent-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /**
   * Binds {@code server} to a socket in a fresh 0700 directory beside {@code socket}, sets mode
   * 0660 (and the group) while nobody else can reach it, then renames it onto {@code socket}.
   *
   * @return the socket file's key (device and inode), to remove only our own file on close
   */
  private static Object bindInPlace(ServerSocketChannel server, Path socket, String group)
      throws IOException {
    Path parent = socket.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    if (Files.exists(socket, java.nio.file.LinkOption.NOFOLLOW_LINKS)
        && RunDirectoryLock.isListening(socket)) {
      throw new IOException(
          "another process is serving " + socket + " (is a second flatnet running?)");
    }
    Path privateDir =
        Files.createTempDirectory(
            parent,
            ".sock",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    Path temp = privateDir.resolve("s");
    try {
      server.bind(UnixDomainSocketAddress.of(temp));
      Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-rw----"));
      if (group != null) {
        GroupPrincipal g;
        try {
          g =
              temp.getFileSystem()
                  .getUserPrincipalLookupService()
                  .lookupPrincipalByGroupName(group);
        } catch (java.nio.file.attribute.UserPrincipalNotFoundException e) {
          throw new IOException(
              "the socket group '" + group + "' (agent.socketGroup) does not exist on this node",
              e);
        }
        Files.getFileAttributeView(temp, PosixFileAttributeView.class).setGroup(g);
      }
      Object key = Files.readAttributes(temp, BasicFileAttributes.class).fileKey();
      // rename(2): atomically replaces a stale file, and the socket keeps its mode and group.
      Files.move(temp, socket, StandardCopyOption.ATOMIC_MOVE);
      return key;
    } finally {
      Files.deleteIfExists(temp);
      Files.deleteIfExists(privateDir);
    }
  }

  /**
   * Listens on {@code socket} with {@code threads} handler threads and the other defaults.
   *
   * @throws IOException if the socket cannot be bound, or another process serves it
   */
  public static AgentSocketServer start(Path socket, AgentProtocol.Handler handler, int threads)
      throws IOException {
    return start(socket, handler, Settings.defaults().withHandlerThreads(threads));
  }

  public static AgentSocketServer start(
      Path socket, AgentProtocol.Handler handler, int threads, Duration idleTimeout)
      throws IOException {
    return start(
        socket,
        handler,
        Settings.defaults().withHandlerThreads(threads).withIdleTimeout(idleTimeout));
  }

  public static AgentSocketServer start(
      Path socket, AgentProtocol.Handler handler, Settings settings) throws IOException {
    return new AgentSocketServer(socket, handler, settings);
  }

  public Path socket() {
    return socket;
  }

  /** Connections open now (for tests and diagnostics). */
  public int openConnections() {
    return open.size();
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
      if (open.size() >= settings.maxConnections()) {
        refuse(
            ch,
            "agent busy: "
                + settings.maxConnections()
                + " control connections are open, the most it serves; try again");
        continue;
      }
      Connection c = new Connection(ch, connectionNumbers.incrementAndGet());
      open.add(c);
      try {
        Thread.ofVirtual().name("flatnet-agent-ctl-" + c.number).start(() -> serve(c));
      } catch (OutOfMemoryError e) {
        open.remove(c);
        refuse(ch, "agent busy: cannot start a thread for this connection; try again");
      }
    }
  }

  /** Answers a connection we will not serve without ever blocking the acceptor, then closes it. */
  private static void refuse(SocketChannel ch, String error) {
    try (ch) {
      ch.configureBlocking(false);
      String line = AgentProtocol.encode(AgentProtocol.Response.retryLater(error)) + "\n";
      ch.write(ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8)));
    } catch (IOException e) {
      // the client is gone or not reading: closing is all we can do
    }
  }

  private static int peerUid(SocketChannel ch) {
    try {
      UnixDomainPrincipal peer = ch.getOption(ExtendedSocketOptions.SO_PEERCRED);
      return UnixUsers.uid(peer.user().getName()).orElse(ControlAccess.UNKNOWN_UID);
    } catch (IOException | UnsupportedOperationException e) {
      return ControlAccess.UNKNOWN_UID;
    }
  }

  private void serve(Connection c) {
    SocketChannel ch = c.channel;
    LineChannel lines = new LineChannel(ch, c::progress);
    try (ch) {
      // Here, not in the acceptor: the uid's lookup may go to NSS and must not delay accepting.
      c.uid = peerUid(ch);
      if (c.uid != 0) {
        if (nonRootOpen.incrementAndGet() > nonRootLimit()) {
          nonRootOpen.decrementAndGet();
          refuse(
              ch,
              "agent busy: "
                  + nonRootLimit()
                  + " control connections of non-root clients are open, the most it serves"
                  + " (the rest are kept for root); try again");
          return;
        }
        c.countedAsNonRoot = true;
      }
      while (!closed) {
        c.enter(Phase.AWAITING_REQUEST);
        String line;
        do {
          try {
            line = lines.readLine(AgentProtocol.MAX_REQUEST_LINE);
          } catch (LineChannel.LineTooLongException e) {
            // The rest of the line is unread, so the stream is out of step: answer and close.
            c.enter(Phase.WRITING);
            lines.writeLine(
                AgentProtocol.encode(
                    AgentProtocol.Response.failure(
                        "bad request: longer than "
                            + AgentProtocol.MAX_REQUEST_LINE
                            + " bytes; closing the connection")));
            return;
          }
          if (line == null) {
            return;
          }
        } while (line.isBlank());
        c.enter(Phase.HANDLING);
        AgentProtocol.Response response;
        try {
          AgentProtocol.Request request = AgentProtocol.decodeRequest(line);
          response = handle(request, c.uid);
        } catch (IOException e) {
          response = AgentProtocol.Response.failure("bad request: " + e.getMessage());
        }
        String answer = AgentProtocol.encode(response);
        if (answer.length() > AgentProtocol.MAX_RESPONSE_LINE / 3
            && answer.getBytes(StandardCharsets.UTF_8).length > AgentProtocol.MAX_RESPONSE_LINE) {
          answer =
              AgentProtocol.encode(
                  AgentProtocol.Response.failure(
                      "the answer is longer than "
                          + AgentProtocol.MAX_RESPONSE_LINE
                          + " bytes, the most a client reads"));
        }
        c.enter(Phase.WRITING);
        lines.writeLine(answer);
      }
    } catch (IOException e) {
      if (!closed && ch.isOpen()) {
        LOG.log(System.Logger.Level.DEBUG, "control connection " + c.number + ": " + e);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      if (c.countedAsNonRoot) {
        nonRootOpen.decrementAndGet();
      }
      open.remove(c);
    }
  }

  /**
   * How many connections non-root peers may hold together: a quarter of the places (at least one)
   * is kept for root, so that group members holding connections open cannot lock out CNI.
   */
  int nonRootLimit() {
    int max = settings.maxConnections();
    return Math.max(1, max - Math.max(1, max / 4));
  }

  private AgentProtocol.Response handle(AgentProtocol.Request request, int uid)
      throws InterruptedException {
    if (request == null || request.op() == null) {
      return AgentProtocol.Response.failure("bad request: no op");
    }
    String refusal = ControlAccess.refusal(request.op(), uid, settings.writers());
    if (refusal != null) {
      LOG.log(System.Logger.Level.WARNING, "control socket: " + refusal);
      return AgentProtocol.Response.failure(refusal);
    }
    handlerSlots.acquire();
    try {
      AgentProtocol.Response r = handler.handle(request);
      return r == null ? AgentProtocol.Response.failure("handler returned nothing") : r;
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "handling " + request + " failed", e);
      return AgentProtocol.Response.failure(request.op() + " failed: " + e);
    } finally {
      handlerSlots.release();
    }
  }

  /** Closes connections past their deadline; closing wakes their thread's blocked read or write. */
  private void reap() {
    try {
      reapOnce();
    } catch (RuntimeException e) {
      // A failed round must not end the schedule: the deadlines are the point.
      LOG.log(System.Logger.Level.ERROR, "control socket reaper", e);
    }
  }

  private void reapOnce() {
    long now = System.nanoTime();
    for (Connection c : open) {
      long age = now - c.since;
      Phase phase = c.phase;
      if (phase == Phase.AWAITING_REQUEST && age > settings.idleTimeout().toNanos()) {
        LOG.log(
            System.Logger.Level.DEBUG,
            "control connection " + c.number + " (uid " + c.uid + "): no request; closing");
        closeQuietly(c.channel);
      } else if (phase == Phase.WRITING && age > settings.writeTimeout().toNanos()) {
        LOG.log(
            System.Logger.Level.WARNING,
            "control connection "
                + c.number
                + " (uid "
                + c.uid
                + "): the client has not read its answer for "
                + settings.writeTimeout().toMillis()
                + " ms; disconnecting it");
        closeQuietly(c.channel);
      }
    }
  }

  private static void closeQuietly(SocketChannel ch) {
    try {
      ch.close();
    } catch (IOException e) {
      // closing anyway
    }
  }

  /** Stops accepting, closes open connections, removes the socket file if it is still ours. */
  @Override
  public void close() throws IOException {
    closed = true;
    server.close();
    open.forEach(c -> closeQuietly(c.channel));
    reaper.shutdownNow();
    try {
      acceptor.join(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      Object key = Files.readAttributes(socket, BasicFileAttributes.class).fileKey();
      if (key != null && key.equals(socketFileKey)) {
        Files.deleteIfExists(socket);
      }
    } catch (java.nio.file.NoSuchFileException | AccessDeniedException e) {
      // gone already, or not ours to remove
    }
  }
}
