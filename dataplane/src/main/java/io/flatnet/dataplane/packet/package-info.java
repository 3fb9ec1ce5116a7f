/**
 * Header formats and the address rules the workers and {@code ctl trace} share: Ethernet, IPv4,
 * ICMP and ICMPv6 (NDP) read and written in place in an mbuf, allocation-free.
 */
package io.flatnet.dataplane.packet;
