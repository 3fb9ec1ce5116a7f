package io.flatnet.dataplane.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.flatnet.dataplane.TestPackets;
import org.junit.jupiter.api.Test;

/** The flow table alone: canonical keys, expiry, eviction, and another worker's reads. */
class FlowTableTest {
  private static final long A = PolicyTable.v4Lo(TestPackets.ip(10, 0, 0, 1));
  private static final long B = PolicyTable.v4Lo(TestPackets.ip(10, 0, 0, 2));

  @Test
  void bothDirectionsMakeTheSameKey() {
    FlowKey forward = new FlowKey();
    FlowKey reply = new FlowKey();
    forward.set(0, A, 40000, 0, B, 80, 6);
    reply.set(0, B, 80, 0, A, 40000, 6);
    assertEquals(forward.hash(), reply.hash());
    assertEquals(forward.meta, reply.meta);
    assertFalse(forward.srcIsB);
    assertTrue(reply.srcIsB);
    FlowTable table = new FlowTable(64);
    int slot = table.claim(forward, 0);
    table.write(slot, forward, FlowTable.VALID | FlowTable.ALLOWED, 1, 1000);
    assertEquals(slot, table.find(reply, 0));
    assertEquals(slot, table.find(forward, 999));
    assertEquals(-1, table.find(forward, 1000), "expired");
    FlowKey other = new FlowKey();
    other.set(0, A, 40001, 0, B, 80, 6);
    assertEquals(-1, table.find(other, 0), "another source port");
    other.set(0, A, 40000, 0, B, 80, 17);
    assertEquals(-1, table.find(other, 0), "another protocol");
  }

  @Test
  void aFullWindowEvictsTheFlowClosestToExpiry() {
    FlowTable table = new FlowTable(FlowTable.WINDOW); // every key shares the one window
    FlowKey k = new FlowKey();
    for (int i = 0; i < FlowTable.WINDOW; i++) {
      k.set(0, A, 1000 + i, 0, B, 80, 6);
      int slot = table.claim(k, 0);
      assertFalse(table.evicted);
      table.write(slot, k, FlowTable.VALID | FlowTable.ALLOWED, 1, 100 + (i == 3 ? 0 : 50));
    }
    assertEquals(FlowTable.WINDOW, table.live(0));
    k.set(0, A, 2000, 0, B, 80, 6);
    int slot = table.claim(k, 10);
    assertTrue(table.evicted);
    table.write(slot, k, FlowTable.VALID | FlowTable.ALLOWED, 1, 500);
    k.set(0, A, 1003, 0, B, 80, 6);
    assertEquals(-1, table.find(k, 10), "the one closest to expiry went");
    k.set(0, A, 1004, 0, B, 80, 6);
    assertTrue(table.find(k, 10) >= 0);
    // After expiry a slot is reused without an eviction.
    k.set(0, A, 3000, 0, B, 80, 6);
    table.claim(k, 200);
    assertFalse(table.evicted);
  }

  @Test
  void anotherWorkerReadsAConsistentEntry() {
    FlowTable owner = new FlowTable(64);
    FlowKey k = new FlowKey();
    k.set(0, A, 40000, 0, B, 80, 6);
    int slot = owner.claim(k, 0);
    owner.write(slot, k, FlowTable.VALID | FlowTable.ALLOWED | FlowTable.INIT_B, 0x7L, 1000);
    FlowKey reply = new FlowKey();
    reply.set(0, B, 80, 0, A, 40000, 6);
    long[] out = new long[FlowTable.WORDS];
    assertTrue(owner.read(reply, 0, out));
    assertEquals(7, out[FlowTable.GEN]);
    assertEquals(
        FlowTable.VALID | FlowTable.ALLOWED | FlowTable.INIT_B,
        (int) out[FlowTable.META] & 0xFF_FFFF);
    FlowTable mine = new FlowTable(64);
    int copied = mine.claim(reply, 0);
    mine.writeCopy(copied, out);
    assertEquals(copied, mine.find(k, 0));
    assertEquals(1000, mine.expires(copied));
    assertFalse(owner.read(reply, 1000, out), "expired");
  }

  @Test
  void aReaderNeverTakesAnEntryMidWrite() throws InterruptedException {
    FlowTable owner = new FlowTable(8);
    FlowKey k = new FlowKey();
    k.set(0, A, 1, 0, B, 2, 17);
    int slot = owner.claim(k, 0);
    owner.write(slot, k, FlowTable.VALID | FlowTable.ALLOWED, 0, Long.MAX_VALUE);
    // The owner rewrites the entry with gen == expires-derived values; a torn read would mix them.
    Thread writer =
        new Thread(
            () -> {
              for (long g = 1; g < 2_000_000; g++) {
                owner.update(
                    slot,
                    FlowTable.VALID | FlowTable.ALLOWED | (int) (g & 1) << 7,
                    g,
                    Long.MAX_VALUE - g);
              }
            });
    writer.start();
    FlowKey r = new FlowKey();
    r.set(0, B, 2, 0, A, 1, 17);
    long[] out = new long[FlowTable.WORDS];
    long reads = 0;
    while (writer.isAlive()) {
      if (owner.read(r, 0, out)) {
        long g = out[FlowTable.GEN];
        int replied = (int) out[FlowTable.META] >>> 7 & 1;
        assertEquals(g & 1, replied, "flags and gen from one write");
        reads++;
      }
    }
    writer.join();
    assertTrue(reads > 0);
  }
}
