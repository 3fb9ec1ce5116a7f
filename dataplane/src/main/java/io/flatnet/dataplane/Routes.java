package io.flatnet.dataplane;

import io.flatnet.route.Ipv4Lookup;
import io.flatnet.route.NextHops;

/**
 * The routing state a worker reads: an IPv4 FIB and the next hops its answers index. The control
 * path publishes a new instance to swap tables; the FIBs themselves also update in place without
 * locks.
 */
public record Routes(Ipv4Lookup ipv4, NextHops nextHops) {}
