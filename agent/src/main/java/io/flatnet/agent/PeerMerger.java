package io.flatnet.agent;

import io.flatnet.agent.config.ConfigError;
import io.flatnet.agent.config.ConfigValidator;
import io.flatnet.agent.config.NodeConfig;
import io.flatnet.agent.config.PeerConfig;
import io.flatnet.agent.config.PodConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Merges the {@link PeerSource}'s peers into the config: keeps its latest list, gathers a burst of
 * changes into one refresh ({@code debounce} after the first), and picks the peers that validate
 * with the config, remembering why the others were left out. Not thread-safe: the {@link Agent}
 * serialises (the refresh timer calls back through it).
 */
final class PeerMerger {

  private static final System.Logger LOG = System.getLogger(Agent.class.getName());
  private static final Pattern PEER_PATH = Pattern.compile("peers\\[(\\d+)\\]");

  private final ConfigValidator validator;
  private final Duration debounce;

  /** The peer source's latest list (all of it: validation picks from it). */
  private List<PeerConfig> published = List.of();

  /** Published peers left out, by name: their errors (logged when they change). */
  private Map<String, String> problems = Map.of();

  private boolean subscribed;
  private ScheduledExecutorService timer;
  private ScheduledFuture<?> refreshDue;

  PeerMerger(ConfigValidator validator, Duration debounce) {
    this.validator = validator;
    this.debounce = debounce;
  }

  /**
   * Starts the refresh timer the first time for a real {@code source}.
   *
   * @return whether the caller should now subscribe to {@code source}
   */
  boolean follow(PeerSource source) {
    if (subscribed || source == PeerSource.NONE) {
      return false;
    }
    subscribed = true;
    timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "flatnet-agent-peers");
              t.setDaemon(true);
              return t;
            });
    return true;
  }

  /** Takes the source's new list, and schedules {@code refresh} unless one is due already. */
  void published(List<PeerConfig> peers, Runnable refresh) {
    published = List.copyOf(peers);
    if (timer == null || refreshDue != null) {
      return; // a refresh is already due: it will read the latest list
    }
    refreshDue = timer.schedule(refresh, debounce.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** A refresh runs now: later publications schedule another. */
  void refreshing() {
    refreshDue = null;
  }

  Map<String, String> problems() {
    return problems;
  }

  void close() {
    if (timer != null) {
      timer.shutdownNow();
      timer = null;
    }
  }

  /**
   * The published peers that may be used with {@code base} (a valid config) and {@code pods}: all
   * of them if they validate together; else the ones with errors of their own are left out (a later
   * peer is the one that overlaps an earlier: those {@code inUse} already, unchanged, come first),
   * and if errors remain elsewhere (a route of the config that a peer's pod CIDR duplicates), each
   * peer is tried on its own. Problems are logged when they change.
   */
  List<PeerConfig> select(NodeConfig base, Collection<PodConfig> pods, List<PeerConfig> inUse) {
    String self = base.node().name();
    int first = base.peers().size();
    List<PeerConfig> trial = new ArrayList<>();
    for (PeerConfig p : published) {
      if (p != null && !Objects.equals(p.name(), self)) {
        trial.add(p);
      }
    }
    trial.sort(
        Comparator.comparing((PeerConfig p) -> !inUse.contains(p))
            .thenComparing(PeerConfig::name, Comparator.nullsFirst(Comparator.naturalOrder())));
    Map<String, String> found = new TreeMap<>();
    List<PeerConfig> use = null;
    while (use == null) {
      List<ConfigError> errors = validator.validate(EffectiveConfig.withPeers(base, trial), pods);
      if (errors.isEmpty()) {
        use = trial;
        break;
      }
      Map<Integer, List<ConfigError>> own = new TreeMap<>();
      for (ConfigError e : errors) {
        Matcher m = PEER_PATH.matcher(e.path());
        if (m.lookingAt() && Integer.parseInt(m.group(1)) >= first) {
          own.computeIfAbsent(Integer.parseInt(m.group(1)) - first, i -> new ArrayList<>()).add(e);
        }
      }
      if (own.isEmpty()) {
        use = new ArrayList<>();
        for (PeerConfig p : trial) {
          List<PeerConfig> with = new ArrayList<>(use);
          with.add(p);
          List<ConfigError> alone = validator.validate(EffectiveConfig.withPeers(base, with), pods);
          if (alone.isEmpty()) {
            use.add(p);
          } else {
            found.put(p.name(), describe(alone, first, with));
          }
        }
        break;
      }
      List<PeerConfig> next = new ArrayList<>();
      for (int i = 0; i < trial.size(); i++) {
        List<ConfigError> mine = own.get(i);
        if (mine == null) {
          next.add(trial.get(i));
        } else {
          found.put(String.valueOf(trial.get(i).name()), describe(mine, first, trial));
        }
      }
      trial = next;
    }
    logChanges(found);
    problems = Collections.unmodifiableMap(found);
    use.sort(
        Comparator.comparing(PeerConfig::name, Comparator.nullsFirst(Comparator.naturalOrder())));
    return List.copyOf(use);
  }

  private void logChanges(Map<String, String> found) {
    for (Map.Entry<String, String> e : found.entrySet()) {
      if (!e.getValue().equals(problems.get(e.getKey()))) {
        LOG.log(
            System.Logger.Level.WARNING,
            "peer node " + e.getKey() + ": left out (the other peers apply): " + e.getValue());
      }
    }
    for (String name : problems.keySet()) {
      if (!found.containsKey(name)) {
        LOG.log(
            System.Logger.Level.INFO, "peer node " + name + ": no longer left out (fixed or gone)");
      }
    }
  }

  /**
   * The errors as one line, with {@code peers[i]} of a source peer renamed {@code nodes[name]}
   * ({@code sources} are the source peers at indexes from {@code first} on).
   */
  static String describe(List<ConfigError> errors, int first, List<PeerConfig> sources) {
    return errors.stream()
        .map(e -> renamePeers(e.toString(), first, sources))
        .collect(Collectors.joining("; "));
  }

  private static String renamePeers(String text, int first, List<PeerConfig> sources) {
    return PEER_PATH
        .matcher(text)
        .replaceAll(
            m -> {
              int i = Integer.parseInt(m.group(1)) - first;
              return i >= 0 && i < sources.size()
                  ? Matcher.quoteReplacement("nodes[" + sources.get(i).name() + "]")
                  : Matcher.quoteReplacement(m.group());
            });
  }
}
