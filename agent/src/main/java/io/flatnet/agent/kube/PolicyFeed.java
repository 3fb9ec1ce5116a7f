package io.flatnet.agent.kube;

import com.fasterxml.jackson.databind.JsonNode;
import io.flatnet.agent.config.ConfigError;
import io.flatnet.agent.config.ConfigException;
import io.flatnet.agent.config.ConfigLoader;
import io.flatnet.agent.config.policy.PolicySection;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Feeds a {@link PolicyWatcher}'s sections to the agent: a burst of changes (a Deployment's pods
 * starting) becomes one apply, {@code debounce} after its first change, of the latest section,
 * bound with the config's own strict loader. A section that does not bind is logged and skipped;
 * the next change tries again.
 */
public final class PolicyFeed implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(PolicyFeed.class.getName());

  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "flatnet-policy-feed");
            t.setDaemon(true);
            return t;
          });
  private final Duration debounce;
  private final Function<PolicySection, ?> apply;
  private JsonNode latest;
  private boolean due;

  private PolicyFeed(Duration debounce, Function<PolicySection, ?> apply) {
    this.debounce = debounce;
    this.apply = apply;
  }

  /** Follows {@code watcher}: each debounced section goes to {@code apply} (the agent's). */
  public static PolicyFeed follow(
      PolicyWatcher watcher, Duration debounce, Function<PolicySection, ?> apply) {
    PolicyFeed feed = new PolicyFeed(debounce, apply);
    watcher.subscribe(feed::published);
    return feed;
  }

  private synchronized void published(JsonNode section) {
    latest = section;
    if (!due) {
      due = true;
      timer.schedule(this::applyLatest, debounce.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  private void applyLatest() {
    JsonNode section;
    synchronized (this) {
      due = false;
      section = latest;
    }
    try {
      PolicySection bound = ConfigLoader.parsePolicySection(section, "kubernetes");
      Object result = apply.apply(bound);
      LOG.log(
          System.Logger.Level.INFO,
          "kubernetes network policy: "
              + bound.networkPolicies().size()
              + " policies, "
              + bound.pods().size()
              + " pods, "
              + bound.namespaces().size()
              + " namespaces: "
              + result);
    } catch (ConfigException e) {
      LOG.log(
          System.Logger.Level.ERROR,
          "kubernetes network policy inputs skipped: " + e.errors().size() + " errors");
      for (ConfigError error : e.errors()) {
        LOG.log(System.Logger.Level.ERROR, "  " + error);
      }
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "kubernetes network policy: applying failed", e);
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
