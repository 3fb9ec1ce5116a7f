package io.flatnet.agent.cni;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** Runs a command and returns its exit code and output. Replaced by a recorder in tests. */
@FunctionalInterface
public interface CommandRunner {

  /** What a command did. */
  record Result(int exitCode, String stdout, String stderr) {
    public boolean ok() {
      return exitCode == 0;
    }
  }

  /**
   * Runs {@code argv}.
   *
   * @throws IOException if it cannot be started or times out
   */
  Result run(List<String> argv) throws IOException;

  /**
   * The real runner: looks the program up in PATH and then /usr/sbin, /sbin, /usr/bin, /bin (a CNI
   * runtime may pass a short PATH), and kills it after {@code timeoutSeconds}.
   */
  static CommandRunner system(long timeoutSeconds) {
    return argv -> {
      List<String> cmd = new ArrayList<>(argv);
      cmd.set(0, resolve(argv.get(0)));
      Process p =
          new ProcessBuilder(cmd)
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
              .start();
      CompletableFuture<String> out =
          CompletableFuture.supplyAsync(() -> drain(p.getInputStream()));
      CompletableFuture<String> err =
          CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
      try {
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new IOException(
              String.join(" ", argv) + ": timed out after " + timeoutSeconds + " s");
        }
        return new Result(p.exitValue(), out.get(), err.get());
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
        throw new IOException(String.join(" ", argv) + ": interrupted", e);
      } catch (ExecutionException e) {
        throw new IOException(String.join(" ", argv) + ": " + e.getCause(), e);
      }
    };
  }

  private static String drain(InputStream in) {
    try (in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }

  private static String resolve(String program) {
    if (program.contains("/")) {
      return program;
    }
    List<String> dirs = new ArrayList<>();
    String path = System.getenv("PATH");
    if (path != null) {
      dirs.addAll(List.of(path.split(File.pathSeparator)));
    }
    dirs.addAll(List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"));
    for (String d : dirs) {
      File f = new File(d, program);
      if (!d.isEmpty() && f.canExecute()) {
        return f.getPath();
      }
    }
    return program;
  }
}
