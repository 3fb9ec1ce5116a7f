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

  private void apply(int type, Records.Reader in) {
    switch (type) {
      case Records.HELLO ->
          payload.putLong(ProcessHandle.current().pid()).putLong(channel.incarnation());
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
