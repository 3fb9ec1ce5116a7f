package io.flatnet.agent.state;

import io.flatnet.control.DataplaneApi;
import io.flatnet.control.PolicySpec;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.Spec;
import io.flatnet.control.State;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedMap;

/**
 * Diffs an installed {@link State} against a desired one into a {@link Plan} that changes only what
 * differs. Order:
 *
 * <ol>
 *   <li>set policies (new or changed), so a pod added below never forwards without its policy;
 *   <li>remove routes (gone, or riding on a port that is removed or replaced);
 *   <li>remove pods (gone, or changed: a changed pod is removed and added again);
 *   <li>remove ports (gone or changed);
 *   <li>add ports (new or changed);
 *   <li>add pods (new or changed);
 *   <li>add routes (new, or re-added after their port was replaced);
 *   <li>update routes whose next hop or port changed ({@link DataplaneApi#replaceRoute});
 *   <li>remove policies (of pods gone or no longer selected by any policy).
 * </ol>
 *
 * Pods and ports have no in-place update: their dataplane objects (vhost-user sockets, DPDK
 * devices) are recreated, and removing every old one before adding any new one means an address,
 * MAC or socket that moves from one pod to another is never held twice.
 */
public final class Planner {

  private Planner() {}

  /** The plan from {@code installed} to {@code desired}, numbered {@code generation}. */
  public static Plan plan(State installed, State desired, long generation) {
    List<Operation> removeRoutes = new ArrayList<>();
    List<Operation> removePods = new ArrayList<>();
    List<Operation> removePorts = new ArrayList<>();
    List<Operation> addPorts = new ArrayList<>();
    List<Operation> addPods = new ArrayList<>();
    List<Operation> addRoutes = new ArrayList<>();
    List<Operation> updateRoutes = new ArrayList<>();
    List<Operation> setPolicies = new ArrayList<>();
    List<Operation> removePolicies = new ArrayList<>();

    Set<String> replacedPorts = new HashSet<>();
    diff(installed.ports(), desired.ports(), removePorts, addPorts, replacedPorts);
    diff(installed.pods(), desired.pods(), removePods, addPods, null);
    // Routes whose port goes away (removed or replaced) must go first and come back after.
    for (Map.Entry<String, RouteSpec> e : installed.routes().entrySet()) {
      RouteSpec old = e.getValue();
      RouteSpec want = desired.routes().get(e.getKey());
      if (want == null) {
        removeRoutes.add(new Operation(Operation.Action.REMOVE, old, null, "removed"));
      } else if (goingPort(old, desired, replacedPorts) != null) {
        String port = goingPort(old, desired, replacedPorts);
        removeRoutes.add(
            new Operation(Operation.Action.REMOVE, old, null, "port " + port + " is replaced"));
        addRoutes.add(
            new Operation(
                Operation.Action.ADD,
                want,
                null,
                want.equals(old)
                    ? "re-added after port " + port + " is replaced"
                    : "changed: " + changedFields(old, want)));
      } else if (!want.equals(old)) {
        updateRoutes.add(
            new Operation(
                Operation.Action.UPDATE, want, old, "changed: " + changedFields(old, want)));
      }
    }
    for (Map.Entry<String, RouteSpec> e : desired.routes().entrySet()) {
      if (!installed.routes().containsKey(e.getKey())) {
        addRoutes.add(new Operation(Operation.Action.ADD, e.getValue(), null, "added"));
      }
    }
    for (Map.Entry<String, PolicySpec> e : desired.policies().entrySet()) {
      PolicySpec old = installed.policies().get(e.getKey());
      if (old == null) {
        setPolicies.add(new Operation(Operation.Action.ADD, e.getValue(), null, "added"));
      } else if (!old.equals(e.getValue())) {
        setPolicies.add(
            new Operation(
                Operation.Action.UPDATE,
                e.getValue(),
                old,
                "changed: " + changedFields(old, e.getValue())));
      }
    }
    for (Map.Entry<String, PolicySpec> e : installed.policies().entrySet()) {
      if (!desired.policies().containsKey(e.getKey())) {
        removePolicies.add(new Operation(Operation.Action.REMOVE, e.getValue(), null, "removed"));
      }
    }
    List<Operation> ops = new ArrayList<>();
    ops.addAll(setPolicies);
    ops.addAll(removeRoutes);
    ops.addAll(removePods);
    ops.addAll(removePorts);
    ops.addAll(addPorts);
    ops.addAll(addPods);
    ops.addAll(addRoutes);
    ops.addAll(updateRoutes);
    ops.addAll(removePolicies);
    return new Plan(generation, ops);
  }

  /**
   * The first port of {@code route} (its port, or one of an ECMP route's paths) that goes away or
   * is replaced, or null.
   */
  private static String goingPort(RouteSpec route, State desired, Set<String> replacedPorts) {
    List<String> ports =
        route.isMultipath()
            ? route.paths().stream().map(RouteSpec.Path::port).toList()
            : Collections.singletonList(route.port());
    for (String port : ports) {
      if (port != null && (!desired.ports().containsKey(port) || replacedPorts.contains(port))) {
        return port;
      }
    }
    return null;
  }

  private static <T extends Spec> void diff(
      SortedMap<String, T> installed,
      SortedMap<String, T> desired,
      List<Operation> removes,
      List<Operation> adds,
      Set<String> replaced) {
    for (Map.Entry<String, T> e : installed.entrySet()) {
      T want = desired.get(e.getKey());
      if (want == null) {
        removes.add(new Operation(Operation.Action.REMOVE, e.getValue(), null, "removed"));
      } else if (!want.equals(e.getValue())) {
        String fields = changedFields(e.getValue(), want);
        removes.add(
            new Operation(Operation.Action.REMOVE, e.getValue(), null, "replaced: " + fields));
        adds.add(new Operation(Operation.Action.ADD, want, null, "replaces old: " + fields));
        if (replaced != null) {
          replaced.add(e.getKey());
        }
      }
    }
    for (Map.Entry<String, T> e : desired.entrySet()) {
      if (!installed.containsKey(e.getKey())) {
        adds.add(new Operation(Operation.Action.ADD, e.getValue(), null, "added"));
      }
    }
  }

  /** The names of the record components that differ, e.g. "via, port". */
  static String changedFields(Spec a, Spec b) {
    List<String> names = new ArrayList<>();
    for (RecordComponent rc : a.getClass().getRecordComponents()) {
      try {
        if (!Objects.equals(rc.getAccessor().invoke(a), rc.getAccessor().invoke(b))) {
          names.add(rc.getName());
        }
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException(e);
      }
    }
    return String.join(", ", names);
  }
}
