package io.flatnet.agent.ipam;

/** An allocation that could not be made. */
public final class IpamException extends Exception {

  private static final long serialVersionUID = 1L;

  /** Why. */
  public enum Reason {
    /** Every usable address of a family's ranges is allocated. */
    EXHAUSTED,
    /** The store could not be read or written. */
    IO
  }

  private final Reason reason;

  public IpamException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}
