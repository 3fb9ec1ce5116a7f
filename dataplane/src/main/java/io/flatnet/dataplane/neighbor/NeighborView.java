package io.flatnet.dataplane.neighbor;

/**
 * One neighbour that routes go through, as {@code ctl show neighbors} shows it.
 *
 * @param family 4 (ARP) or 6 (NDP); {@code hi:lo} is its address (IPv4 in {@code lo})
 * @param mac the installed MAC, or -1 while incomplete
 * @param state incomplete, reachable, stale or probe (see {@link NeighborEntry})
 * @param ageNanos time in that state
 * @param failures how many times it went silent and lost its MAC
 */
public record NeighborView(
    int port, int family, long hi, long lo, long mac, String state, long ageNanos, long failures) {}
