package io.flatnet.agent.config;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code ports[].kernel:} on a {@code host} port (a TAP), what the agent does to the kernel's end:
 * with {@code configure: true} it puts the node's uplink addresses on the TAP (as /32 and /128),
 * points the kernel's default routes at it and turns on forwarding, after the dataplane creates the
 * TAP and again after each dataplane restart. {@code namespace} names a network namespace ({@code
 * ip netns}) to move the TAP into first, for nodes simulated in namespaces; by default the TAP
 * stays in the agent's own.
 */
public record HostKernel(Boolean configure, String namespace) {

  private static final Pattern IFACE = Pattern.compile("(?:^|,)iface=([^,]+)");

  public HostKernel {
    configure = configure != null && configure;
  }

  /** The TAP's kernel name from DPDK devargs ({@code net_tap0,iface=flatnet-host}), or null. */
  public static String tapName(String device) {
    if (device == null || !device.startsWith("net_tap")) {
      return null;
    }
    Matcher m = IFACE.matcher(device);
    return m.find() ? m.group(1) : null;
  }
}
