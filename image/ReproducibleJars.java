import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * Rewrites jars in place so that the same classes give the same bytes: entries sorted by name
 * (META-INF/ and the manifest first, as JarInputStream expects), every entry's time set to
 * SOURCE_DATE_EPOCH as a plain DOS time (no extended time fields, no time zone), no comments.
 * Used by build-image.sh on the project's own jars, which Maven stamps with the build's time.
 *
 * <p>Usage: {@code java ReproducibleJars.java EPOCH_SECONDS JAR...}
 */
public final class ReproducibleJars {
  private ReproducibleJars() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 1) {
      System.err.println("usage: java ReproducibleJars.java EPOCH_SECONDS JAR...");
      System.exit(2);
    }
    LocalDateTime time = LocalDateTime.ofEpochSecond(Long.parseLong(args[0]), 0, ZoneOffset.UTC);
    for (int i = 1; i < args.length; i++) {
      rewrite(Path.of(args[i]), time);
    }
  }

  private static int rank(String name) {
    if (name.equals("META-INF/")) {
      return 0;
    }
    return name.equals("META-INF/MANIFEST.MF") ? 1 : 2;
  }

  static void rewrite(Path jar, LocalDateTime time) throws IOException {
    Path tmp = jar.resolveSibling(jar.getFileName() + ".tmp");
    try (ZipFile in = new ZipFile(jar.toFile());
        OutputStream file = Files.newOutputStream(tmp);
        ZipOutputStream out = new ZipOutputStream(file)) {
      List<? extends ZipEntry> entries = new ArrayList<>(in.stream().toList());
      entries.sort(
          Comparator.comparingInt((ZipEntry e) -> rank(e.getName())).thenComparing(ZipEntry::getName));
      for (ZipEntry e : entries) {
        ZipEntry copy = new ZipEntry(e.getName());
        copy.setTimeLocal(time);
        out.putNextEntry(copy);
        try (InputStream data = in.getInputStream(e)) {
          data.transferTo(out);
        }
        out.closeEntry();
      }
    }
    Files.move(tmp, jar, StandardCopyOption.REPLACE_EXISTING);
  }
}
