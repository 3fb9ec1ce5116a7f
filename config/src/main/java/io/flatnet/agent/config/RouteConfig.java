package io.flatnet.agent.config;

/**
 * {@code routes[]:} a static route: {@code prefix} via next hop {@code via} (optional: without it
 * the destination is on-link) out of port {@code port} (a port name).
 */
public record RouteConfig(String prefix, String via, String port) {}
