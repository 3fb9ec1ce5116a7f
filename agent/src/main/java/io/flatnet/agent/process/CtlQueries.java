package io.flatnet.agent.process;

import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.control.DataplaneClient;
import io.flatnet.control.QueryNames;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * The ctl side of the agent socket: the read-only views (ports, pods, routes, neighbours, trace)
 * are answered by the dataplane from its live state, over the command channel; every other op goes
 * to the next handler (the agent).
 */
public final class CtlQueries implements AgentProtocol.Handler {
  private final DataplaneClient dataplane;
  private final AgentProtocol.Handler next;

  public CtlQueries(DataplaneClient dataplane, AgentProtocol.Handler next) {
    this.dataplane = dataplane;
    this.next = next;
  }

  @Override
  public AgentProtocol.Response handle(AgentProtocol.Request request) {
    String op = request.op() == null ? "" : request.op();
    switch (op) {
      case QueryNames.SHOW_PORTS,
          QueryNames.SHOW_PODS,
          QueryNames.SHOW_ROUTES,
          QueryNames.SHOW_NEIGHBORS,
          QueryNames.SHOW_POLICIES,
          QueryNames.CAPTURE_START,
          QueryNames.CAPTURE_STOP,
          QueryNames.TRACE -> {
        Map<String, String> args = new HashMap<>();
        if (request.src() != null) {
          args.put("src", request.src());
        }
        if (request.dst() != null) {
          args.put("dst", request.dst());
        }
        if (request.inPort() != null) {
          args.put("inPort", request.inPort());
        }
        if (request.flow() != null) {
          args.putAll(request.flow());
        }
        try {
          String json = dataplane.query(op, args);
          return AgentProtocol.Response.data(AgentProtocol.json().readTree(json));
        } catch (IllegalArgumentException e) {
          return AgentProtocol.Response.failure(op + ": " + e.getMessage());
        } catch (IllegalStateException e) {
          return AgentProtocol.Response.failure(op + ": " + e.getMessage());
        } catch (IOException e) {
          return AgentProtocol.Response.failure(op + ": the dataplane's answer is not JSON: " + e);
        }
      }
      default -> {
        return next.handle(request);
      }
    }
  }
}
