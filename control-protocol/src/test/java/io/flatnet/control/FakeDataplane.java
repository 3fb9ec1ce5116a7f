package io.flatnet.control;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** An in-memory dataplane for the command channel's tests: records calls and keeps a state. */
final class FakeDataplane implements DataplaneApi {
  final List<String> calls = new CopyOnWriteArrayList<>();
  private final Map<String, PortSpec> ports = new TreeMap<>();
  private final Map<String, PodSpec> pods = new TreeMap<>();
  private final Map<String, RouteSpec> routes = new TreeMap<>();
  private final Map<String, PolicySpec> policies = new TreeMap<>();
  private long generation;

  /** Thrown by the next call, then cleared. */
  volatile RuntimeException nextFailure;

  /** If set, installed() waits for it (up to 10 s): a dataplane busy with a command. */
  volatile CountDownLatch installedGate;

  private void call(String what) {
    calls.add(what);
    RuntimeException f = nextFailure;
    if (f != null) {
      nextFailure = null;
      throw f;
    }
  }

  synchronized void set(State s) {
    ports.clear();
    ports.putAll(s.ports());
    pods.clear();
    pods.putAll(s.pods());
    routes.clear();
    routes.putAll(s.routes());
    policies.clear();
    policies.putAll(s.policies());
    generation = s.generation();
  }

  @Override
  public State installed() {
    call("installed");
    CountDownLatch gate = installedGate;
    if (gate != null) {
      try {
        gate.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    synchronized (this) {
      return State.of(
          generation,
          new ArrayList<>(ports.values()),
          new ArrayList<>(pods.values()),
          new ArrayList<>(routes.values()),
          new ArrayList<>(policies.values()));
    }
  }

  @Override
  public synchronized void addPort(PortSpec port) {
    call("addPort " + port.name());
    if (ports.putIfAbsent(port.name(), port) != null) {
      throw new IllegalArgumentException("port " + port.name() + " exists");
    }
  }

  @Override
  public synchronized void removePort(String name) {
    call("removePort " + name);
    if (ports.remove(name) == null) {
      throw new IllegalArgumentException("no port " + name);
    }
  }

  @Override
  public synchronized void addPod(PodSpec pod) {
    call("addPod " + pod.name());
    if (pods.putIfAbsent(pod.name(), pod) != null) {
      throw new IllegalArgumentException("pod " + pod.name() + " exists");
    }
  }

  @Override
  public synchronized void removePod(String name) {
    call("removePod " + name);
    if (pods.remove(name) == null) {
      throw new IllegalArgumentException("no pod " + name);
    }
  }

  @Override
  public synchronized void addRoute(RouteSpec route) {
    call("addRoute " + route.prefix());
    if (routes.putIfAbsent(route.prefix(), route) != null) {
      throw new IllegalArgumentException("route " + route.prefix() + " exists");
    }
  }

  @Override
  public synchronized void removeRoute(RouteSpec route) {
    call("removeRoute " + route.prefix());
    if (routes.remove(route.prefix()) == null) {
      throw new IllegalArgumentException("no route " + route.prefix());
    }
  }

  @Override
  public synchronized void replaceRoute(RouteSpec before, RouteSpec after) {
    call("replaceRoute " + before.prefix() + " -> " + after.via());
    if (!before.equals(routes.get(before.prefix()))) {
      throw new IllegalArgumentException("route " + before + " is not installed");
    }
    routes.remove(before.prefix());
    routes.put(after.prefix(), after);
  }

  @Override
  public synchronized void setPolicy(PolicySpec policy) {
    call("setPolicy " + policy.pod());
    policies.put(policy.pod(), policy);
  }

  @Override
  public synchronized void removePolicy(String pod) {
    call("removePolicy " + pod);
    if (policies.remove(pod) == null) {
      throw new IllegalArgumentException("no policy for " + pod);
    }
  }

  @Override
  public synchronized List<String> podProblems(String name) {
    call("podProblems " + name);
    return pods.containsKey(name)
        ? List.of()
        : List.of("pod " + name + " is not installed", "its port is gone");
  }

  @Override
  public synchronized void commit(long g) {
    call("commit " + g);
    if (g < generation) {
      throw new IllegalStateException("generation " + g + " is older than " + generation);
    }
    generation = g;
  }
}
