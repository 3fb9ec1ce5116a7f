package io.flatnet.dataplane;

import io.flatnet.route.Ipv4Lookup;
import io.flatnet.route.Ipv6Lookup;
import io.flatnet.route.NextHops;

/**
 * Everything a worker reads to forward: the FIBs, the next hops their answers index, and the port
 * table. The control path publishes a new instance to change ports; the FIBs and next hops also
 * change in place, without locks, as routes and neighbours change.
 */
public record ForwardingState(
    Ipv4Lookup ipv4, Ipv6Lookup ipv6, NextHops nextHops, PortTable ports) {}
