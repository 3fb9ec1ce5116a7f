package io.flatnet.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class ReservedMemoryTest {

  @Test
  void zeroedWritableAndUnmappedOnClose() {
    Arena arena = Arena.ofShared();
    long size = 1L << 30; // address space only: pages are committed as touched
    MemorySegment m = ReservedMemory.reserve(arena, size);
    assertEquals(size, m.byteSize());
    assertEquals(0, m.address() % ReservedMemory.HUGE_PAGE, "2 MiB aligned");
    assertEquals(0, m.get(ValueLayout.JAVA_INT, 0));
    assertEquals(0, m.get(ValueLayout.JAVA_INT, size - 4));
    m.set(ValueLayout.JAVA_INT, 12_345_676, 42);
    assertEquals(42, m.get(ValueLayout.JAVA_INT, 12_345_676));
    arena.close();
    assertThrows(IllegalStateException.class, () -> m.get(ValueLayout.JAVA_INT, 0));
  }
}
