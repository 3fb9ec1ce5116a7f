package io.flatnet.route;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class Ipv6RuleMapTest {

  private record Key(long hi, long lo, int length) {}

  /** Random puts, replaces and removes (clustered keys, so probe runs form) against a HashMap. */
  @Test
  void matchesHashMap() {
    SplittableRandom rnd = new SplittableRandom(7);
    Ipv6RuleMap map = new Ipv6RuleMap();
    Map<Key, Integer> ref = new HashMap<>();
    Key[] keys = new Key[3000];
    for (int i = 0; i < keys.length; i++) {
      long hi = 0x2001_0db8_0000_0000L | ((long) rnd.nextInt(64) << 16);
      keys[i] = new Key(hi, rnd.nextInt(4) == 0 ? rnd.nextLong(3) : 0, rnd.nextInt(129));
    }
    for (int step = 0; step < 200_000; step++) {
      Key k = keys[rnd.nextInt(keys.length)];
      int op = rnd.nextInt(3);
      if (op == 0) {
        int nh = 1 + rnd.nextInt(1000);
        Integer old = ref.put(k, nh);
        assertEquals(old == null ? 0 : old, map.put(k.hi, k.lo, k.length, nh));
      } else if (op == 1) {
        Integer old = ref.remove(k);
        assertEquals(old == null ? 0 : old, map.remove(k.hi, k.lo, k.length));
      } else {
        assertEquals(ref.getOrDefault(k, 0), map.get(k.hi, k.lo, k.length));
      }
      assertEquals(ref.size(), map.size());
    }
    for (Key k : keys) {
      assertEquals(ref.getOrDefault(k, 0), map.get(k.hi, k.lo, k.length), k.toString());
    }
  }
}
