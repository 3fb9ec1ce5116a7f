package io.flatnet.control;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DoorbellTest {

  /** A thread that parks for a minute at a time and counts how often something woke it early. */
  private static final class Sleeper implements Runnable {
    final Semaphore woken = new Semaphore(0);
    volatile boolean running = true;

    @Override
    public void run() {
      while (running) {
        long start = System.nanoTime();
        LockSupport.parkNanos(TimeUnit.MINUTES.toNanos(1));
        if (System.nanoTime() - start < TimeUnit.SECONDS.toNanos(30)) {
          woken.release();
        }
      }
    }
  }

  @Test
  void aRingWakesTheParkedCommandThreadAndSurvivesADataplaneRestart(@TempDir Path dir)
      throws Exception {
    Sleeper sleeper = new Sleeper();
    Thread commands = Thread.ofPlatform().daemon().start(sleeper);
    Doorbell.Ringer ringer = new Doorbell.Ringer(dir);
    try {
      ringer.ring(); // no dataplane yet: nothing happens, nothing is thrown
      Doorbell bell = Doorbell.serve(dir, commands);
      try {
        assertTrue(Files.exists(dir.resolve(Doorbell.FILE)));
        ringer.close(); // forget the failed attempt at once, as a client does on a new channel
        ringer.ring();
        assertTrue(sleeper.woken.tryAcquire(20, TimeUnit.SECONDS), "the ring woke it");
      } finally {
        bell.close();
      }
      assertFalse(Files.exists(dir.resolve(Doorbell.FILE)), "the bell's socket is removed");
      // A new dataplane, a new bell: the client, told of the new channel, rings it.
      Doorbell again = Doorbell.serve(dir, commands);
      try {
        ringer.close();
        ringer.ring();
        assertTrue(sleeper.woken.tryAcquire(20, TimeUnit.SECONDS), "the new bell woke it");
      } finally {
        again.close();
      }
    } finally {
      ringer.close();
      sleeper.running = false;
      LockSupport.unpark(commands);
    }
  }
}
