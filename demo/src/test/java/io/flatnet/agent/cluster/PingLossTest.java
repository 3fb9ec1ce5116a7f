package io.flatnet.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;

/** How the policy check reads a ping stopped by SIGINT: the last request may still be in flight. */
class PingLossTest {
  private static String ping(int transmitted, int... replied) {
    StringBuilder out = new StringBuilder("PING 10.244.2.3 (10.244.2.3) 56(84) bytes of data.\n");
    for (int seq : replied) {
      out.append("64 bytes from 10.244.2.3: icmp_seq=")
          .append(seq)
          .append(" ttl=62 time=1.02 ms\n");
    }
    return out.append("\n--- 10.244.2.3 ping statistics ---\n")
        .append(transmitted)
        .append(" packets transmitted, ")
        .append(replied.length)
        .append(" received, 0.1% packet loss, time 34482ms\n")
        .toString();
  }

  @Test
  void theLastRequestInFlightIsNoLoss() {
    assertEquals(List.of(), PolicyChecks.unanswered(ping(4, 1, 2, 3)));
    assertEquals(List.of(), PolicyChecks.unanswered(ping(3, 1, 2, 3)));
  }

  @Test
  void aMissingReplyBeforeTheLastIsLoss() {
    assertEquals(List.of(2), PolicyChecks.unanswered(ping(4, 1, 3, 4)));
    assertEquals(List.of(1, 2, 3), PolicyChecks.unanswered(ping(4)));
  }

  @Test
  void noSummaryIsNoAnswer() {
    assertNull(PolicyChecks.unanswered("ping: connect: Network is unreachable\n"));
  }
}
