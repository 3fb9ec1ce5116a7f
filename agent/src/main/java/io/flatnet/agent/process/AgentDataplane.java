package io.flatnet.agent.process;

import io.flatnet.agent.cni.NetnsPlumber;
import io.flatnet.agent.cni.PodSegment;
import io.flatnet.control.DataplaneApi;
import io.flatnet.control.PodKinds;
import io.flatnet.control.PodSpec;
import io.flatnet.control.PolicySpec;
import io.flatnet.control.PortSpec;
import io.flatnet.control.RouteChange;
import io.flatnet.control.RouteSpec;
import io.flatnet.control.State;
import java.util.List;

/**
 * The dataplane as the agent drives it: the dataplane process's commands, plus the kernel side the
 * agent owns. Before the first bridge pod, it makes the pod bridge and its veth pair (the dataplane
 * only opens the router's end), as the CNI plugin plugs pods into it.
 */
public final class AgentDataplane implements DataplaneApi {
  private final DataplaneApi dataplane;
  private final PodSegment segment;
  private final KernelSide kernel;

  AgentDataplane(DataplaneApi dataplane, PodSegment segment, KernelSide kernel) {
    this.dataplane = dataplane;
    this.segment = segment;
    this.kernel = kernel;
  }

  @Override
  public State installed() {
    return dataplane.installed();
  }

  @Override
  public long committedGeneration() {
    return dataplane.committedGeneration();
  }

  @Override
  public void addPort(PortSpec port) {
    dataplane.addPort(port);
    if ("host".equals(port.role())) {
      kernel.portAdded(port.name());
    }
  }

  @Override
  public void removePort(String name) {
    dataplane.removePort(name);
  }

  @Override
  public void addPod(PodSpec pod) {
    if (PodKinds.BRIDGE.equals(pod.kind())) {
      try {
        segment.ensure(1500);
      } catch (NetnsPlumber.PlumbingException e) {
        throw new IllegalStateException(
            "cannot make the pod segment (bridge " + PodSegment.BRIDGE + "): " + e.getMessage(), e);
      }
    }
    dataplane.addPod(pod);
  }

  @Override
  public void removePod(String name) {
    dataplane.removePod(name);
  }

  @Override
  public void addRoute(RouteSpec route) {
    dataplane.addRoute(route);
  }

  @Override
  public void removeRoute(RouteSpec route) {
    dataplane.removeRoute(route);
  }

  @Override
  public void replaceRoute(RouteSpec before, RouteSpec after) {
    dataplane.replaceRoute(before, after);
  }

  @Override
  public void applyRoutes(List<RouteChange> changes, long generation) {
    dataplane.applyRoutes(changes, generation);
  }

  @Override
  public void setPolicy(PolicySpec policy) {
    dataplane.setPolicy(policy);
  }

  @Override
  public void removePolicy(String pod) {
    dataplane.removePolicy(pod);
  }

  @Override
  public List<String> podProblems(String name) {
    return dataplane.podProblems(name);
  }

  @Override
  public void commit(long generation) {
    dataplane.commit(generation);
  }
}
