package io.flatnet.dpdk;

/** One EAL per test JVM: EAL cannot be initialised twice in a process. */
public final class TestEal {
  private TestEal() {}

  public static void ensure() {
    Eal.initOnce(EalArguments.forProgram("flatnet-test").logLevel("warning").build());
  }
}
