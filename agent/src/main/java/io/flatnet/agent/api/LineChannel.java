package io.flatnet.agent.api;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/** Newline-delimited UTF-8 lines over a blocking {@link SocketChannel}, bounded in length. */
final class LineChannel {

  private final SocketChannel channel;
  private final ByteBuffer in = ByteBuffer.allocate(8192).flip();

  LineChannel(SocketChannel channel) {
    this.channel = channel;
  }

  /**
   * The next line without its newline, or null at end of stream before any byte.
   *
   * @throws IOException if the line exceeds {@link AgentProtocol#MAX_LINE} or the stream ends
   *     mid-line
   */
  String readLine() throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    while (true) {
      while (in.hasRemaining()) {
        byte b = in.get();
        if (b == '\n') {
          return line.toString(StandardCharsets.UTF_8);
        }
        if (line.size() >= AgentProtocol.MAX_LINE) {
          throw new IOException("line longer than " + AgentProtocol.MAX_LINE + " bytes");
        }
        line.write(b);
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
    ByteBuffer out = ByteBuffer.wrap((s + "\n").getBytes(StandardCharsets.UTF_8));
    while (out.hasRemaining()) {
      channel.write(out);
    }
  }
}
