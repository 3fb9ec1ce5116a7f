package io.flatnet.vhost;

import io.flatnet.dataplane.Router;
import io.flatnet.vhost.VhostPortException.Problem;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * Control path for vhost-user pod ports: adds them to and removes them from a running {@link
 * Router} (which hot-plugs net_vhost through {@code rte_dev_probe} and publishes the port to its
 * workers), in server or client mode, after {@link VhostPortChecks} found nothing wrong; tracks
 * them with a {@link VhostPortMonitor}; and keeps {@code <runDir>/vhost-ports.json} current.
 *
 * <p>Thread safety: every method may be called from any thread; they serialise on this object, so
 * the monitor never observes a port that is being removed.
 */
public final class VhostPorts implements AutoCloseable {
  private static final AtomicInteger DEVICE_NAMES = new AtomicInteger();

  /** A created port. */
  private record Entry(VhostPortSpec spec, int port) {}

  private final Router router;
  private final VhostPortChecks checks;
  private final VhostPortMonitor monitor;
  private final Path statusFile;
  private final Consumer<String> log;
  private final InstantSource clock;
  private final Map<String, Entry> byName = new LinkedHashMap<>();
  private Instant lastWrite = Instant.EPOCH;
  private Thread poller;
  private volatile boolean polling;

  /**
   * @param router the router the ports go into
   * @param runDir where {@value VhostStatusFile#NAME} is written
   * @param policy what the pre-creation checks expect
   * @param log where transitions and errors are reported (one line each)
   */
  public VhostPorts(
      Router router, Path runDir, VhostPortChecks.Policy policy, Consumer<String> log) {
    this.router = router;
    this.log = log;
    this.clock = InstantSource.system();
    this.checks = new VhostPortChecks(policy, log);
    this.monitor =
        new VhostPortMonitor(
            new DpdkObserver(Path.of("/proc/net/unix")), clock, log, Duration.ofSeconds(10));
    this.statusFile = VhostStatusFile.in(runDir);
  }

  /** Logs to standard error with a {@code flatnet vhost-user:} prefix. */
  public static Consumer<String> standardLog() {
    return line -> System.err.println("flatnet vhost-user: " + line);
  }

  public VhostPortMonitor monitor() {
    return monitor;
  }

  public Path statusFile() {
    return statusFile;
  }

  /**
   * Checks, then creates the port: in server mode flatnet creates the socket (mode and group from
   * the policy); in client mode it connects to the VM's socket, now or as soon as it appears.
   * Nothing is left behind when a check or the creation fails.
   *
   * @return the DPDK port id
   * @throws VhostPortException naming what was wrong
   */
  public synchronized int add(VhostPortSpec spec) {
    return add(spec, UnaryOperator.identity());
  }

  /**
   * As {@link #add(VhostPortSpec)}, with the router port spec adjusted by {@code portSpec} first
   * (the agent gives a pod port its gateway addresses this way).
   */
  public synchronized int add(VhostPortSpec spec, UnaryOperator<Router.PortSpec> portSpec) {
    if (byName.containsKey(spec.name())) {
      throw new VhostPortException(
          Problem.DUPLICATE, "a vhost-user pod named " + spec.name() + " exists already");
    }
    for (Entry entry : byName.values()) {
      if (entry.spec().socket().equals(spec.socket())) {
        throw new VhostPortException(
            Problem.DUPLICATE,
            "pod "
                + spec.name()
                + ": socket "
                + spec.socket()
                + " is already used by pod "
                + entry.spec().name());
      }
    }
    checks.checkBeforeCreate(spec);
    String devargs = spec.devargs("net_vhost_fn" + DEVICE_NAMES.incrementAndGet());
    int port;
    try {
      port = router.addPort(portSpec.apply(Router.PortSpec.pod(spec.name(), devargs)));
    } catch (RuntimeException e) {
      throw new VhostPortException(
          Problem.DEVICE,
          "pod " + spec.name() + ": creating net_vhost (" + devargs + ") failed: " + e.getMessage(),
          e);
    }
    if (spec.mode() == VhostMode.SERVER) {
      try {
        checks.secureServerSocket(spec);
      } catch (VhostPortException e) {
        router.removePort(port);
        throw e;
      }
    }
    byName.put(spec.name(), new Entry(spec, port));
    monitor.track(port, spec);
    writeStatus();
    return port;
  }

  /**
   * Removes a pod's port: the workers let go of it first, then the device goes (a server socket is
   * unlinked by rte_vhost). Remove the pod's routes before.
   */
  public synchronized void remove(String name) {
    Entry entry = byName.remove(name);
    if (entry == null) {
      throw new VhostPortException(Problem.BAD_SPEC, "no vhost-user pod named " + name);
    }
    monitor.forget(name);
    router.removePort(entry.port());
    writeStatus();
  }

  /** The DPDK port id of a pod. */
  public synchronized int port(String name) {
    Entry entry = byName.get(name);
    if (entry == null) {
      throw new VhostPortException(Problem.BAD_SPEC, "no vhost-user pod named " + name);
    }
    return entry.port();
  }

  public synchronized List<String> names() {
    return List.copyOf(byName.keySet());
  }

  /** Observes every port once, and rewrites the status file if a state changed or 1 s passed. */
  public synchronized void poll() {
    boolean changed = monitor.poll();
    Instant now = clock.instant();
    if (changed || Duration.between(lastWrite, now).toMillis() >= 1000) {
      writeStatus();
    }
  }

  public synchronized List<VhostPortStatus> status() {
    return monitor.status();
  }

  /** Writes every port's status to {@code <runDir>/vhost-ports.json}, atomically. */
  public synchronized void writeStatus() {
    lastWrite = clock.instant();
    VhostStatusFile.write(statusFile, monitor.status(), lastWrite);
  }

  /** Starts a daemon control thread that polls every {@code period} (100 ms is the intent). */
  public synchronized void startMonitor(Duration period) {
    if (poller != null) {
      throw new IllegalStateException("the vhost-user monitor runs already");
    }
    polling = true;
    long sleepMillis = Math.max(1, period.toMillis());
    poller =
        Thread.ofPlatform()
            .daemon()
            .name("flatnet-vhost-monitor")
            .start(
                () -> {
                  while (polling) {
                    try {
                      poll();
                    } catch (RuntimeException e) {
                      log.accept("monitor poll failed: " + e);
                    }
                    try {
                      Thread.sleep(sleepMillis);
                    } catch (InterruptedException e) {
                      return;
                    }
                  }
                });
  }

  /** Stops the monitor thread (ports stay; the router removes them when it closes). */
  @Override
  public void close() {
    Thread thread;
    synchronized (this) {
      thread = poller;
      poller = null;
      polling = false;
    }
    if (thread != null) {
      try {
        thread.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
