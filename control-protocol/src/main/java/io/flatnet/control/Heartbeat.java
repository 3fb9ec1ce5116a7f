package io.flatnet.control;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Beats the dataplane's heartbeat in {@code cnc.dat} every {@link CommandChannel#HEARTBEAT_MILLIS}
 * from a daemon thread of its own. It is not the command thread's job: one command can take longer
 * than {@link CommandChannel#STALE_MILLIS} on a loaded machine (the first bridge pod makes a port),
 * and the agent must not take a busy dataplane for a dead one. A stuck command is caught by the
 * agent's call timeout instead.
 */
public final class Heartbeat implements AutoCloseable {
  private final CommandChannel channel;
  private final Thread thread;
  private volatile boolean running = true;

  private Heartbeat(CommandChannel channel) {
    this.channel = channel;
    this.thread = new Thread(this::beat, "flatnet-heartbeat");
    thread.setDaemon(true);
  }

  /** Beats once now, then on its thread until closed. */
  public static Heartbeat start(CommandChannel channel) {
    Heartbeat heartbeat = new Heartbeat(channel);
    channel.heartbeat(System.currentTimeMillis());
    heartbeat.thread.start();
    return heartbeat;
  }

  private void beat() {
    while (running) {
      channel.heartbeat(System.currentTimeMillis());
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(CommandChannel.HEARTBEAT_MILLIS));
    }
  }

  /**
   * Stops beating: within {@link CommandChannel#STALE_MILLIS} the agent calls the dataplane gone.
   */
  @Override
  public void close() {
    running = false;
    LockSupport.unpark(thread);
    try {
      thread.join(1_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
