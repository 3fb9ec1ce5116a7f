package io.flatnet.dpdk;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.ThreadMXBean;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A downcall handle called through code that did not compile it in as a constant (the interpreter,
 * C1: what a worker runs on a path it first takes mid-traffic) allocates nothing with the JVM flag
 * the dataplane runs with, {@value #FLAG}, and about 65 KB at the 128th call without it: the JDK
 * then recompiles the handle's lambda form on the calling thread (docs/architecture.md, "The
 * dataplane JVM").
 */
class DowncallCustomizationTest {
  static final String FLAG = "-Djava.lang.invoke.MethodHandle.CUSTOMIZE_THRESHOLD=-1";
  private static final int CALLS = 1_000;

  @Test
  void aNonConstantDowncallAllocatesNothingWithTheDataplanesFlag() {
    assertEquals(
        "-1",
        System.getProperty("java.lang.invoke.MethodHandle.CUSTOMIZE_THRESHOLD"),
        "the tests' JVM runs with the dataplane's " + FLAG + " (pom.xml, flatnet.jvm.args)");
    assertEquals(0, Caller.allocatedByCalls(CALLS));
  }

  @Test
  void withoutTheFlagTheHandleIsRecompiledOnTheCallingThread() throws Exception {
    List<String> command = new ArrayList<>();
    command.add(ProcessHandle.current().info().command().orElse("java"));
    command.addAll(List.of("-cp", System.getProperty("java.class.path")));
    command.add(Caller.class.getName());
    Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertEquals(0, child.waitFor(), out);
    long allocated = Long.parseLong(out.lines().reduce((a, b) -> b).orElseThrow());
    assertTrue(allocated > 10_000, "customizing allocates on the caller: " + out);
  }

  /** The calls, in a class of their own: no string constants for a compile request to resolve. */
  static final class Caller {
    private static final ThreadMXBean THREADS = (ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** Bytes this thread allocates over {@code calls} calls of getpid through a local handle. */
    @SuppressWarnings("restricted") // a downcall handle is the subject
    static long allocatedByCalls(int calls) {
      Linker linker = Linker.nativeLinker();
      MethodHandle getpid = // a local, so no compiler sees it as a constant
          linker.downcallHandle(
              linker.defaultLookup().findOrThrow("getpid"),
              FunctionDescriptor.of(JAVA_INT),
              Linker.Option.critical(false));
      long pid = 0;
      try {
        pid += (int) getpid.invokeExact(); // links the call site
        long before = THREADS.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < calls; i++) {
          pid += (int) getpid.invokeExact();
        }
        long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
        return pid == 0 ? -1 : allocated;
      } catch (Throwable t) {
        throw new AssertionError(t);
      }
    }

    public static void main(String[] args) {
      System.out.println(allocatedByCalls(CALLS));
    }
  }
}
