package io.flatnet.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The mission's acceptance test: three flatnet nodes, each a router process with its agent, form
 * one flat pod network over a shared fabric; every pod reaches every other (IPv4 and IPv6, TTL one
 * lower per router), the receiver sees the sender's own address, hosts reach their pods, pods reach
 * remote node IPs, TCP flows, and churn and a router restart lose nothing on unaffected flows. The
 * demo checks all of it itself and exits non-zero on any failure.
 */
class ClusterDemoTest {

  @Test
  void threeNodesFormOneFlatPodNetwork() {
    // The demo's output goes to the console as before and into a copy, so that a failure names
    // its checks in the assertion (CI keeps only the end of a long log).
    ByteArrayOutputStream copy = new ByteArrayOutputStream();
    PrintStream console = System.out;
    System.setOut(new PrintStream(new Tee(console, copy), true, StandardCharsets.UTF_8));
    int exit;
    try {
      exit = new CommandLine(new ClusterDemo()).execute("--tcp-seconds", "2");
    } finally {
      System.out.flush();
      System.setOut(console);
    }
    String failed =
        copy.toString(StandardCharsets.UTF_8)
            .lines()
            .filter(line -> line.contains("FAIL"))
            .collect(Collectors.joining("\n"));
    assertEquals(0, exit, "the cluster demo reported failed checks:\n" + failed);
  }

  private static final class Tee extends OutputStream {
    private final OutputStream first;
    private final OutputStream second;

    Tee(OutputStream first, OutputStream second) {
      this.first = first;
      this.second = second;
    }

    @Override
    public void write(int b) throws java.io.IOException {
      first.write(b);
      second.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws java.io.IOException {
      first.write(b, off, len);
      second.write(b, off, len);
    }

    @Override
    public void flush() throws java.io.IOException {
      first.flush();
      second.flush();
    }
  }
}
