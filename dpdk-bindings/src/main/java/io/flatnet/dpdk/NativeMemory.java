package io.flatnet.dpdk;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Reads and writes native memory by absolute address through one segment that spans the whole
 * address space, so the hot path creates no segment object per packet. Packet fields are big-endian
 * (network order) and may be unaligned; struct fields are native order. Every access goes through
 * unaligned layouts: x86 loads any address at the same cost, and an aligned layout costs a test and
 * a branch per access that DPDK's own alignment already guarantees.
 */
@SuppressWarnings("restricted") // the bindings are where native access belongs
public final class NativeMemory {
  private NativeMemory() {}

  /**
   * All of the address space. Each access still costs a bounds check (two compares, always
   * predicted): C2 cannot prove an address non-negative, so read a header in few wide loads.
   */
  public static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

  private static final ValueLayout.OfShort BE_SHORT =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
  private static final ValueLayout.OfInt BE_INT =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
  private static final ValueLayout.OfLong BE_LONG =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

  private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
  private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
  private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;

  // Native-order struct fields.

  public static long getLong(long address) {
    return ALL.get(LONG, address);
  }

  public static void putLong(long address, long value) {
    ALL.set(LONG, address, value);
  }

  public static int getInt(long address) {
    return ALL.get(INT, address);
  }

  public static void putInt(long address, int value) {
    ALL.set(INT, address, value);
  }

  /** An unsigned 16-bit native-order field. */
  public static int getU16(long address) {
    return ALL.get(SHORT, address) & 0xFFFF;
  }

  public static void putU16(long address, int value) {
    ALL.set(SHORT, address, (short) value);
  }

  // Big-endian, possibly unaligned packet fields.

  public static int getU8(long address) {
    return ALL.get(ValueLayout.JAVA_BYTE, address) & 0xFF;
  }

  public static void putU8(long address, int value) {
    ALL.set(ValueLayout.JAVA_BYTE, address, (byte) value);
  }

  public static int getU16Be(long address) {
    return ALL.get(BE_SHORT, address) & 0xFFFF;
  }

  public static void putU16Be(long address, int value) {
    ALL.set(BE_SHORT, address, (short) value);
  }

  public static int getIntBe(long address) {
    return ALL.get(BE_INT, address);
  }

  public static void putIntBe(long address, int value) {
    ALL.set(BE_INT, address, value);
  }

  public static long getLongBe(long address) {
    return ALL.get(BE_LONG, address);
  }

  public static void putLongBe(long address, long value) {
    ALL.set(BE_LONG, address, value);
  }

  /** A 48-bit MAC address at {@code address}, first wire byte most significant. */
  public static long getMac(long address) {
    return ((long) getU16Be(address) << 32) | (getIntBe(address + 2) & 0xFFFF_FFFFL);
  }

  public static void putMac(long address, long mac) {
    putU16Be(address, (int) (mac >>> 32));
    putIntBe(address + 2, (int) mac);
  }

  /** Zeroes {@code length} bytes (control path: it makes a slice). */
  public static void zero(long address, long length) {
    ALL.asSlice(address, length).fill((byte) 0);
  }

  /** Copies {@code length} bytes; the ranges may overlap (memmove semantics). */
  public static void move(long from, long to, long length) {
    MemorySegment.copy(ALL, from, ALL, to, length);
  }

  public static void copy(byte[] from, long address) {
    MemorySegment.copy(from, 0, ALL, ValueLayout.JAVA_BYTE, address, from.length);
  }

  public static byte[] toArray(long address, int length) {
    byte[] bytes = new byte[length];
    MemorySegment.copy(ALL, ValueLayout.JAVA_BYTE, address, bytes, 0, length);
    return bytes;
  }
}
