package io.flatnet.control;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Wakes the dataplane's command thread when the agent has written a command, like an eventfd
 * doorbell: the agent writes one byte to the unix socket {@code cnc.bell}; a thread of the
 * dataplane blocked reading it unparks the command thread. Without it the command thread finds a
 * command when its idle park (up to {@code Router.CONTROL_MAX_PARK_NANOS}) ends, which made every
 * agent call wait milliseconds; with it, an idle command thread costs no wake-ups at all and a call
 * still starts within microseconds. The bell is a hint: if it cannot ring, the ring buffer is
 * polled as before.
 */
public final class Doorbell implements AutoCloseable {
  /** The bell's unix socket, next to {@code cnc.dat}. */
  public static final String FILE = "cnc.bell";

  /** More agents than this (the agent, a restarted one, ctl tools) are refused. */
  private static final int MAX_CONNECTIONS = 8;

  private final ServerSocketChannel server;
  private final Path socket;
  private final Thread toWake;
  private final AtomicInteger connections = new AtomicInteger();
  private volatile boolean open = true;

  private Doorbell(ServerSocketChannel server, Path socket, Thread toWake) {
    this.server = server;
    this.socket = socket;
    this.toWake = toWake;
  }

  /** The dataplane's side: serves {@code dir/cnc.bell}, unparking {@code toWake} on each ring. */
  public static Doorbell serve(Path dir, Thread toWake) throws IOException {
    Path socket = dir.resolve(FILE);
    Files.deleteIfExists(socket); // a dead dataplane's; the run directory lock is already ours
    ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(socket));
    Doorbell bell = new Doorbell(server, socket, toWake);
    Thread accept = new Thread(bell::accept, "flatnet-doorbell");
    accept.setDaemon(true);
    accept.start();
    return bell;
  }

  private void accept() {
    while (open) {
      try {
        SocketChannel agent = server.accept();
        if (connections.incrementAndGet() > MAX_CONNECTIONS) {
          connections.decrementAndGet();
          agent.close();
          continue;
        }
        Thread reader = new Thread(() -> listen(agent), "flatnet-doorbell-reader");
        reader.setDaemon(true);
        reader.start();
      } catch (IOException e) {
        if (!open) {
          return;
        }
        LockSupport.parkNanos(100_000_000); // e.g. out of file descriptors: try again later
      }
    }
  }

  private void listen(SocketChannel agent) {
    ByteBuffer rings = ByteBuffer.allocateDirect(64);
    try (agent) {
      while (open && agent.read(rings.clear()) > 0) {
        LockSupport.unpark(toWake);
      }
    } catch (IOException e) {
      // the agent went away; it connects again when it comes back
    } finally {
      connections.decrementAndGet();
    }
  }

  @Override
  public void close() {
    open = false;
    try {
      server.close();
      Files.deleteIfExists(socket);
    } catch (IOException e) {
      // closing anyway
    }
  }

  /** The agent's side: rings the bell of the dataplane in a run directory. Not thread-safe. */
  public static final class Ringer implements AutoCloseable {
    private final Path socket;
    private final ByteBuffer one = ByteBuffer.allocateDirect(1);
    private SocketChannel bell;
    private long retryAfterNanos;

    public Ringer(Path dir) {
      this.socket = dir.resolve(FILE);
    }

    /** Wakes the command thread; connects (again) as needed, and never throws or blocks long. */
    public void ring() {
      if (bell == null) {
        if (System.nanoTime() - retryAfterNanos < 0) {
          return;
        }
        try {
          bell = SocketChannel.open(UnixDomainSocketAddress.of(socket));
          bell.configureBlocking(false);
        } catch (IOException | RuntimeException e) { // none served, or a path too long for one
          close();
          retryAfterNanos = System.nanoTime() + 1_000_000_000L;
          return;
        }
      }
      try {
        bell.write(one.clear()); // 0 bytes written: the socket is full of rings already
      } catch (IOException e) {
        close();
      }
    }

    /** Forgets the connection: the next ring connects to the (new) dataplane's bell. */
    @Override
    public void close() {
      if (bell != null) {
        try {
          bell.close();
        } catch (IOException e) {
          // gone anyway
        }
        bell = null;
      }
      retryAfterNanos = 0;
    }
  }
}
