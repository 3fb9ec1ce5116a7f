package io.flatnet.dataplane;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the real tools (ip, ping, tcpdump) that the namespace tests drive. */
final class Shell {
  private Shell() {}

  record Result(int exit, String output) {}

  static Result run(String... command) {
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
      process.getOutputStream().close();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        return new Result(-1, "timed out: " + String.join(" ", command));
      }
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      return new Result(process.exitValue(), output);
    } catch (IOException e) {
      return new Result(-1, "cannot run " + command[0] + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(-1, "interrupted");
    }
  }

  /** Runs a command that must succeed; its output otherwise explains why it did not. */
  static String must(String... command) {
    Result result = run(command);
    if (result.exit() != 0) {
      throw new AssertionError(
          String.join(" ", command) + " failed (" + result.exit() + "):\n" + result.output());
    }
    return result.output();
  }

  /** {@code ip netns exec NS command...} */
  static Result in(String namespace, String... command) {
    String[] full = new String[command.length + 4];
    full[0] = "ip";
    full[1] = "netns";
    full[2] = "exec";
    full[3] = namespace;
    System.arraycopy(command, 0, full, 4, command.length);
    return run(full);
  }

  static String mustIn(String namespace, String... command) {
    Result result = in(namespace, command);
    if (result.exit() != 0) {
      throw new AssertionError(
          "in " + namespace + ": " + String.join(" ", command) + " failed:\n" + result.output());
    }
    return result.output();
  }

  static Process startIn(String namespace, List<String> command) throws IOException {
    List<String> full = new java.util.ArrayList<>(List.of("ip", "netns", "exec", namespace));
    full.addAll(command);
    return new ProcessBuilder(full).redirectErrorStream(true).start();
  }
}
