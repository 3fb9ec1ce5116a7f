package io.flatnet.route;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Address space reserved up front and committed page by page as it is first touched: an anonymous
 * {@code mmap(MAP_NORESERVE)} aligned to 2 MiB and marked {@code MADV_HUGEPAGE}, so a table that
 * grows needs neither a bigger copy nor a pointer change, and its lookups walk 2 MiB pages (few TLB
 * misses, as DPDK's hugepage tables). The segment belongs to the arena it was made with; closing
 * the arena unmaps it, and a late access fails with an exception, not a crash.
 *
 * <p>Where {@code mmap} cannot be called (no native access), falls back to a zeroed {@link
 * Arena#allocate} of the whole size.
 */
@SuppressWarnings(
    "restricted") // libc mmap, madvise and munmap: nothing else reserves address space
final class ReservedMemory {
  private ReservedMemory() {}

  static final long HUGE_PAGE = 2L << 20;
  private static final int PROT_READ_WRITE = 0x3;
  private static final int MAP_PRIVATE_ANONYMOUS_NORESERVE = 0x02 | 0x20 | 0x4000;
  private static final int MADV_HUGEPAGE = 14;

  private static final MethodHandle MMAP;
  private static final MethodHandle MUNMAP;
  private static final MethodHandle MADVISE;

  static {
    MethodHandle mmap = null;
    MethodHandle munmap = null;
    MethodHandle madvise = null;
    try {
      Linker linker = Linker.nativeLinker();
      SymbolLookup libc = linker.defaultLookup();
      ValueLayout size = ValueLayout.JAVA_LONG;
      mmap =
          linker.downcallHandle(
              libc.find("mmap").orElseThrow(),
              FunctionDescriptor.of(
                  ValueLayout.ADDRESS,
                  ValueLayout.ADDRESS,
                  size,
                  ValueLayout.JAVA_INT,
                  ValueLayout.JAVA_INT,
                  ValueLayout.JAVA_INT,
                  size));
      munmap =
          linker.downcallHandle(
              libc.find("munmap").orElseThrow(),
              FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, size));
      madvise =
          linker.downcallHandle(
              libc.find("madvise").orElseThrow(),
              FunctionDescriptor.of(
                  ValueLayout.JAVA_INT, ValueLayout.ADDRESS, size, ValueLayout.JAVA_INT));
    } catch (RuntimeException | Error e) {
      mmap = null; // no native access: the fallback below
    }
    MMAP = mmap;
    MUNMAP = munmap;
    MADVISE = madvise;
  }

  /** {@code bytes} of zeroed memory, committed as touched, freed when {@code arena} closes. */
  static MemorySegment reserve(Arena arena, long bytes) {
    if (MMAP != null) {
      try {
        long length = bytes + HUGE_PAGE;
        MemorySegment base =
            (MemorySegment)
                MMAP.invokeExact(
                    MemorySegment.NULL,
                    length,
                    PROT_READ_WRITE,
                    MAP_PRIVATE_ANONYMOUS_NORESERVE,
                    -1,
                    0L);
        long address = base.address();
        if (address != -1L && address != 0L) {
          long aligned = (address + HUGE_PAGE - 1) & -HUGE_PAGE;
          MemorySegment region = MemorySegment.ofAddress(aligned);
          int ignored = (int) MADVISE.invokeExact(region, bytes, MADV_HUGEPAGE); // best effort
          return region.reinterpret(bytes, arena, s -> unmap(address, length));
        }
      } catch (Throwable e) {
        // fall through: plain allocation
      }
    }
    return arena.allocate(bytes, 64);
  }

  private static void unmap(long address, long length) {
    try {
      int ignored = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(address), length);
    } catch (Throwable e) {
      throw new IllegalStateException("munmap failed", e);
    }
  }
}
