package io.flatnet.dpdk;

/** A DPDK call failed. The message names the call and, where DPDK gave one, the error's text. */
public final class DpdkException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int errno;

  public DpdkException(String message) {
    super(message);
    this.errno = 0;
  }

  public DpdkException(String message, Throwable cause) {
    super(message, cause);
    this.errno = 0;
  }

  /** {@code what} failed with a positive {@code errno} (rte_errno or a negated return value). */
  public DpdkException(String what, int errno) {
    super(what + ": " + Dpdk.strerror(errno) + " (errno " + errno + ")");
    this.errno = errno;
  }

  /** The positive error number, or 0 when DPDK gave none. */
  public int errno() {
    return errno;
  }
}
