package io.flatnet.dataplane;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.constantpool.StringEntry;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * Interns, before the workers start, every string constant of the classes the workers run.
 *
 * <p>Why: when a method gets hot enough for C2, HotSpot's {@code CompileBroker::compile_method}
 * resolves every string constant of the method's class on the thread that asked: the worker. C1 has
 * already resolved those of the methods it compiled (on its own thread), which leaves the literals
 * of methods never run, such as error messages. A class a worker first makes hot mid-traffic
 * (PktMbufPool, through a full TX ring freeing what it refused) then costs the worker a String and
 * its byte[] per such literal: 208 bytes seen in bench e2e, at a random second. Resolving a string
 * that is already interned allocates nothing, so interning them here, on the control thread, keeps
 * the worker at zero. The StringTable holds its entries weakly, so this class keeps them.
 */
public final class HotPathStrings {

  /** Classes whose code sources (jar or directory) hold what the workers run. */
  private static final List<Class<?>> WORKER_CODE =
      List.of(
          Router.class, // dataplane
          io.flatnet.dpdk.PktMbufPool.class, // dpdk-bindings
          io.flatnet.route.Ipv4Fib.class, // route-table
          io.flatnet.control.CountersFile.class, // control-protocol
          org.agrona.concurrent.AgentRunner.class); // the worker's runner and idle strategies

  private static List<String> kept;
  private static boolean started;

  private HotPathStrings() {}

  /**
   * Starts {@link #internAll()} on a thread of its own (once per JVM), so that reading the classes
   * overlaps the router's set-up instead of delaying its workers; {@link #internAll()} waits for
   * it.
   */
  public static synchronized void startInBackground() {
    if (!started && kept == null) {
      started = true;
      Thread.ofPlatform()
          .daemon()
          .name("flatnet-hot-path-strings")
          .start(HotPathStrings::internAll);
    }
  }

  /**
   * Interns the string constants of every class in the workers' code sources, once per JVM. If they
   * cannot be read, says so on stderr and goes on: the workers run as before, at worst allocating a
   * few hundred bytes once mid-traffic.
   *
   * @return how many distinct strings are held
   */
  public static synchronized int internAll() {
    if (kept == null) {
      try {
        kept = internAll(WORKER_CODE);
      } catch (RuntimeException e) {
        System.err.println(
            "flatnet: warning: the workers' string constants were not interned ("
                + e.getMessage()
                + "); a worker may allocate once when the JIT first compiles a rare path");
        kept = List.of();
      }
    }
    return kept.size();
  }

  /**
   * Interns and returns the string constants of every class in the code sources of {@code roots}.
   */
  static List<String> internAll(List<Class<?>> roots) {
    Set<Path> sources = new LinkedHashSet<>();
    for (Class<?> root : roots) {
      sources.add(codeSource(root));
    }
    Set<String> strings = new LinkedHashSet<>();
    for (Path source : sources) {
      try {
        if (Files.isDirectory(source)) {
          try (Stream<Path> files = Files.walk(source)) {
            for (Path file : (Iterable<Path>) files::iterator) {
              if (file.toString().endsWith(".class")) {
                addConstants(Files.readAllBytes(file), strings);
              }
            }
          }
        } else {
          try (JarFile jar = new JarFile(source.toFile())) {
            for (JarEntry entry : (Iterable<JarEntry>) jar.entries()::asIterator) {
              if (entry.getName().endsWith(".class")) {
                try (InputStream in = jar.getInputStream(entry)) {
                  addConstants(in.readAllBytes(), strings);
                }
              }
            }
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException("reading the classes in " + source, e);
      }
    }
    List<String> interned = new ArrayList<>(strings.size());
    for (String s : strings) {
      interned.add(s.intern());
    }
    return List.copyOf(interned);
  }

  static void addConstants(byte[] classBytes, Set<String> into) {
    for (var entry : ClassFile.of().parse(classBytes).constantPool()) {
      if (entry instanceof StringEntry string) {
        into.add(string.stringValue());
      }
    }
  }

  private static Path codeSource(Class<?> root) {
    CodeSource source = root.getProtectionDomain().getCodeSource();
    if (source == null) {
      throw new IllegalStateException(root + " has no code source to read its classes from");
    }
    try {
      return Path.of(source.getLocation().toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException("code source of " + root + ": " + source.getLocation(), e);
    }
  }
}
