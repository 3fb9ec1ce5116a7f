package io.flatnet.route;

/**
 * The control-plane view of an IPv6 table, prefix to next hop: an open-addressing hash table with
 * linear probing and backward-shift deletion over one {@code long[]}, four longs a slot (address
 * high and low words, {@code length+1 << 32 | nextHop}, unused), two slots a cache line. A lookup
 * of a present or absent prefix is one or two cache-line reads and allocates nothing, where a
 * {@code HashMap<Ipv6Prefix, Integer>} chases a bucket, a node, a key and a boxed value. Not
 * thread-safe: the table's writer owns it.
 */
final class Ipv6RuleMap {
  private static final int STRIDE = 4;
  private static final int MIN_CAPACITY = 16;

  private long[] slots;
  private int mask; // capacity - 1, in slots
  private int size;

  Ipv6RuleMap() {
    slots = new long[MIN_CAPACITY * STRIDE];
    mask = MIN_CAPACITY - 1;
  }

  int size() {
    return size;
  }

  /** The next hop of exactly {@code hi:lo/length}, or 0. The address must be masked. */
  int get(long hi, long lo, int length) {
    long[] s = slots;
    long tag = (long) (length + 1) << 32;
    for (int i = hash(hi, lo, length) & mask; ; i = (i + 1) & mask) {
      int b = i * STRIDE;
      long meta = s[b + 2];
      if (meta == 0) {
        return 0;
      }
      if (s[b] == hi && s[b + 1] == lo && (meta & 0xFFFF_FFFF_0000_0000L) == tag) {
        return (int) meta;
      }
    }
  }

  /**
   * Reads the home slot of a prefix and returns it, so that several independent probes issued back
   * to back overlap their cache misses; {@link #get} then finds the lines loaded.
   */
  long touch(long hi, long lo, int length) {
    return slots[(hash(hi, lo, length) & mask) * STRIDE + 2];
  }

  /** Sets the next hop ({@code > 0}) of a prefix; returns the previous one, or 0. */
  int put(long hi, long lo, int length, int nextHop) {
    if ((size + 1) * 2L > mask + 1L) {
      grow();
    }
    long[] s = slots;
    long tag = (long) (length + 1) << 32;
    for (int i = hash(hi, lo, length) & mask; ; i = (i + 1) & mask) {
      int b = i * STRIDE;
      long meta = s[b + 2];
      if (meta == 0) {
        s[b] = hi;
        s[b + 1] = lo;
        s[b + 2] = tag | (nextHop & 0xFFFF_FFFFL);
        size++;
        return 0;
      }
      if (s[b] == hi && s[b + 1] == lo && (meta & 0xFFFF_FFFF_0000_0000L) == tag) {
        s[b + 2] = tag | (nextHop & 0xFFFF_FFFFL);
        return (int) meta;
      }
    }
  }

  /** Removes a prefix; returns its next hop, or 0 if it was absent. */
  int remove(long hi, long lo, int length) {
    long[] s = slots;
    long tag = (long) (length + 1) << 32;
    int i = hash(hi, lo, length) & mask;
    for (; ; i = (i + 1) & mask) {
      int b = i * STRIDE;
      long meta = s[b + 2];
      if (meta == 0) {
        return 0;
      }
      if (s[b] == hi && s[b + 1] == lo && (meta & 0xFFFF_FFFF_0000_0000L) == tag) {
        break;
      }
    }
    int old = (int) s[i * STRIDE + 2];
    // Backward shift: move later entries of the probe run into the hole when their home allows.
    int hole = i;
    for (int j = (i + 1) & mask; ; j = (j + 1) & mask) {
      int b = j * STRIDE;
      long meta = s[b + 2];
      if (meta == 0) {
        break;
      }
      int home = hash(s[b], s[b + 1], (int) (meta >>> 32) - 1) & mask;
      // j's entry may move to the hole if the hole lies cyclically in [home, j).
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        int h = hole * STRIDE;
        s[h] = s[b];
        s[h + 1] = s[b + 1];
        s[h + 2] = meta;
        hole = j;
      }
    }
    int h = hole * STRIDE;
    s[h] = 0;
    s[h + 1] = 0;
    s[h + 2] = 0;
    size--;
    return old;
  }

  private void grow() {
    long[] old = slots;
    int capacity = (mask + 1) * 2;
    slots = new long[capacity * STRIDE];
    mask = capacity - 1;
    size = 0;
    for (int b = 0; b < old.length; b += STRIDE) {
      long meta = old[b + 2];
      if (meta != 0) {
        put(old[b], old[b + 1], (int) (meta >>> 32) - 1, (int) meta);
      }
    }
  }

  private static int hash(long hi, long lo, int length) {
    long h = hi * 0x9E37_79B9_7F4A_7C15L;
    h ^= Long.rotateLeft(lo * 0xC2B2_AE3D_27D4_EB4FL, 31);
    h ^= length * 0x1656_67B1_9E37_79F9L;
    h ^= h >>> 29;
    h *= 0xBF58_476D_1CE4_E5B9L;
    return (int) (h ^ (h >>> 32));
  }
}
