package io.flatnet.control;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * SIGTERM and SIGINT for a process's main loop: the JVM's shutdown tells the loop to stop, then
 * waits (up to 10 s) until the loop says it has cleaned up (ports closed, children stopped), so a
 * signal never cuts a cleanup short.
 */
public final class StopSignal {
  private final CountDownLatch stop = new CountDownLatch(1);
  private final CountDownLatch done = new CountDownLatch(1);
  private final Thread hook;

  private StopSignal() {
    hook =
        new Thread(
            () -> {
              stop.countDown();
              try {
                done.await(10, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "flatnet-stop");
  }

  /** Installs the shutdown hook. */
  public static StopSignal install() {
    StopSignal s = new StopSignal();
    Runtime.getRuntime().addShutdownHook(s.hook);
    return s;
  }

  /** Waits up to {@code timeout} for a stop; true if one came. */
  public boolean await(long timeout, TimeUnit unit) throws InterruptedException {
    return stop.await(timeout, unit);
  }

  /** True once a stop came. */
  public boolean requested() {
    return stop.getCount() == 0;
  }

  /**
   * The loop has cleaned up (call it in a {@code finally}): a shutdown under way may finish; if
   * none is, the hook is removed, as the process ends by itself.
   */
  public void done() {
    done.countDown();
    if (!requested()) {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // a shutdown began meanwhile: it finds done counted down
      }
    }
  }
}
