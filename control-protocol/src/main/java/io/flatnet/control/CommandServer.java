package io.flatnet.control;

import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.ringbuffer.RingBuffer;

/**
 * The dataplane's end of the command channel: an Agrona agent on the dataplane's control thread
 * (never a worker) that reads commands, applies them to the dataplane and writes each response
 * under the command's correlation id. A command that fails is answered with its error; the server
 * itself never stops for one. The heartbeat is {@link Heartbeat}'s.
 */
public final class CommandServer implements Agent {
  /** Answers {@code ctl} queries from the dataplane's live state, as JSON text. */
  public interface Queries {
    String answer(String op, Map<String, String> args);
  }

  private static final int COMMANDS_PER_WORK = 64;
  private static final long UNBLOCK_AFTER_MILLIS = 1_000;
  private static final long RESPONSE_WRITE_MILLIS = 5_000;

  private final CommandChannel channel;
  private final DataplaneApi dataplane;
  private final Queries queries;
  private final Records.Writer payload = new Records.Writer();
  private final Records.Writer response = new Records.Writer();
  private final MessageHandler handler = this::onCommand;
  private long stuckSince;
  private long commands;

  // The route batch being received (its parts come in order; only the last is answered).
  private final java.util.ArrayList<RouteChange> staged = new java.util.ArrayList<>();
  private long stagedBatch;
  private int stagedParts;
  private String stagedError;
  private int stagedErrorIndex;

  public CommandServer(CommandChannel channel, DataplaneApi dataplane, Queries queries) {
    this.channel = channel;
    this.dataplane = dataplane;
    this.queries = queries;
  }

  @Override
  public String roleName() {
    return "flatnet-commands";
  }

  /** Commands handled so far. */
  public long commands() {
    return commands;
  }

  @Override
  public int doWork() {
    long now = System.currentTimeMillis();
    RingBuffer in = channel.toDataplane();
    int read = in.read(handler, COMMANDS_PER_WORK);
    if (read > 0 || in.producerPosition() == in.consumerPosition()) {
      stuckSince = 0;
    } else if (stuckSince == 0) {
      stuckSince = now;
    } else if (now - stuckSince > UNBLOCK_AFTER_MILLIS) {
      // A writer died between claiming and committing a record (an agent killed mid-write).
      in.unblock();
      stuckSince = 0;
    }
    return read;
  }

  private void onCommand(int type, MutableDirectBuffer buffer, int index, int length) {
    commands++;
    if (length < Long.BYTES) {
      return; // not even a correlation id: nobody to answer
    }
    Records.Reader in = new Records.Reader(buffer, index, length);
    long correlation = in.getLong();
    payload.reset();
    int status = Records.OK;
    try {
      if (type == Records.ROUTE_BATCH) {
        batchPart(correlation, in);
        return; // answered (or not: a part before the last) there
      }
      apply(type, in);
    } catch (UnknownCommand e) {
      status = Records.UNKNOWN;
      payload.reset().putString(e.getMessage());
    } catch (IllegalArgumentException e) {
      status = Records.REFUSED;
      payload.reset().putString(String.valueOf(e.getMessage()));
    } catch (RuntimeException | Error e) {
      status = Records.FAILED;
      payload.reset().putString(e.toString());
    }
    respond(correlation, status);
  }

