package io.flatnet.perf.e2e;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs one trial: starts the DUT (which creates the two vhost-user server sockets), waits for the
 * sockets, starts the generator (testpmd flowgen over virtio_user, the sockets' clients), reads its
 * per-second statistics until the warm-up and measured seconds have passed, then stops the
 * generator and the DUT (SIGTERM; both print their final counters) and removes the sockets.
 */
public final class TrialRunner {
  private static final long SOCKET_WAIT_MILLIS = 60_000;

  private final Processes processes;
  private final Commands commands;
  private final Path scratch;
  private final Path logDir;
  private final PrintStream progress;
  private int trialNumber;

  public TrialRunner(
      Processes processes, Commands commands, Path scratch, Path logDir, PrintStream progress) {
    this.processes = processes;
    this.commands = commands;
    this.scratch = scratch;
    this.logDir = logDir;
    this.progress = progress;
  }

  /**
   * Runs a trial, after half a second of measuring how busy the CPUs are without it; a failure is
   * returned as a result with an error, not thrown.
   */
  public TrialResult run(
      int round, DutSystem system, int frameBytes, RouteSet routes, int warmup, int measure)
      throws InterruptedException {
    double[] busy = CpuLoad.sample(Runtime.getRuntime().availableProcessors(), 500);
    return runTrial(round, system, frameBytes, routes, warmup, measure).withBusyBefore(busy);
  }

  private TrialResult runTrial(
      int round, DutSystem system, int frameBytes, RouteSet routes, int warmup, int measure)
      throws InterruptedException {
    int n = ++trialNumber;
    String label =
        String.format(
            "%02d-%s-%dB-%s", n, round == 0 ? "check" : "r" + round, frameBytes, system.label());
    Path dir = scratch.resolve("t" + n);
    Processes.Child dut = null;
    Processes.Child gen = null;
    TestpmdStats genStats = new TestpmdStats(2);
    TestpmdStats dutStats = new TestpmdStats(2);
    AtomicReference<FlatnetSummary> flatnet = new AtomicReference<>();
    try {
      Files.createDirectories(dir);
      Path sock0 = dir.resolve("p0.sock");
      Path sock1 = dir.resolve("p1.sock");
      Path v4 = dir.resolve("rules_v4.cfg");
      Path v6 = dir.resolve("rules_v6.cfg");
      Files.writeString(v4, routes.l3fwdIpv4Rules(), StandardCharsets.UTF_8);
      Files.writeString(v6, RouteSet.l3fwdIpv6Rules(), StandardCharsets.UTF_8);
      List<String> dutCmd = commands.dut(system, sock0, sock1, routes, v4, v6, dir.resolve("run"));
      dut =
          processes.start(
              system.label(),
              dutCmd,
              logDir.resolve(label + "-dut.log"),
              line -> {
                if (system == DutSystem.FLATNET) {
                  FlatnetSummary.parse(line).ifPresent(flatnet::set);
                } else if (system == DutSystem.TESTPMD_IO) {
                  dutStats.accept(line);
                }
              });
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SOCKET_WAIT_MILLIS);
      while (!(Files.exists(sock0) && Files.exists(sock1))) {
        if (!dut.isAlive()) {
          return failed(round, system, frameBytes, dut, "exited before creating its sockets");
        }
        if (System.nanoTime() > deadline) {
          return failed(round, system, frameBytes, dut, "no vhost-user sockets after 60 s");
        }
        Thread.sleep(20);
      }
      BlockingQueue<TestpmdStats.Block> blocks = new LinkedBlockingQueue<>();
      gen =
          processes.start(
              "generator",
              commands.generator(sock0, sock1, frameBytes),
              logDir.resolve(label + "-gen.log"),
              line -> genStats.accept(line).ifPresent(blocks::add));
      int wanted = warmup + measure + 1;
      int seen = 0;
      long genDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(wanted + 30L);
      while (seen < wanted) {
        if (blocks.poll(250, TimeUnit.MILLISECONDS) != null) {
          seen++;
          continue;
        }
        if (!gen.isAlive()) {
          gen.awaitOutput(2000);
          return failed(round, system, frameBytes, gen, "exited");
        }
        if (!dut.isAlive()) {
          return failed(round, system, frameBytes, dut, "exited during the trial");
        }
        if (System.nanoTime() > genDeadline) {
          return failed(
              round, system, frameBytes, gen, "only " + seen + " of " + wanted + " stats seconds");
        }
      }
      processes.stop(gen, 10_000);
      Processes.Child stoppedGen = gen;
      gen = null;
      boolean dutClean = processes.stop(dut, 20_000);
      Processes.Child stoppedDut = dut;
      dut = null;
      var window = TestpmdStats.window(genStats.blocks(), warmup, measure).orElse(null);
      if (window == null) {
        return failed(round, system, frameBytes, stoppedGen, "too few statistics blocks");
      }
      long[] dutTx = dutTxByPort(system, dutStats.forwardTotals(), flatnet.get());
      String error = null;
      if (system == DutSystem.FLATNET && flatnet.get() == null) {
        error = "flatnet printed no JSON summary" + (dutClean ? "" : " (killed)");
      }
      if (error != null) {
        progress.print(stoppedDut.tail(10));
      }
      return new TrialResult(
          round,
          system,
          frameBytes,
          window,
          genStats.forwardTotals(),
          dutTx,
          flatnet.get(),
          error,
          new double[0]);
    } catch (IOException | IllegalStateException e) {
      return new TrialResult(
          round,
          system,
          frameBytes,
          null,
          Map.of(),
          new long[0],
          null,
          e.getMessage(),
          new double[0]);
    } finally {
      if (gen != null) {
        processes.stop(gen, 5_000);
      }
      if (dut != null) {
        processes.stop(dut, 10_000);
      }
      Processes.deleteTree(dir);
    }
  }

  private static long[] dutTxByPort(
      DutSystem system, Map<Integer, TestpmdStats.ForwardTotals> testpmd, FlatnetSummary flatnet) {
    if (system == DutSystem.TESTPMD_IO && testpmd.size() == 2) {
      return new long[] {testpmd.get(0).txPackets(), testpmd.get(1).txPackets()};
    }
    if (system == DutSystem.FLATNET && flatnet != null && flatnet.txByPort().size() == 2) {
      return flatnet.txByPort().values().stream().mapToLong(Long::longValue).toArray();
    }
    return new long[0];
  }

  private TrialResult failed(
      int round, DutSystem system, int frameBytes, Processes.Child culprit, String why) {
    String msg = culprit.name() + " " + why + " (log " + culprit.log() + ")";
    progress.println("flatnet bench e2e: " + system.label() + " trial failed: " + msg);
    progress.print(culprit.tail(12));
    return new TrialResult(
        round, system, frameBytes, null, Map.of(), new long[0], null, msg, new double[0]);
  }
}
