package io.flatnet.agent.api;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * Newline-delimited UTF-8 lines over a blocking {@link SocketChannel}. Each read is bounded by the
 * caller's limit (requests are small, answers such as {@code show routes} may be megabytes). Writes
 * go out in chunks and report progress, so a watchdog can tell a slow reader from a stuck one.
 */
final class LineChannel {

  /** A line longer than the reader's limit; the rest of the line is left unread. */
  static final class LineTooLongException extends IOException {
    private static final long serialVersionUID = 1L;
    private final int limit;

    LineTooLongException(int limit) {
      super("line longer than " + limit + " bytes");
      this.limit = limit;
    }

    int limit() {
      return limit;
    }
  }

  /** How much is written per write call: the progress callback runs after each chunk. */
  private static final int WRITE_CHUNK = 64 * 1024;

  private final SocketChannel channel;
  private final ByteBuffer in = ByteBuffer.allocate(64 * 1024).flip();
  private final Runnable onWriteProgress;

  LineChannel(SocketChannel channel) {
    this(channel, () -> {});
  }

  /**
   * @param onWriteProgress called after every chunk written (the server's write deadline counts
   *     from the last progress)
   */
  LineChannel(SocketChannel channel, Runnable onWriteProgress) {
    this.channel = channel;
    this.onWriteProgress = onWriteProgress;
  }

  /**
   * The next line without its newline, or null at end of stream before any byte.
   *
   * @throws LineTooLongException if the line exceeds {@code maxBytes}
   * @throws IOException if the stream ends mid-line
   */
  String readLine(int maxBytes) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    while (true) {
      if (in.hasRemaining()) {
        int start = in.position();
        int end = start;
        int limit = in.limit();
        byte[] buf = in.array();
        while (end < limit && buf[end] != '\n') {
          end++;
        }
        int length = end - start;
        if (line.size() + length > maxBytes) {
          throw new LineTooLongException(maxBytes);
        }
        line.write(buf, start, length);
        if (end < limit) {
          in.position(end + 1);
          return line.toString(StandardCharsets.UTF_8);
        }
        in.position(limit);
      }
      in.clear();
      int n = channel.read(in);
      in.flip();
      if (n < 0) {
        if (line.size() == 0) {
          return null;
        }
        throw new EOFException("connection closed mid-line");
      }
    }
  }

  void writeLine(String s) throws IOException {
    byte[] bytes = (s + "\n").getBytes(StandardCharsets.UTF_8);
    for (int off = 0; off < bytes.length; off += WRITE_CHUNK) {
      ByteBuffer out = ByteBuffer.wrap(bytes, off, Math.min(WRITE_CHUNK, bytes.length - off));
      while (out.hasRemaining()) {
        channel.write(out);
      }
      onWriteProgress.run();
    }
  }
}
