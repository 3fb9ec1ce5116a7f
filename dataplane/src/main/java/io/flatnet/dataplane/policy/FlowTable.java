package io.flatnet.dataplane.policy;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One worker's flow table: pre-allocated, open addressing over a window of {@link #WINDOW} slots
 * from the key's hash, no tombstones (lookups scan the whole window), no allocation. Only the
 * owning worker writes it; other workers read it (a reply that arrives on another worker's queue)
 * under a per-entry sequence word, as a seqlock: the owner makes the word odd, writes, makes it
 * even again; a reader takes an entry only if it read the same even word before and after.
 *
 * <p>An entry is 8 longs (64 bytes, one cache line when the array is so aligned):
 *
 * <pre>
 *   0 seq        even: stable, odd: being written
 *   1 aHi  2 aLo endpoint A (the smaller; IPv4 as ::ffff:a.b.c.d)
 *   3 bHi  4 bLo endpoint B
 *   5 meta       A port (16) | B port (16) | protocol (8) | flags (24); 0: a free slot
 *   6 gen        policy generation (low 32) | deny pod A-to-B + 1 (16) | deny pod B-to-A + 1 (16)
 *   7 expires    System.nanoTime() deadline; written alone (one atomic long) by a hit that moves
 *                it by a second or more
 * </pre>
 */
public final class FlowTable {
  static final int WORDS = 8;
  static final int WINDOW = 8;

  /** The default: 65,536 flows per worker, 4 MiB. */
  public static final int DEFAULT_CAPACITY = 1 << 16;

  static final int SEQ = 0;
  static final int A_HI = 1;
  static final int A_LO = 2;
  static final int B_HI = 3;
  static final int B_LO = 4;
  static final int META = 5;
  static final int GEN = 6;
  static final int EXPIRES = 7;

  static final int VALID = 1;
  static final int ALLOWED = 1 << 1;

  /** The flow's initiator (its first packet's source) is endpoint B. */
  static final int INIT_B = 1 << 2;

  static final int DENY_AB = 1 << 3;
  static final int DENY_AB_INGRESS = 1 << 4;
  static final int DENY_BA = 1 << 5;
  static final int DENY_BA_INGRESS = 1 << 6;

  /** The responder has sent a packet. */
  static final int REPLIED = 1 << 7;

  static final int FIN = 1 << 8;
  static final int RST = 1 << 9;

  /** The initiator's first packet came in on the host port (exempt from ingress isolation). */
  static final int HOST_INIT = 1 << 10;

  /**
   * An allowed flow a policy change no longer allows: both directions are denied (the reply
   * direction too, so the flow cannot be re-opened from its other end) until it expires, or a TCP
   * SYN starts a new connection on the same ports.
   */
  static final int CUT = 1 << 11;

  private static final long KEY_MASK = ~0xFF_FFFFL;
  private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

  private final long[] slots;
  private final int mask;

  /** Set by {@link #claim}: the slot it gave held a live flow, now evicted. */
  boolean evicted;

  public FlowTable(int capacity) {
    if (capacity < WINDOW || Integer.bitCount(capacity) != 1) {
      throw new IllegalArgumentException(
          "flow table capacity " + capacity + " must be a power of two >= " + WINDOW);
    }
    this.slots = new long[capacity * WORDS];
    this.mask = capacity - 1;
  }

  static long meta(int aPort, int bPort, int protocol) {
    return (long) aPort << 48 | (long) bPort << 32 | (long) protocol << 24;
  }

  int capacity() {
    return mask + 1;
  }

  /** Owner: the slot of the live flow {@code key}, or -1. */
  int find(FlowKey key, long now) {
    int start = key.hash();
    for (int i = 0; i < WINDOW; i++) {
      int slot = (start + i) & mask;
      int base = slot * WORDS;
      long meta = slots[base + META];
      if ((meta & KEY_MASK) == key.meta
          && meta != 0
          && slots[base + A_LO] == key.aLo
          && slots[base + B_LO] == key.bLo
          && slots[base + A_HI] == key.aHi
          && slots[base + B_HI] == key.bHi
          && slots[base + EXPIRES] - now > 0) {
        return slot;
      }
    }
    return -1;
  }

  /**
   * Owner: whether {@code slot} holds {@code key}'s flow (a slot found live earlier in this loop:
   * its expiry is not checked again).
   */
  boolean holds(int slot, FlowKey key) {
    // One compare, not five: which word differs depends on the traffic's order, and a branch the
    // JIT compiled while one pattern ran traps at the first packet of another.
    int base = slot * WORDS;
    return ((slots[base + A_LO] ^ key.aLo)
            | (slots[base + B_LO] ^ key.bLo)
            | ((slots[base + META] & KEY_MASK) ^ key.meta)
            | (slots[base + A_HI] ^ key.aHi)
            | (slots[base + B_HI] ^ key.bHi))
        == 0;
  }

  /**
   * Owner: a slot for a new flow {@code key} (not in the table): a free or expired one in the
   * window, else the one closest to expiry, which is evicted ({@link #evicted} says so).
   */
  int claim(FlowKey key, long now) {
    int start = key.hash();
    int oldest = -1;
    long oldestExpires = 0;
    for (int i = 0; i < WINDOW; i++) {
      int slot = (start + i) & mask;
      int base = slot * WORDS;
      long expires = slots[base + EXPIRES];
      if (slots[base + META] == 0 || expires - now <= 0) {
        evicted = false;
        return slot;
      }
      if (oldest < 0 || expires - oldestExpires < 0) {
        oldest = slot;
        oldestExpires = expires;
      }
    }
    evicted = true;
    return oldest;
  }

  /** Owner: writes a whole entry. */
  void write(int slot, FlowKey key, int flags, long gen, long expires) {
    int base = slot * WORDS;
    long seq = slots[base + SEQ];
    LONGS.setOpaque(slots, base + SEQ, seq + 1);
    VarHandle.storeStoreFence();
    slots[base + A_HI] = key.aHi;
    slots[base + A_LO] = key.aLo;
    slots[base + B_HI] = key.bHi;
    slots[base + B_LO] = key.bLo;
    slots[base + META] = key.meta | (flags & 0xFF_FFFFL);
    slots[base + GEN] = gen;
    slots[base + EXPIRES] = expires;
    LONGS.setRelease(slots, base + SEQ, seq + 2);
  }

  /** Owner: writes a copy (from {@link #read}) of another worker's entry. */
  void writeCopy(int slot, long[] words) {
    int base = slot * WORDS;
    long seq = slots[base + SEQ];
    LONGS.setOpaque(slots, base + SEQ, seq + 1);
    VarHandle.storeStoreFence();
    for (int w = 1; w < WORDS; w++) {
      slots[base + w] = words[w];
    }
    LONGS.setRelease(slots, base + SEQ, seq + 2);
  }

  /** Owner: new flags, generation word and expiry for a flow in place. */
  void update(int slot, int flags, long gen, long expires) {
    int base = slot * WORDS;
    long seq = slots[base + SEQ];
    LONGS.setOpaque(slots, base + SEQ, seq + 1);
    VarHandle.storeStoreFence();
    slots[base + META] = (slots[base + META] & KEY_MASK) | (flags & 0xFF_FFFFL);
    slots[base + GEN] = gen;
    slots[base + EXPIRES] = expires;
    LONGS.setRelease(slots, base + SEQ, seq + 2);
  }

  /** Owner: a later expiry (one atomic store; readers need no sequence for it). */
  void touch(int slot, long expires) {
    LONGS.setOpaque(slots, slot * WORDS + EXPIRES, expires);
  }

  int flags(int slot) {
    return (int) slots[slot * WORDS + META] & 0xFF_FFFF;
  }

  long gen(int slot) {
    return slots[slot * WORDS + GEN];
  }

  long expires(int slot) {
    return slots[slot * WORDS + EXPIRES];
  }

  /**
   * Another worker: copies the live flow {@code key} into {@code out} (8 words) consistently; false
   * if this table has none (or it changed under every one of a few tries).
   */
  boolean read(FlowKey key, long now, long[] out) {
    int start = key.hash();
    for (int i = 0; i < WINDOW; i++) {
      int base = ((start + i) & mask) * WORDS;
      for (int attempt = 0; attempt < 4; attempt++) {
        long seq = (long) LONGS.getAcquire(slots, base + SEQ);
        if ((seq & 1) != 0) {
          Thread.onSpinWait();
          continue;
        }
        long meta = (long) LONGS.getOpaque(slots, base + META);
        long aHi = (long) LONGS.getOpaque(slots, base + A_HI);
        long aLo = (long) LONGS.getOpaque(slots, base + A_LO);
        long bHi = (long) LONGS.getOpaque(slots, base + B_HI);
        long bLo = (long) LONGS.getOpaque(slots, base + B_LO);
        long gen = (long) LONGS.getOpaque(slots, base + GEN);
        long expires = (long) LONGS.getOpaque(slots, base + EXPIRES);
        VarHandle.loadLoadFence();
        if ((long) LONGS.getOpaque(slots, base + SEQ) != seq) {
          continue;
        }
        if (meta == 0
            || (meta & KEY_MASK) != key.meta
            || aHi != key.aHi
            || aLo != key.aLo
            || bHi != key.bHi
            || bLo != key.bLo
            || expires - now <= 0) {
          break; // a consistent read of another flow (or none)
        }
        out[A_HI] = aHi;
        out[A_LO] = aLo;
        out[B_HI] = bHi;
        out[B_LO] = bLo;
        out[META] = meta;
        out[GEN] = gen;
        out[EXPIRES] = expires;
        return true;
      }
    }
    return false;
  }

  /** Live flows now (a scan; tests and queries, not the workers). */
  public int live(long now) {
    int count = 0;
    for (int slot = 0; slot <= mask; slot++) {
      int base = slot * WORDS;
      if (slots[base + META] != 0 && slots[base + EXPIRES] - now > 0) {
        count++;
      }
    }
    return count;
  }
}
