package io.flatnet.agent.api;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The CNI plugin's end of the control socket: one request, one response per {@link #call}, each on
 * a fresh connection, bounded by a timeout.
 */
public final class AgentClient {

  /** The agent could not be reached (socket missing, refused, or timed out). */
  public static final class UnavailableException extends IOException {
    private static final long serialVersionUID = 1L;
    private final boolean socketMissing;

    UnavailableException(String message, boolean socketMissing, Throwable cause) {
      super(message, cause);
      this.socketMissing = socketMissing;
    }

    /** True when there is no socket file: the agent is not running (or not installed). */
    public boolean socketMissing() {
      return socketMissing;
    }
  }

  private final Path socket;
  private final Duration timeout;

  public AgentClient(Path socket, Duration timeout) {
    this.socket = socket;
    this.timeout = timeout;
  }

  /**
   * Sends {@code request} and returns the agent's response.
   *
   * @throws UnavailableException if the agent cannot be reached or does not answer in time
   * @throws IOException if the request is too long, or the answer is not a valid response
   */
  public AgentProtocol.Response call(AgentProtocol.Request request) throws IOException {
    String encoded = AgentProtocol.encode(request);
    int length = encoded.getBytes(StandardCharsets.UTF_8).length;
    if (length > AgentProtocol.MAX_REQUEST_LINE) {
      // The agent would refuse it; say so before connecting.
      throw new IOException(
          request.op()
              + " request is "
              + length
              + " bytes; the agent accepts at most "
              + AgentProtocol.MAX_REQUEST_LINE);
    }
    if (!Files.exists(socket)) {
      throw new UnavailableException(
          "agent socket " + socket + " does not exist (is the flatnet agent running?)", true, null);
    }
    SocketChannel ch;
    try {
      ch = SocketChannel.open(StandardProtocolFamily.UNIX);
      ch.connect(UnixDomainSocketAddress.of(socket));
    } catch (IOException e) {
      throw new UnavailableException(
          "cannot connect to the agent at " + socket + ": " + e.getMessage(), false, e);
    }
    AtomicBoolean timedOut = new AtomicBoolean();
    Thread watchdog =
        Thread.ofVirtual() // one a call: a platform thread's start costs more than the call
            .name("flatnet-agent-client-timeout")
            .start(
                () -> {
                  try {
                    Thread.sleep(timeout);
                    timedOut.set(true);
                    ch.close();
                  } catch (InterruptedException | IOException e) {
                    // done in time
                  }
                });
    try (ch) {
      LineChannel lines = new LineChannel(ch);
      IOException writeFailed = null;
      try {
        lines.writeLine(encoded);
      } catch (IOException e) {
        // A busy agent answers and closes at once: its answer may be waiting to be read.
        writeFailed = e;
      }
      String line = lines.readLine(AgentProtocol.MAX_RESPONSE_LINE);
      if (line == null) {
        throw new UnavailableException(
            "the agent closed the connection without answering", false, writeFailed);
      }
      return AgentProtocol.decodeResponse(line);
    } catch (IOException e) {
      if (timedOut.get()) {
        throw new UnavailableException(
            "the agent at " + socket + " did not answer within " + timeout.toMillis() + " ms",
            false,
            e);
      }
      throw e;
    } finally {
      watchdog.interrupt();
    }
  }
}
