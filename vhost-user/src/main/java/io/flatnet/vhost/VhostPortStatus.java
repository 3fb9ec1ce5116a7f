package io.flatnet.vhost;

import java.util.Map;

/**
 * One vhost-user port as an operator sees it: written to {@code <runDir>/vhost-ports.json} and
 * shown by {@code ./flatnet ctl show pods}.
 *
 * @param name the pod (and port) name
 * @param port the DPDK port id
 * @param mode {@code server} (flatnet owns the socket) or {@code client} (the VM does)
 * @param socket the vhost-user socket path
 * @param queues queue pairs the port offers ({@code queues=N})
 * @param state the state's label, see {@link VhostPortState}
 * @param since when the port entered the state (ISO-8601, UTC)
 * @param secondsInState how long it has been in it when the status was taken
 * @param detail what the state means for this port, in words
 * @param linkUp the ethdev link status
 * @param vid the rte_vhost device id, -1 without a ready peer
 * @param features the negotiated virtio feature bits, hex
 * @param vrings vrings the peer set up (two per queue pair it uses)
 * @param memoryRegions guest memory regions mapped
 * @param transitions state changes since the port was created
 * @param transitionCounts state changes by {@code from->to}
 * @param peerGoneCount how often a peer went away
 * @param lastPeerGone when a peer last went away, or null
 * @param lastError the last error seen on the port, or null
 * @param lastErrorAt when, or null
 * @param rxPackets packets received from the peer (ethdev stats)
 * @param txPackets packets delivered to the peer
 * @param txErrors packets the peer's ring did not take
 */
public record VhostPortStatus(
    String name,
    int port,
    String mode,
    String socket,
    int queues,
    String state,
    String since,
    double secondsInState,
    String detail,
    boolean linkUp,
    int vid,
    String features,
    int vrings,
    int memoryRegions,
    long transitions,
    Map<String, Long> transitionCounts,
    long peerGoneCount,
    String lastPeerGone,
    String lastError,
    String lastErrorAt,
    long rxPackets,
    long txPackets,
    long txErrors) {}
