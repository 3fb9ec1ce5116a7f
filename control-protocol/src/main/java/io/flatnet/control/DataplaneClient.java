package io.flatnet.control;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.MessageHandler;

/**
 * The agent's {@link DataplaneApi} over the command channel to a dataplane process. Each call is
 * one command and waits for its response; a refused command throws {@link
 * IllegalArgumentException}, a failed one {@link IllegalStateException}, as the in-process router
 * did. A dataplane that stops beating fails the call in progress with {@link DataplaneGone}; the
 * next call waits for a dataplane to come back (a restarted one makes a new {@code cnc.dat}) and
 * carries on with it, and {@link #incarnation()} changes, so the agent knows to re-apply its state.
 */
public final class DataplaneClient implements DataplaneApi, AutoCloseable {
  /** The dataplane stopped answering, or is not there. */
  public static final class DataplaneGone extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public DataplaneGone(String message) {
      super(message);
    }
  }

  private final Path dir;
  private final Duration callTimeout;
  private final Duration connectTimeout;
  private final Records.Writer command = new Records.Writer();
  private final ExpandableArrayBuffer answer = new ExpandableArrayBuffer(4096);
  private final MessageHandler handler = this::onResponse;
  private CommandChannel channel;
  private final Doorbell.Ringer bell;
  private long incarnation;
  private long nextCorrelation = System.nanoTime();
  private long awaited;
  private int answerLength;
  private int answerStatus;
  private boolean answered;

  private DataplaneClient(Path dir, Duration connectTimeout, Duration callTimeout) {
    this.dir = dir;
    this.connectTimeout = connectTimeout;
    this.callTimeout = callTimeout;
    this.bell = new Doorbell.Ringer(dir);
  }

  /**
   * Connects to the dataplane of run directory {@code dir}, waiting up to {@code connectTimeout}
   * for one to start (and after a restart, for the new one).
   */
  public static DataplaneClient connect(Path dir, Duration connectTimeout, Duration callTimeout) {
    DataplaneClient client = new DataplaneClient(dir, connectTimeout, callTimeout);
    synchronized (client) {
      client.channel();
    }
    return client;
  }

  /** The running dataplane's incarnation (changes when it restarts); 0 before it is reached. */
  public synchronized long incarnation() {
    return incarnation;
  }

  /** The dataplane's pid, or -1 if none is connected. */
  public synchronized long dataplanePid() {
    return channel == null ? -1 : channel.dataplanePid();
  }

  /** The live dataplane's last committed generation; -1 if it restarted or is gone (no call). */
  @Override
  public synchronized long committedGeneration() {
    return channel != null && channel.dataplaneAlive(System.currentTimeMillis())
        ? channel.committedGeneration()
        : -1;
  }

  /** True if the dataplane this client talks to is alive (cheap: a heartbeat read and a stat). */
  public synchronized boolean alive() {
    return channel != null && channel.dataplaneAlive(System.currentTimeMillis());
  }

  private CommandChannel channel() {
    if (channel != null && channel.dataplaneAlive(System.currentTimeMillis())) {
      return channel;
    }
    if (channel != null) {
      channel.close();
      channel = null;
      bell.close();
    }
    long deadline = System.nanoTime() + connectTimeout.toNanos();
    String why;
    do {
      try {
        CommandChannel opened = CommandChannel.open(dir);
        if (opened.dataplaneAlive(System.currentTimeMillis())) {
          channel = opened;
          drainStale();
          incarnation = opened.incarnation();
          return opened;
        }
        why = "its heartbeat is older than " + CommandChannel.STALE_MILLIS + " ms";
        opened.close();
      } catch (IOException e) {
        why = e.getMessage();
      }
      LockSupport.parkNanos(50_000_000);
    } while (System.nanoTime() < deadline);
    throw new DataplaneGone(
        "no live dataplane in " + dir + " after " + connectTimeout.toMillis() + " ms: " + why);
  }

  /** Responses a previous agent left unread are not ours. */
  private void drainStale() {
    awaited = 0;
    while (channel.toAgent().read((t, b, i, l) -> {}, 1024) > 0) {
      // discard
    }
  }

  private void onResponse(int type, MutableDirectBuffer buffer, int index, int length) {
    if (type != Records.RESPONSE || length < 16 || buffer.getLong(index) != awaited) {
      return;
    }
    answerStatus = buffer.getInt(index + 8);
    boolean more = buffer.getInt(index + 12) != 0;
    answer.putBytes(answerLength, buffer, index + 16, length - 16);
    answerLength += length - 16;
    answered = !more;
  }

  /** Sends one command and returns a reader over its response's payload. */
  private Records.Reader call(int type, Consumer<Records.Writer> body) {
    CommandChannel c = channel();
    command.reset().putLong(++nextCorrelation);
    body.accept(command);
    send(c, type);
    Records.Reader reader = await(c, type);
    switch (answerStatus) {
      case Records.OK -> {
        return reader;
      }
      case Records.REFUSED -> throw new IllegalArgumentException(reader.getString());
      default -> throw new IllegalStateException("dataplane: " + reader.getString());
    }
  }

  /** Writes {@code command} (its correlation id first), waiting for room up to the call timeout. */
  private void send(CommandChannel c, int type) {
    if (command.length() > c.toDataplane().maxMsgLength()) {
      throw new IllegalArgumentException(
          "command of " + command.length() + " bytes is larger than the channel's records");
    }
    long deadline = System.nanoTime() + callTimeout.toNanos();
    while (!c.toDataplane().write(type, command.buffer(), 0, command.length())) {
      if (System.nanoTime() > deadline) {
        throw new DataplaneGone("the dataplane's command ring stayed full for " + callTimeout);
      }
      if (!c.dataplaneAlive(System.currentTimeMillis())) {
        throw new DataplaneGone(
            "the dataplane (pid " + c.dataplanePid() + ") stopped while its ring was full");
      }
      bell.ring();
      LockSupport.parkNanos(100_000);
    }
    bell.ring();
  }

  /**
   * Waits for the response to the command just sent (the correlation id at the start of {@code
   * command}); {@link #answerStatus} is its status.
   */
  private Records.Reader await(CommandChannel c, int type) {
    awaited = command.buffer().getLong(0);
    answerLength = 0;
    answered = false;
    long deadline = System.nanoTime() + callTimeout.toNanos();
    long nextLivenessCheck = 0;
    int idle = 0;
    long park = MIN_PARK_NANOS;
    while (!answered) {
      if (c.toAgent().read(handler, 16) > 0) {
        idle = 0;
        park = MIN_PARK_NANOS;
        continue;
      }
      long now = System.nanoTime();
      if (now > nextLivenessCheck) {
        if (!c.dataplaneAlive(System.currentTimeMillis())) {
          throw new DataplaneGone(
              "the dataplane (pid "
                  + c.dataplanePid()
                  + ") stopped while handling command "
                  + type);
        }
        if (now > deadline) {
          throw new DataplaneGone(
              "the dataplane did not answer command " + type + " within " + callTimeout);
        }
        nextLivenessCheck = now + 100_000_000;
      }
      if (++idle < 100) {
        Thread.onSpinWait();
      } else {
        // Then parks that double up to 1 ms: each wake-up is a context switch, and on a node
        // whose agent shares a worker's CPU it takes the worker off it.
        LockSupport.parkNanos(park);
        park = Math.min(park * 2, MAX_PARK_NANOS);
      }
    }
    awaited = 0;
    return new Records.Reader(answer, 0, answerLength);
  }

  private static final long MIN_PARK_NANOS = 20_000;
  private static final long MAX_PARK_NANOS = 1_000_000;

  /** Room left in a batch part for changes: the record limit less the part's header and slack. */
  private static final int PART_HEADER = 8 + 8 + 4 + 4 + 4 + 8 + 4;

  /**
   * Sends the batch as one command (it carries this client's protocol version, which the dataplane
   * checks), or as several parts if it is larger than a record (each part written without waiting;
   * the dataplane answers the last), and waits for the one answer. The dataplane applies all of it
   * or none of it, with one FIB publish, and commits {@code generation} with it.
   */
  @Override
  public synchronized void applyRoutes(List<RouteChange> changes, long generation) {
    CommandChannel c = channel();
    int limit = c.toDataplane().maxMsgLength();
    long batch = ++nextCorrelation;
    Records.Writer change = new Records.Writer();
    int part = 0;
    int next = 0;
    do {
      command
          .reset()
          .putLong(++nextCorrelation)
          .putLong(batch)
          .putInt(CommandChannel.VERSION)
          .putInt(part);
      int lastAt = command.length();
      command.putInt(0).putLong(generation);
      int countAt = command.length();
      command.putInt(0);
      int count = 0;
      while (next < changes.size()) {
        change.reset().put(changes.get(next));
        if (change.length() + PART_HEADER > limit) {
          throw new RouteBatchException(
              next, true, "change " + (next + 1) + " is larger than a command record", null);
        }
        if (command.length() + change.length() > limit) {
          break;
        }
        command.putBytes(change.buffer(), 0, change.length());
        count++;
        next++;
      }
      command.buffer().putInt(countAt, count);
      boolean last = next == changes.size();
      command.buffer().putInt(lastAt, last ? 1 : 0);
      send(c, Records.ROUTE_BATCH);
      part++;
      if (last) {
        break;
      }
    } while (true);
    Records.Reader reader = await(c, Records.ROUTE_BATCH);
    if (answerStatus != Records.OK) {
      String message = reader.getString();
      int index = reader.remaining() >= Integer.BYTES ? reader.getInt() : -1;
      if (answerStatus == Records.UNKNOWN) {
        throw new IllegalStateException("dataplane: " + message);
      }
      throw new RouteBatchException(index, answerStatus == Records.REFUSED, message, null);
    }
  }

  /** Who answers: the dataplane's pid and incarnation. */
  public synchronized long[] hello() {
    Records.Reader r = call(Records.HELLO, w -> {});
    return new long[] {r.getLong(), r.getLong()};
  }

  @Override
  public synchronized State installed() {
    return call(Records.INSTALLED, w -> {}).getState();
  }

  @Override
  public synchronized void addPort(PortSpec port) {
    call(Records.ADD_PORT, w -> w.put(port));
  }

  @Override
  public synchronized void removePort(String name) {
    call(Records.REMOVE_PORT, w -> w.putString(name));
  }

  @Override
  public synchronized void addPod(PodSpec pod) {
    call(Records.ADD_POD, w -> w.put(pod));
  }

  @Override
  public synchronized void removePod(String name) {
    call(Records.REMOVE_POD, w -> w.putString(name));
  }

  @Override
  public synchronized void addRoute(RouteSpec route) {
    call(Records.ADD_ROUTE, w -> w.put(route));
  }

  @Override
  public synchronized void removeRoute(RouteSpec route) {
    call(Records.REMOVE_ROUTE, w -> w.put(route));
  }

  @Override
  public synchronized void replaceRoute(RouteSpec before, RouteSpec after) {
    call(Records.REPLACE_ROUTE, w -> w.put(before).put(after));
  }

  @Override
  public synchronized void setPolicy(PolicySpec policy) {
    call(Records.SET_POLICY, w -> w.put(policy));
  }

  @Override
  public synchronized void removePolicy(String pod) {
    call(Records.REMOVE_POLICY, w -> w.putString(pod));
  }

  @Override
  public synchronized List<String> podProblems(String name) {
    return call(Records.POD_PROBLEMS, w -> w.putString(name)).getStrings();
  }

  @Override
  public synchronized void commit(long generation) {
    call(Records.COMMIT, w -> w.putLong(generation));
  }

  /** A {@code ctl} query answered from the dataplane's live state: JSON text. */
  public synchronized String query(String op, Map<String, String> args) {
    return call(Records.QUERY, w -> w.putString(op).put(args)).getString();
  }

  @Override
  public synchronized void close() {
    bell.close();
    if (channel != null) {
      channel.close();
      channel = null;
    }
  }
}
