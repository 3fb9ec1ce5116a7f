package io.flatnet.dpdk;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * A fixed off-heap array of mbuf pointers ({@code struct rte_mbuf *[capacity]}), the unit that
 * rx/tx bursts and bulk frees work on. Allocated once per worker, never per packet.
 */
public final class MbufArray {
  private final MemorySegment slots;
  private final long address;
  private final int capacity;

  public MbufArray(Arena arena, int capacity) {
    this.slots = arena.allocate(ValueLayout.JAVA_LONG, capacity);
    this.address = slots.address();
    this.capacity = capacity;
  }

  public int capacity() {
    return capacity;
  }

  /** The native address of slot 0. */
  public long address() {
    return address;
  }

  /** The native address of slot {@code index}. */
  public long addressOf(int index) {
    return address + ((long) index << 3);
  }

  // Through the global segment at the slot's address, with the index checked here: the arena's
  // segment would add a class check and a liveness check of its arena to every access. The price:
  // a use after the arena is closed is no longer caught, so an array lives as long as its owner.

  public long get(int index) {
    return NativeMemory.getLong(address + ((long) Objects.checkIndex(index, capacity) << 3));
  }

  public void set(int index, long mbuf) {
    NativeMemory.putLong(address + ((long) Objects.checkIndex(index, capacity) << 3), mbuf);
  }

  public MemorySegment segment() {
    return slots;
  }
}
