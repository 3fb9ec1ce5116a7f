package io.flatnet.agent;

import io.flatnet.agent.config.IpAddress;
import io.flatnet.agent.ipam.Ipam;
import io.flatnet.agent.ipam.IpamException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Frees the CNI plugin's IPAM addresses of containers that are no {@link RuntimePods} pod any more:
 * ADDs whose plugin died before DEL, DELs that never came. Not thread-safe: the {@link Agent}
 * serialises (the timer calls back through it).
 */
final class IpamCollector {

  private static final System.Logger LOG = System.getLogger(Agent.class.getName());

  private final Path ipamDir;
  private final Path stateDir;
  private final RuntimePods pods;
  private final Duration minAge;
  private ScheduledExecutorService timer;
  private boolean closed;

  /**
   * @param ipamDir the IPAM stores, one per network; null: collect nothing
   * @param minAge addresses younger than this are kept (an ADD allocates before it tells the agent)
   */
  IpamCollector(Path ipamDir, Path stateDir, RuntimePods pods, Duration minAge) {
    this.ipamDir = ipamDir;
    this.stateDir = stateDir;
    this.pods = pods;
    this.minAge = minAge;
  }

  /** Collects now, then runs {@code tick} every {@code interval} (once; not after close). */
  void start(Duration interval, Runnable tick) {
    if (ipamDir == null || timer != null || closed) {
      return;
    }
    collect();
    timer =
        Executors.newSingleThreadScheduledExecutor(
            t -> {
              Thread th = new Thread(t, "flatnet-agent-ipam-gc");
              th.setDaemon(true);
              return th;
            });
    long every = interval.toMillis();
    timer.scheduleWithFixedDelay(tick, every, every, TimeUnit.MILLISECONDS);
  }

  /**
   * Frees the addresses (every network under the IPAM dir) of containers that are no runtime pod,
   * if old enough. Skipped while a pod record is unreadable, since then a live pod could look gone.
   *
   * @return the addresses freed, by network
   */
  Map<String, List<IpAddress>> collect() {
    if (ipamDir == null) {
      return Map.of();
    }
    try {
      Optional<Set<String>> live = pods.containerIdsIfComplete();
      if (live.isEmpty()) {
        LOG.log(
            System.Logger.Level.WARNING,
            "IPAM addresses not collected: a CNI pod record in "
                + stateDir
                + "/pods is unreadable (.bad) or has no container ID");
        return Map.of();
      }
      Map<String, List<IpAddress>> freed = Ipam.gcAll(ipamDir, live.get(), minAge);
      freed.forEach(
          (network, addresses) ->
              LOG.log(
                  System.Logger.Level.INFO,
                  "IPAM "
                      + network
                      + ": freed "
                      + addresses
                      + " (their containers are no CNI pod any more)"));
      return freed;
    } catch (IOException | IpamException | RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "IPAM collection failed; trying again later", e);
      return Map.of();
    }
  }

  void close() {
    closed = true;
    if (timer != null) {
      timer.shutdownNow();
      timer = null;
    }
  }
}
