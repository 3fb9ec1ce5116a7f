package io.flatnet.perf.e2e;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Starts the bench's child processes and makes sure none outlives it: each is stopped with SIGTERM
 * (so testpmd and flatnet print their final counters), then SIGKILL after a grace period, together
 * with any descendants. A shutdown hook does the same on Ctrl-C or an uncaught failure, and removes
 * the scratch directory (vhost-user sockets, route files).
 */
public final class Processes implements AutoCloseable {

  /** A started process: its output goes line by line to a log file and to a consumer. */
  public static final class Child {
    private final String name;
    private final Process process;
    private final Path log;
    private final Thread reader;
    private final Deque<String> tail = new ArrayDeque<>();

    private Child(String name, Process process, Path log, Consumer<String> sink) {
      this.name = name;
      this.process = process;
      this.log = log;
      this.reader =
          Thread.ofPlatform().daemon().name("e2e-out-" + name).unstarted(() -> pump(sink));
    }

    private void pump(Consumer<String> sink) {
      try (BufferedReader in =
              new BufferedReader(
                  new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
          Writer out = Files.newBufferedWriter(log, StandardCharsets.UTF_8)) {
        String line;
        while ((line = in.readLine()) != null) {
          out.write(line);
          out.write('\n');
          synchronized (tail) {
            tail.addLast(line);
            if (tail.size() > 30) {
              tail.removeFirst();
            }
          }
          sink.accept(line);
        }
      } catch (IOException e) {
        // The process was killed while we read: its log simply ends here.
      }
    }

    public String name() {
      return name;
    }

    public Path log() {
      return log;
    }

    public boolean isAlive() {
      return process.isAlive();
    }

    public long pid() {
      return process.pid();
    }

    /** The last lines of output (escape sequences removed), for error messages. */
    public String tail(int lines) {
      List<String> copy;
      synchronized (tail) {
        copy = new ArrayList<>(tail);
      }
      List<String> last = copy.subList(Math.max(0, copy.size() - lines), copy.size());
      StringBuilder sb = new StringBuilder();
      for (String l : last) {
        sb.append("    | ").append(l.replaceAll("\u001b\\[[0-9;]*[A-Za-z]", "")).append('\n');
      }
      return sb.toString();
    }

    /** Writes one line to its stdin (started with a stdin pipe). */
    public void send(String line) throws IOException {
      var in = process.getOutputStream();
      in.write((line + "\n").getBytes(StandardCharsets.UTF_8));
      in.flush();
    }

    /** Waits until its output has been read to the end (after it exited). */
    public void awaitOutput(long millis) throws InterruptedException {
      reader.join(millis);
    }
  }

  private final Set<Child> live = ConcurrentHashMap.newKeySet();
  private final Path scratch;
  private final Thread hook;
  private volatile boolean closed;

  /** Children and the scratch directory {@code scratch} (deleted at the end). */
  public Processes(Path scratch) {
    this.scratch = scratch;
    this.hook = new Thread(this::cleanUp, "e2e-cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /** Starts {@code command} with stdin from /dev/null and stdout+stderr to {@code log}/sink. */
  public Child start(String name, List<String> command, Path log, Consumer<String> sink)
      throws IOException {
    return start(name, command, log, sink, false);
  }

  /**
   * Starts {@code command} with stdout+stderr to {@code log}/sink, and stdin from /dev/null or, if
   * {@code stdinPipe}, from a pipe that {@link Child#send} writes to.
   */
  public Child start(
      String name, List<String> command, Path log, Consumer<String> sink, boolean stdinPipe)
      throws IOException {
    if (closed) {
      throw new IllegalStateException("shutting down");
    }
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    if (!stdinPipe) {
      pb.redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
    }
    Files.createDirectories(log.getParent());
    Process p = pb.start();
    Child child = new Child(name, p, log, sink);
    live.add(child);
    child.reader.start();
    return child;
  }

  /**
   * Stops {@code child} and its descendants: SIGTERM, up to {@code graceMillis} to exit, then
   * SIGKILL. Returns true if it exited on SIGTERM alone.
   */
  public boolean stop(Child child, long graceMillis) throws InterruptedException {
    try {
      List<ProcessHandle> descendants = child.process.descendants().toList();
      // SIGTERM through the ProcessHandle: Process.destroy() would also close our end of its
      // stdout, and we would lose the counters testpmd and flatnet print as they exit.
      child.process.toHandle().destroy();
      descendants.forEach(ProcessHandle::destroy);
      boolean clean = child.process.waitFor(graceMillis, TimeUnit.MILLISECONDS);
      if (!clean) {
        child.process.destroyForcibly();
        child.process.waitFor(5, TimeUnit.SECONDS);
      }
      for (ProcessHandle d : descendants) {
        if (d.isAlive()) {
          d.destroyForcibly();
        }
      }
      child.awaitOutput(2000);
      return clean;
    } finally {
      live.remove(child);
    }
  }

  /** Whether the bench is shutting down (Ctrl-C, kill, or close). */
  public boolean closed() {
    return closed;
  }

  /** Number of children started and not yet stopped. */
  public int liveCount() {
    return live.size();
  }

  private void cleanUp() {
    if (closed) {
      return;
    }
    closed = true;
    for (Child c : List.copyOf(live)) {
      ProcessHandle h = c.process.toHandle();
      h.descendants().forEach(ProcessHandle::destroy);
      h.destroy();
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    for (Child c : List.copyOf(live)) {
      try {
        long left = Math.max(1, deadline - System.nanoTime());
        if (!c.process.waitFor(left, TimeUnit.NANOSECONDS)) {
          c.process.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
          c.process.destroyForcibly();
        }
      } catch (InterruptedException e) {
        c.process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
      live.remove(c);
    }
    deleteTree(scratch);
  }

  /** Removes a directory tree, ignoring what is already gone. */
  static void deleteTree(Path dir) {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      paths
          .sorted(Comparator.reverseOrder())
          .forEach(
              p -> {
                try {
                  Files.deleteIfExists(p);
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              });
    } catch (IOException | UncheckedIOException e) {
      System.err.println("flatnet bench e2e: could not remove " + dir + ": " + e.getMessage());
    }
  }

  /** Stops every child still running, removes the scratch directory and the shutdown hook. */
  @Override
  public void close() {
    cleanUp();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // Already shutting down: the hook is running or has run.
    }
  }
}
