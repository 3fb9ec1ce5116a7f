package io.flatnet.agent.cni;

/**
 * A CNI error result: {@code {"cniVersion","code","msg","details"}} on stdout and a non-zero exit.
 * Codes 1-11 are the CNI spec's well-known ones; 100 and up are flatnet's.
 */
public class CniError extends Exception {

  private static final long serialVersionUID = 1L;

  /** 1: the config's cniVersion is not supported. */
  public static final int INCOMPATIBLE_VERSION = 1;

  /** 2: a field of the config is not supported. */
  public static final int UNSUPPORTED_FIELD = 2;

  /** 3: the container is unknown or does not exist. */
  public static final int UNKNOWN_CONTAINER = 3;

  /** 4: a required CNI_* environment variable is missing or invalid. */
  public static final int INVALID_ENV = 4;

  /** 5: I/O failure (e.g. reading stdin, the IPAM store). */
  public static final int IO_FAILURE = 5;

  /** 6: the config on stdin is not valid JSON. */
  public static final int DECODE_FAILURE = 6;

  /** 7: the config is invalid. */
  public static final int INVALID_CONFIG = 7;

  /** 11: try again later (the agent is unreachable or not ready). */
  public static final int TRY_AGAIN_LATER = 11;

  /** 100: every address of a pod CIDR is allocated. */
  public static final int RANGE_EXHAUSTED = 100;

  /** 101: the agent refused the pod (e.g. the address is outside the node's pod CIDRs). */
  public static final int AGENT_REJECTED = 101;

  /** 102: setting up or tearing down the pod's interface failed (ip/nsenter/ethtool). */
  public static final int PLUMBING_FAILED = 102;

  /** 103: CHECK found the pod not as it should be. */
  public static final int CHECK_FAILED = 103;

  /** 104: bin/flatnet-cni found no JDK 25 or no flatnet classes (printed by the script). */
  public static final int RUNTIME_MISSING = 104;

  private final int code;
  private final String details;

  public CniError(int code, String msg, String details) {
    super(msg);
    this.code = code;
    this.details = details;
  }

  public CniError(int code, String msg) {
    this(code, msg, null);
  }

  public int code() {
    return code;
  }

  public String details() {
    return details;
  }
}
