package io.flatnet.agent.cluster;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the real tools the cluster demo drives: ip, ping, tcpdump, iperf3. */
final class Sh {
  private Sh() {}

  record Result(int exit, String output) {
    boolean ok() {
      return exit == 0;
    }
  }

  static Result run(List<String> command, int timeoutSeconds) {
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
      process.getOutputStream().close();
      if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        return new Result(
            -1, "timed out after " + timeoutSeconds + " s: " + String.join(" ", command));
      }
      return new Result(
          process.exitValue(),
          new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      return new Result(-1, "cannot run " + command.get(0) + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(-1, "interrupted");
    }
  }

  static Result run(String... command) {
    return run(List.of(command), 30);
  }

  /** A command that must succeed, or the demo stops saying which one failed and why. */
  static String must(String... command) {
    Result result = run(command);
    if (!result.ok()) {
      throw new IllegalStateException(String.join(" ", command) + " failed:\n" + result.output());
    }
    return result.output();
  }

  static List<String> in(String namespace, String... command) {
    List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
    full.addAll(List.of(command));
    return full;
  }

  static Result runIn(String namespace, String... command) {
    return run(in(namespace, command), 60);
  }

  static String mustIn(String namespace, String... command) {
    Result result = runIn(namespace, command);
    if (!result.ok()) {
      throw new IllegalStateException(
          "in " + namespace + ": " + String.join(" ", command) + " failed:\n" + result.output());
    }
    return result.output();
  }
}
