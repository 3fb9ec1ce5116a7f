package io.flatnet.agent;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A daemon thread that runs {@code onChange} when the config file's directory changes, once per
 * burst of events ({@code debounce} of quiet). The directory, not the file, is watched so that
 * ConfigMap symlink swaps are seen; {@code onChange} decides whether the file itself changed.
 */
final class ConfigWatcher {

  private final WatchService watchService;
  private final Thread thread;

  /**
   * Starts watching.
   *
   * @throws IOException if the directory cannot be watched
   */
  ConfigWatcher(Path configFile, Duration debounce, Runnable onChange) throws IOException {
    Path dir = configFile.toAbsolutePath().getParent();
    watchService = FileSystems.getDefault().newWatchService();
    try {
      dir.register(
          watchService,
          StandardWatchEventKinds.ENTRY_CREATE,
          StandardWatchEventKinds.ENTRY_MODIFY,
          StandardWatchEventKinds.ENTRY_DELETE);
    } catch (IOException | RuntimeException e) {
      watchService.close();
      throw e;
    }
    WatchService ws = watchService;
    thread = new Thread(() -> loop(ws, debounce, onChange), "flatnet-agent-watch");
    thread.setDaemon(true);
    thread.start();
  }

  private static void loop(WatchService ws, Duration debounce, Runnable onChange) {
    try {
      while (true) {
        WatchKey key = ws.take();
        drain(key);
        WatchKey more;
        while ((more = ws.poll(debounce.toMillis(), TimeUnit.MILLISECONDS)) != null) {
          drain(more);
        }
        onChange.run();
      }
    } catch (InterruptedException | ClosedWatchServiceException e) {
      // closing
    }
  }

  private static void drain(WatchKey key) {
    key.pollEvents();
    key.reset();
  }

  /** Stops the events: the thread ends at its next wait. */
  void stop() throws IOException {
    watchService.close();
  }

  /** Interrupts the thread and waits for it (up to 2 s); call after {@link #stop()}. */
  void awaitExit() {
    thread.interrupt();
    try {
      thread.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
