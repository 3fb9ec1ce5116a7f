package io.flatnet.agent.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.control.DataplaneApi;
import io.flatnet.control.PodSpec;
import io.flatnet.control.PolicySpec;
import io.flatnet.control.PortSpec;
import io.flatnet.control.RouteBatchException;
import io.flatnet.control.RouteChange;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.State;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link Plan#applyTo} sends each run of route operations as one batch, the last carrying the
 * commit, and names the operation of a change the dataplane reports failed.
 */
class PlanBatchTest {

  /** Records calls; fails the batch whose number is {@code failBatch} at its change {@code at}. */
  private static final class Recording implements DataplaneApi {
    final List<String> calls = new ArrayList<>();
    int batches;
    int failBatch = -1;
    int failAt;

    @Override
    public State installed() {
      return State.EMPTY;
    }

    @Override
    public void addPort(PortSpec port) {
      calls.add("addPort " + port.name());
    }

    @Override
    public void removePort(String name) {
      calls.add("removePort " + name);
    }

    @Override
    public void addPod(PodSpec pod) {
      calls.add("addPod " + pod.name());
    }

    @Override
    public void removePod(String name) {
      calls.add("removePod " + name);
    }

    @Override
    public void addRoute(RouteSpec route) {
      calls.add("addRoute " + route.prefix());
    }

    @Override
    public void removeRoute(RouteSpec route) {
      calls.add("removeRoute " + route.prefix());
    }

    @Override
    public void setPolicy(PolicySpec policy) {
      calls.add("setPolicy " + policy.pod());
    }

    @Override
    public void removePolicy(String pod) {
      calls.add("removePolicy " + pod);
    }

    @Override
    public void applyRoutes(List<RouteChange> changes, long generation) {
      if (batches++ == failBatch) {
        throw new RouteBatchException(
            failAt, true, "change " + (failAt + 1) + " (" + changes.get(failAt) + "): no", null);
      }
      calls.add("batch " + changes + " commit " + generation);
    }

    @Override
    public void commit(long generation) {
      calls.add("commit " + generation);
    }
  }

  private static RouteSpec route(String prefix, String via) {
    return new RouteSpec(prefix, via, "u");
  }

  private static PortSpec port(String name) {
    return new PortSpec(name, "dev-" + name, "uplink", List.of("192.0.2.10/24"), 1500);
  }

  @Test
  void aPlanOfRoutesIsOneBatchThatCommits() {
    State installed =
        State.of(
            1,
            List.of(port("u")),
            List.of(),
            List.of(route("10.1.0.0/16", "192.0.2.1"), route("10.2.0.0/16", "192.0.2.1")));
    State desired =
        State.of(
            0,
            List.of(port("u")),
            List.of(),
            List.of(route("10.2.0.0/16", "192.0.2.9"), route("10.3.0.0/16", "192.0.2.1")));
    Recording dp = new Recording();
    Planner.plan(installed, desired, 2).applyTo(dp);
    assertEquals(
        List.of(
            "batch [remove route 10.1.0.0/16, add route 10.3.0.0/16, replace route 10.2.0.0/16]"
                + " commit 2"),
        dp.calls);
  }

  @Test
  void runsOfRoutesBetweenOtherOperationsAreBatchesAndTheCommitComesLast() {
    State installed =
        State.of(1, List.of(port("old")), List.of(), List.of(route("10.1.0.0/16", "192.0.2.1")));
    RouteSpec onNew = new RouteSpec("10.5.0.0/16", "192.0.2.1", "new");
    State desired = State.of(0, List.of(port("new")), List.of(), List.of(onNew));
    Recording dp = new Recording();
    Planner.plan(installed, desired, 2).applyTo(dp);
    assertEquals(
        List.of(
            "batch [remove route 10.1.0.0/16] commit -1",
            "removePort old",
            "addPort new",
            "batch [add route 10.5.0.0/16] commit 2"),
        dp.calls);
  }

  @Test
  void aFailedChangeNamesItsOperation() {
    State installed = State.of(1, List.of(port("u")), List.of(), List.of());
    List<RouteSpec> routes = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      routes.add(route("10." + i + ".0.0/16", "192.0.2.1"));
    }
    State desired = State.of(0, List.of(port("u")), List.of(), routes);
    Recording dp = new Recording();
    dp.failBatch = 0;
    dp.failAt = 3;
    Plan plan = Planner.plan(installed, desired, 2);
    PlanApplyException e = assertThrows(PlanApplyException.class, () -> plan.applyTo(dp));
    assertEquals(3, e.index());
    assertTrue(
        e.getMessage().contains("operation 4/5 failed: add route 10.3.0.0/16"), e.getMessage());
    assertTrue(dp.calls.isEmpty(), "nothing committed: " + dp.calls);
  }
}
