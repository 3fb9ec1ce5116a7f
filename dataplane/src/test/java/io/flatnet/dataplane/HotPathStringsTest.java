package io.flatnet.dataplane;

import static java.lang.constant.ConstantDescs.CD_Object;
import static java.lang.constant.ConstantDescs.CD_String;
import static java.lang.constant.ConstantDescs.CD_int;
import static java.lang.constant.ConstantDescs.CD_void;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.ThreadMXBean;
import java.lang.classfile.ClassFile;
import java.lang.constant.ClassDesc;
import java.lang.constant.MethodTypeDesc;
import java.lang.invoke.MethodHandles;
import java.lang.management.ManagementFactory;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.IntUnaryOperator;
import org.junit.jupiter.api.Test;

class HotPathStringsTest {

  private static final ThreadMXBean THREADS = (ThreadMXBean) ManagementFactory.getThreadMXBean();
  private static final int CALLS = 3_000_000;

  @Test
  void theWorkersStringConstantsAreInternedIncludingTheColdPathsOnes() {
    assertTrue(HotPathStrings.internAll() > 100);
    List<String> dpdk = HotPathStrings.internAll(List.of(io.flatnet.dpdk.PktMbufPool.class));
    // A literal only on PktMbufPool's error path: the one that allocated on a worker in bench e2e.
    String cold = dpdk.stream().filter("mempool dequeue"::equals).findFirst().orElseThrow();
    assertSame("mempool dequeue", cold, "interned: the same String the JVM's literals resolve to");
  }

  /**
   * The mechanism itself, on this JVM: a thread that makes a method hot enough for C2 allocates its
   * class's unresolved string constants; interned beforehand, it allocates nothing.
   */
  @Test
  void aC2CompileRequestAllocatesUninternedConstantsOnTheCallingThreadOnly() throws Exception {
    Caller.run(operatorWithColdString("warm-up " + System.nanoTime(), false), CALLS);
    Caller.run(operatorWithColdString("warm-up 2 " + System.nanoTime(), false), CALLS);

    IntUnaryOperator uninterned = operatorWithColdString("never seen " + System.nanoTime(), false);
    long before = THREADS.getCurrentThreadAllocatedBytes();
    Caller.run(uninterned, CALLS);
    long allocatedUninterned = THREADS.getCurrentThreadAllocatedBytes() - before;

    IntUnaryOperator interned = operatorWithColdString("never seen " + System.nanoTime(), true);
    before = THREADS.getCurrentThreadAllocatedBytes();
    Caller.run(interned, CALLS);
    long allocatedInterned = THREADS.getCurrentThreadAllocatedBytes() - before;

    assertTrue(
        allocatedUninterned > 0,
        "the JVM resolves a class's string constants on the thread asking for C2");
    assertEquals(0, allocatedInterned, "interned first: nothing allocated on the calling thread");
  }

  /** Calls {@code op} {@code n} times; no string constants of its own to resolve. */
  static final class Caller {
    static int run(IntUnaryOperator op, int n) {
      int sum = 0;
      for (int i = 0; i < n; i++) {
        sum += op.applyAsInt(i);
      }
      return sum;
    }
  }

  private static final Set<String> KEEP = new HashSet<>();

  /**
   * A new class whose {@code applyAsInt(x)} returns {@code x + 1} and whose {@code neverCalled()}
   * returns {@code literal}. C1 resolves the strings of the methods it compiles (on its own
   * thread), so the literal sits in a method nobody calls, as PktMbufPool's error messages did.
   */
  private static IntUnaryOperator operatorWithColdString(String literal, boolean internFirst)
      throws Exception {
    byte[] bytes =
        ClassFile.of()
            .build(
                ClassDesc.of("io.flatnet.dataplane.ColdStringOperator"),
                cb ->
                    cb.withFlags(ClassFile.ACC_PUBLIC | ClassFile.ACC_FINAL)
                        .withInterfaceSymbols(ClassDesc.of(IntUnaryOperator.class.getName()))
                        .withMethodBody(
                            "<init>",
                            MethodTypeDesc.of(CD_void),
                            ClassFile.ACC_PUBLIC,
                            b ->
                                b.aload(0)
                                    .invokespecial(CD_Object, "<init>", MethodTypeDesc.of(CD_void))
                                    .return_())
                        .withMethodBody(
                            "neverCalled",
                            MethodTypeDesc.of(CD_String),
                            ClassFile.ACC_PUBLIC | ClassFile.ACC_STATIC,
                            b -> b.ldc(literal).areturn())
                        .withMethodBody(
                            "applyAsInt",
                            MethodTypeDesc.of(CD_int, CD_int),
                            ClassFile.ACC_PUBLIC,
                            b -> b.iload(1).iconst_1().iadd().ireturn()));
    if (internFirst) {
      Set<String> constants = new HashSet<>();
      HotPathStrings.addConstants(bytes, constants);
      for (String s : constants) {
        KEEP.add(s.intern());
      }
    }
    Class<?> type = MethodHandles.lookup().defineHiddenClass(bytes, true).lookupClass();
    return (IntUnaryOperator) type.getConstructor().newInstance();
  }
}
