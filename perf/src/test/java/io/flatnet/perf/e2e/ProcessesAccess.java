package io.flatnet.perf.e2e;

import java.nio.file.Path;

/** Test access to package-private helpers. */
public final class ProcessesAccess {
  private ProcessesAccess() {}

  public static void deleteTree(Path dir) {
    Processes.deleteTree(dir);
  }
}
