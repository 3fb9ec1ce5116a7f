package io.flatnet.dataplane.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The warm-up's synthetic traffic takes the branches it is there to warm, and leaves no file. */
class PolicyWarmUpTest {
  @Test
  void everyAllowedPacketPassesAndTheDeniedOnesDoNot() throws Exception {
    int rounds = 3;
    // Per flow and round: UDP 1001 both ways, TCP 80 both ways and IPv6 UDP 1001 from
    // fd00:254::/64 pass (the pods' rules and the flows' replies); UDP 9 is denied; of the echoes,
    // the requests (even flows) are denied and the replies (odd flows) picked up, then kept.
    assertEquals(rounds * (64L * 5 + 32), PolicyWarmUp.run(rounds));
    try (var files =
        java.nio.file.Files.list(java.nio.file.Path.of(System.getProperty("java.io.tmpdir")))) {
      assertEquals(
          0,
          files
              .filter(f -> f.getFileName().toString().startsWith("flatnet-policy-warm-up"))
              .count(),
          "the warm-up's counters file is removed");
    }
  }
}
