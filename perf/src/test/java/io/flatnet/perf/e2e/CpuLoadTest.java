package io.flatnet.perf.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class CpuLoadTest {

  @Test
  void parsesPerCpuBusyAndTotalJiffies() {
    String stat =
        """
        cpu  300 0 100 1000 50 0 0 0 0 0
        cpu0 100 0 50 500 25 0 0 0 0 0
        cpu1 200 0 50 500 25 0 0 0 0 0
        intr 12345
        """;
    long[][] j = CpuLoad.parse(stat, 2);
    // busy = total - idle - iowait
    assertArrayEquals(new long[] {150, 675}, j[0]);
    assertArrayEquals(new long[] {250, 775}, j[1]);
    assertEquals(-1, CpuLoad.parse(stat, 3)[2][0], "a CPU not listed is unknown");
  }
}