  private static final class UnknownCommand extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UnknownCommand(int type) {
      super(
          "unknown command type " + type + " (dataplane protocol " + CommandChannel.VERSION + ")");
    }
  }

  /**
   * One part of a route batch ({@link Records#ROUTE_BATCH}): staged; the last applies the whole
   * batch (atomically, if the dataplane can) and is answered. A part that cannot be read spoils the
   * batch: its last part is refused with the error.
   */
  private void batchPart(long correlation, Records.Reader in) {
    long batch;
    int part;
    boolean last;
    long generation;
    try {
      batch = in.getLong();
      int version = in.getInt();
      if (version != CommandChannel.VERSION) {
        throw new IllegalArgumentException(
            "the agent speaks protocol " + version + ", this dataplane " + CommandChannel.VERSION);
      }
      part = in.getInt();
      last = in.getInt() != 0;
      generation = in.getLong();
    } catch (RuntimeException e) {
      payload.reset().putString("route batch: " + e.getMessage()).putInt(-1);
      respond(correlation, Records.REFUSED);
      return;
    }
    if (part == 0) {
      staged.clear();
      stagedBatch = batch;
      stagedParts = 0;
      stagedError = null;
    } else if (batch != stagedBatch || part != stagedParts) {
      if (stagedError == null || batch != stagedBatch) {
        stagedBatch = batch;
        staged.clear();
        stagedError = "route batch: part " + part + " came without the parts before it";
        stagedErrorIndex = -1;
      }
    }
    stagedParts = part + 1;
    if (stagedError == null) {
      int count = -1;
      try {
        count = in.getInt();
        for (int i = 0; i < count; i++) {
          staged.add(in.getRouteChange());
        }
      } catch (RuntimeException e) {
        stagedErrorIndex = count < 0 ? -1 : staged.size();
        stagedError =
            (count < 0 ? "route batch part " + part : "change " + (staged.size() + 1))
                + ": "
                + e.getMessage();
      }
    }
    if (!last) {
      return;
    }
    int status = Records.OK;
    payload.reset();
    if (stagedError != null) {
      status = Records.REFUSED;
      payload.putString(stagedError).putInt(stagedErrorIndex);
    } else {
      try {
        dataplane.applyRoutes(staged, generation);
        if (generation >= 0) {
          channel.committed(generation);
        }
        payload.putInt(staged.size());
      } catch (RouteBatchException e) {
        status = e.refused() ? Records.REFUSED : Records.FAILED;
        payload.reset().putString(String.valueOf(e.getMessage())).putInt(e.index());
      } catch (IllegalArgumentException e) {
        status = Records.REFUSED;
        payload.reset().putString(String.valueOf(e.getMessage())).putInt(-1);
      } catch (RuntimeException | Error e) {
        status = Records.FAILED;
        payload.reset().putString(e.toString()).putInt(-1);
      }
    }
    staged.clear();
    staged.trimToSize();
    stagedError = null;
    respond(correlation, status);
  }

  private void apply(int type, Records.Reader in) {
    switch (type) {
      case Records.HELLO -> {
        if (in.remaining() >= Integer.BYTES) { // an agent of protocol 4 or later says its own
          int version = in.getInt();
          if (version != CommandChannel.VERSION) {
            throw new IllegalArgumentException(
                "the agent speaks protocol "
                    + version
                    + ", this dataplane "
                    + CommandChannel.VERSION);
          }
        }
        payload.putLong(ProcessHandle.current().pid()).putLong(channel.incarnation());
      }
      case Records.INSTALLED -> payload.put(dataplane.installed());
      case Records.ADD_PORT -> dataplane.addPort(in.getPort());
      case Records.REMOVE_PORT -> dataplane.removePort(in.getString());
      case Records.ADD_POD -> dataplane.addPod(in.getPod());
      case Records.REMOVE_POD -> dataplane.removePod(in.getString());
      case Records.ADD_ROUTE -> dataplane.addRoute(in.getRoute());
      case Records.REMOVE_ROUTE -> dataplane.removeRoute(in.getRoute());
      case Records.REPLACE_ROUTE -> dataplane.replaceRoute(in.getRoute(), in.getRoute());
      case Records.SET_POLICY -> dataplane.setPolicy(in.getPolicy());
      case Records.REMOVE_POLICY -> dataplane.removePolicy(in.getString());
      case Records.COMMIT -> {
        long generation = in.getLong();
        dataplane.commit(generation);
        channel.committed(generation);
      }
      case Records.POD_PROBLEMS -> {
        List<String> problems = dataplane.podProblems(in.getString());
        payload.putStrings(problems);
      }
      case Records.QUERY -> {
        String op = in.getString();
        payload.putString(queries.answer(op, in.getMap()));
      }
      default -> throw new UnknownCommand(type);
    }
  }

  /** Writes the payload in chunks; waits for room a while, as the agent may be slow to read. */
  private void respond(long correlation, int status) {
    int total = payload.length();
    int offset = 0;
    do {
      int chunk = Math.min(CommandChannel.CHUNK, total - offset);
      boolean more = offset + chunk < total;
      response.reset().putLong(correlation).putInt(status).putInt(more ? 1 : 0);
      response.putBytes(payload.buffer(), offset, chunk);
      if (!write(response.buffer(), response.length())) {
        return; // no agent is reading: it will ask again
      }
      offset += chunk;
    } while (offset < total);
  }

  private boolean write(DirectBuffer record, int length) {
    long deadline = System.currentTimeMillis() + RESPONSE_WRITE_MILLIS;
    while (!channel.toAgent().write(Records.RESPONSE, record, 0, length)) {
      if (System.currentTimeMillis() > deadline) {
        return false;
      }
      LockSupport.parkNanos(100_000);
    }
    return true;
  }
}
