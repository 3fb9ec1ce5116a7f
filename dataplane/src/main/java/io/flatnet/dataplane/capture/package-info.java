/**
 * Packet capture and live trace: the filter a capture runs with, and the per-worker tap that copies
 * records into {@code capture.dat} without allocating.
 */
package io.flatnet.dataplane.capture;
