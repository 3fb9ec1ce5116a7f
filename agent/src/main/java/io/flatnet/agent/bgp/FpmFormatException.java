package io.flatnet.agent.bgp;

import java.io.IOException;

/** Bytes on the FPM connection that are not a well-formed FPM frame of netlink messages. */
public final class FpmFormatException extends IOException {

  private final long offset;

  /**
   * @param offset where in the connection's byte stream the bad part starts
   */
  public FpmFormatException(long offset, String problem) {
    super("bad FPM data at byte " + offset + ": " + problem);
    this.offset = offset;
  }

  /** Where in the connection's byte stream the bad part starts. */
  public long offset() {
    return offset;
  }
}
