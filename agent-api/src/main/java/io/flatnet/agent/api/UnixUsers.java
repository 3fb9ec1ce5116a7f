package io.flatnet.agent.api;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.OptionalInt;

/**
 * User names to uids. The JDK gives a socket peer as a {@link
 * java.nio.file.attribute.UserPrincipal} whose name is the user's name (or the number, if the uid
 * has no name) and keeps the uid to itself; the access check needs the number, so names are
 * resolved with libc's {@code getpwnam} (which follows NSS, like every other tool on the node).
 */
@SuppressWarnings("restricted") // one libc call: getpwnam
public final class UnixUsers {

  /** struct passwd: pw_name, pw_passwd (two pointers), then pw_uid (glibc and musl, 64-bit). */
  private static final long PW_UID_OFFSET = 2 * ValueLayout.ADDRESS.byteSize();

  private static final MethodHandle GETPWNAM;

  static {
    Linker linker = Linker.nativeLinker();
    GETPWNAM =
        linker
            .defaultLookup()
            .find("getpwnam")
            .map(
                f ->
                    linker.downcallHandle(
                        f, FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS)))
            .orElse(null);
  }

  private UnixUsers() {}

  /**
   * The uid of {@code user}: a number is taken as the uid itself, a name is looked up; empty if no
   * such user.
   */
  public static OptionalInt uid(String user) {
    if (user == null || user.isBlank()) {
      return OptionalInt.empty();
    }
    String u = user.trim();
    if (u.chars().allMatch(c -> c >= '0' && c <= '9') && u.length() <= 10) {
      long n = Long.parseLong(u);
      return n <= Integer.MAX_VALUE ? OptionalInt.of((int) n) : OptionalInt.empty();
    }
    return lookup(u);
  }

  // getpwnam returns a static buffer: one caller at a time.
  private static synchronized OptionalInt lookup(String name) {
    if (GETPWNAM == null) {
      return OptionalInt.empty();
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment pw = (MemorySegment) GETPWNAM.invokeExact(arena.allocateFrom(name));
      if (pw.equals(MemorySegment.NULL)) {
        return OptionalInt.empty();
      }
      return OptionalInt.of(
          pw.reinterpret(PW_UID_OFFSET + 4).get(ValueLayout.JAVA_INT, PW_UID_OFFSET));
    } catch (Throwable t) {
      return OptionalInt.empty();
    }
  }
}
