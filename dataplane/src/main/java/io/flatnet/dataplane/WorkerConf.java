package io.flatnet.dataplane;

/**
 * One worker's whole view, published with one store, as l3fwd's {@code lcore_conf}: the queues it
 * polls and sends on (with its TX buffers) and the forwarding state (FIBs, next hops, port table).
 * A worker reads it once per loop, so a port table and the queues for it always arrive together: a
 * worker never sees a port in the table before it has the port's TX queue, nor the other way. The
 * FIBs and next hops it points at still change in place, without locks, between publications.
 */
record WorkerConf(WorkerPorts ports, ForwardingState state) {}
