package io.flatnet.agent.config;

import java.util.List;

/**
 * {@code agent:} who may use the control socket (/run/flatnet/agent.sock). {@code socketGroup}: the
 * socket's group (mode 0660), whose members may run read-only commands (ctl show, trace); unset:
 * root's group. {@code writers}: users (names or uids) besides root that may also change the router
 * (CNI ADD/DEL, ctl route add/del). Read when the router starts, except {@code writers}, which
 * follows reloads.
 */
public record AgentSection(List<String> writers, String socketGroup) {

  public static final AgentSection DEFAULT = new AgentSection(List.of(), null);

  public AgentSection {
    writers = Lists.of(writers);
  }
}
