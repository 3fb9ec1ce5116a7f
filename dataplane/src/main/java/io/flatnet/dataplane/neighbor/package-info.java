/**
 * Neighbour resolution (ARP/NDP) on the control side: the NUD state machine per next hop, the
 * resolver that drives it, the requests it sends, and what workers learn from packets they see. The
 * workers' own wait queue for unresolved next hops stays with the workers.
 */
package io.flatnet.dataplane.neighbor;
