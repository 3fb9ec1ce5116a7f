package io.flatnet.dataplane.packet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The one-word TTL rewrite against a checksum recomputed from scratch, on pure Java headers. */
class Ipv4HeaderTest {

  @Test
  void decrementedTtlWordMatchesAFullRecomputation() {
    Random random = new Random(7);
    for (int trial = 0; trial < 200_000; trial++) {
      int[] words = new int[10]; // the header as ten 16-bit words, checksum (word 5) zero
      for (int i = 0; i < words.length; i++) {
        words[i] = random.nextInt(0x10000);
      }
      words[4] = (2 + random.nextInt(254)) << 8 | (words[4] & 0xFF); // TTL 2..255, protocol
      words[5] = 0;
      words[5] = ~sum(words) & 0xFFFF;
      int ttlWord = words[4] << 16 | words[5];

      int rewritten = Ipv4Header.decrementedTtlWord(ttlWord);

      words[4] -= 0x0100;
      words[5] = 0;
      int expectedChecksum = ~sum(words) & 0xFFFF;
      assertEquals(words[4], rewritten >>> 16, "TTL and protocol");
      // RFC 1624: the incremental update never yields 0x0000 where a recomputation gives 0xFFFF
      // (both are zero in one's complement); accept either representation of zero.
      int checksum = rewritten & 0xFFFF;
      if (!(expectedChecksum == 0 && checksum == 0xFFFF)
          && !(expectedChecksum == 0xFFFF && checksum == 0)) {
        assertEquals(expectedChecksum, checksum, "checksum of trial " + trial);
      }
    }
  }

  /** The remainder test against the textbook fold, on random, valid and one-bit-damaged headers. */
  @Test
  void checksumValidAgreesWithTheOnesComplementFold() {
    Random random = new Random(11);
    int valid = 0;
    for (int trial = 0; trial < 300_000; trial++) {
      int[] words = new int[10];
      for (int i = 0; i < words.length; i++) {
        words[i] = random.nextInt(0x10000);
      }
      int mode = trial % 3; // random, made valid, made valid then one bit flipped
      if (mode > 0) {
        words[5] = 0;
        words[5] = ~sum(words) & 0xFFFF;
        if (mode == 2) {
          words[random.nextInt(10)] ^= 1 << random.nextInt(16);
        }
      }
      boolean expected = sum(words) == 0xFFFF;
      long head = (long) words[0] << 48 | (long) words[1] << 32 | (long) words[2] << 16 | words[3];
      long middle =
          (long) words[4] << 48 | (long) words[5] << 32 | (long) words[6] << 16 | words[7];
      int destination = words[8] << 16 | words[9];
      assertEquals(
          expected,
          Ipv4Header.checksumValid(0, Ipv4Header.MIN_LENGTH, head, middle, destination),
          "trial " + trial);
      valid += expected ? 1 : 0;
    }
    assertTrue(valid >= 100_000, "the made-valid third should be valid: " + valid);
    assertFalse(Ipv4Header.checksumValid(0, Ipv4Header.MIN_LENGTH, 0, 0, 0), "all zero");
  }

  private static int sum(int[] words) {
    int sum = 0;
    for (int word : words) {
      sum += word;
    }
    while ((sum >>> 16) != 0) {
      sum = (sum & 0xFFFF) + (sum >>> 16);
    }
    return sum;
  }
}
