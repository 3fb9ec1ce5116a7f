package io.flatnet.control;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.SleepingIdleStrategy;

/** A command server on its own thread over a new {@code cnc.dat}, as the dataplane runs one. */
final class ServerHarness implements AutoCloseable {
  final CommandChannel channel;
  final FakeDataplane dataplane = new FakeDataplane();
  final CommandServer server;
  final List<Throwable> errors = new CopyOnWriteArrayList<>();
  private AgentRunner runner;
  private Heartbeat heartbeat;

  ServerHarness(Path dir) throws IOException {
    channel = CommandChannel.create(dir);
    server =
        new CommandServer(
            channel,
            dataplane,
            (op, args) -> {
              JsonText.Obj o = JsonText.object().put("op", op);
              JsonText.Obj a = o.putObject("args");
              args.forEach(a::put);
              return o.toString();
            });
  }

  ServerHarness start() {
    runner = new AgentRunner(new SleepingIdleStrategy(100_000), errors::add, null, server);
    AgentRunner.startOnThread(runner);
    heartbeat = Heartbeat.start(channel);
    return this;
  }

  /** Stops the server thread: no more heartbeats or answers. */
  void stop() {
    if (runner != null) {
      heartbeat.close();
      runner.close();
      runner = null;
    }
  }

  @Override
  public void close() {
    stop();
    channel.close();
  }
}
