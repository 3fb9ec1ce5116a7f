package io.flatnet.agent.bgp;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs code in a named network namespace (/run/netns/NAME) on a thread of its own, so sockets it
 * creates live there: a socket stays in the namespace it was made in, whichever thread uses it
 * later.
 */
@SuppressWarnings("restricted")
final class Netns {

  private Netns() {}

  private static final int O_RDONLY_CLOEXEC = 0x80000;
  private static final int CLONE_NEWNET = 0x40000000;
  private static final Linker LINKER = Linker.nativeLinker();
  private static final MethodHandle OPEN =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("open").orElseThrow(),
          FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle SETNS =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("setns").orElseThrow(),
          FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
  private static final MethodHandle CLOSE =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("close").orElseThrow(),
          FunctionDescriptor.of(JAVA_INT, JAVA_INT));

  /** {@code body}'s result, run on a new thread inside namespace {@code name}. */
  static <T> T call(String name, Callable<T> body) throws Exception {
    AtomicReference<T> result = new AtomicReference<>();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread t =
        Thread.ofPlatform()
            .name("netns-" + name)
            .start(
                () -> {
                  try {
                    enter("/run/netns/" + name);
                    result.set(body.call());
                  } catch (Throwable e) {
                    failure.set(e);
                  }
                });
    t.join();
    if (failure.get() instanceof Exception e) {
      throw e;
    } else if (failure.get() != null) {
      throw new AssertionError(failure.get());
    }
    return result.get();
  }

  private static void enter(String path) throws Throwable {
    int fd;
    try (Arena arena = Arena.ofConfined()) {
      fd = (int) OPEN.invokeExact(arena.allocateFrom(path), O_RDONLY_CLOEXEC);
    }
    if (fd < 0) {
      throw new IllegalStateException("cannot open " + path);
    }
    try {
      if ((int) SETNS.invokeExact(fd, CLONE_NEWNET) != 0) {
        throw new IllegalStateException("setns " + path + " failed");
      }
    } finally {
      int ignored = (int) CLOSE.invokeExact(fd);
    }
  }
}
