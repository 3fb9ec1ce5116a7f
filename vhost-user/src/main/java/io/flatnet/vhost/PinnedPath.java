package io.flatnet.vhost;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/**
 * A path pinned with {@code open(O_PATH | O_NOFOLLOW)}: {@link #procPath()} names the very inode
 * that was there when it was opened, and never what a symlink put there later points to. A chmod or
 * chown through it cannot be redirected (a pinned symlink refuses them), which path-based calls
 * after {@code bind} cannot promise.
 */
@SuppressWarnings("restricted") // libc open(O_PATH) and close: nothing else pins a path
final class PinnedPath implements AutoCloseable {
  private static final int O_PATH = 0x200000; // x86_64 and aarch64 Linux
  private static final int O_NOFOLLOW = 0x20000;
  private static final int O_CLOEXEC = 0x80000;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final MethodHandle OPEN =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("open").orElseThrow(),
          FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT),
          Linker.Option.captureCallState("errno"));
  private static final MethodHandle CLOSE =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("close").orElseThrow(),
          FunctionDescriptor.of(JAVA_INT, JAVA_INT));

  private final int fd;

  private PinnedPath(int fd) {
    this.fd = fd;
  }

  static PinnedPath open(Path path) throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      var errno = arena.allocate(Linker.Option.captureStateLayout());
      int fd =
          (int)
              OPEN.invokeExact(
                  errno, arena.allocateFrom(path.toString()), O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) {
        int code =
            (int)
                Linker.Option.captureStateLayout()
                    .varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"))
                    .get(errno, 0L);
        throw new IOException("cannot open " + path + " (O_PATH|O_NOFOLLOW): errno " + code);
      }
      return new PinnedPath(fd);
    } catch (IOException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IOException("open " + path + ": " + t, t);
    }
  }

  /** {@code /proc/self/fd/N}: the pinned inode, for stat, chmod and chown. */
  Path procPath() {
    return Path.of("/proc/self/fd/" + fd);
  }

  @Override
  public void close() {
    try {
      int ignored = (int) CLOSE.invokeExact(fd);
    } catch (Throwable t) {
      throw new IllegalStateException("close(" + fd + ")", t);
    }
  }
}
