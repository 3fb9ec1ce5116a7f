package io.flatnet.agent.ctl;

import com.fasterxml.jackson.databind.JsonNode;
import io.flatnet.agent.api.AgentProtocol;
import io.flatnet.control.CaptureFile;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * One capture or live trace session as {@code ctl} runs it: maps the dataplane's capture file,
 * empties its rings, asks the agent to start, reads records until done (its count, a timeout, the
 * dataplane ending it, or Ctrl-C), renewing its lease meanwhile, then asks the agent to stop.
 */
final class LiveCapture {
  /** What a session does with its records. */
  interface Sink {
    /** The start answer: session, ports, dropReasons. */
    void start(JsonNode answer) throws IOException;

    /** One record; returns true once the sink has all it wants. */
    boolean accept(CaptureFile.Record record, CaptureFile.Mapped file) throws IOException;

    /** The session ended; {@code ringFull}: records the workers could not write. */
    void finish(long ringFull) throws IOException;
  }

  private LiveCapture() {}

  static int run(CtlMain.Common common, Map<String, String> args, Duration timeout, Sink sink) {
    PrintWriter err = common.mixee.commandLine().getErr();
    CaptureFile.Mapped file;
    try {
      file = CaptureFile.open(common.dir.resolve(CaptureFile.FILE).toFile());
    } catch (RuntimeException e) {
      err.println("flatnet ctl: " + e.getMessage());
      err.flush();
      return CtlMain.UNAVAILABLE;
    }
    Object fileKey = fileKey(file.file().toPath());
    try (file) {
      file.drain();
      file.renewLease(System.currentTimeMillis());
      Object answer =
          common.call(AgentProtocol.Request.withArgs(AgentProtocol.CAPTURE_START, args));
      if (answer instanceof Integer code) {
        return code;
      }
      JsonNode data = ((AgentProtocol.Response) answer).data();
      long session = data.path("session").asLong();
      CountDownLatch done = new CountDownLatch(1);
      Thread main = Thread.currentThread();
      boolean[] interrupted = {false};
      Thread hook =
          new Thread(
              () -> {
                synchronized (interrupted) {
                  interrupted[0] = true;
                }
                LockSupport.unpark(main);
                try {
                  done.await(3, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              });
      Runtime.getRuntime().addShutdownHook(hook);
      try {
        sink.start(data);
        long deadline = timeout == null ? Long.MAX_VALUE : System.nanoTime() + timeout.toNanos();
        long nextLease = 0;
        List<CaptureFile.Record> records = new ArrayList<>();
        boolean enough = false;
        while (!enough) {
          records.clear();
          int n = file.poll(records, 256);
          for (CaptureFile.Record r : records) {
            if (sink.accept(r, file)) {
              enough = true;
              break;
            }
          }
          long nowMillis = System.currentTimeMillis();
          if (nowMillis >= nextLease) {
            file.renewLease(nowMillis);
            nextLease = nowMillis + CaptureFile.LEASE_RENEW_MILLIS;
            if (!java.util.Objects.equals(fileKey, fileKey(file.file().toPath()))) {
              err.println("flatnet ctl: the dataplane restarted: the capture ended with it");
              err.flush();
              break;
            }
          }
          synchronized (interrupted) {
            if (interrupted[0]) {
              break;
            }
          }
          if (n == 0) {
            if (file.ended() == session || System.nanoTime() - deadline > 0) {
              break; // the dataplane ended it (count taken, or stopped): its records are read
            }
            LockSupport.parkNanos(1_000_000L);
          }
        }
        Map<String, String> stop = new HashMap<>();
        stop.put("session", Long.toString(session));
        common.call(AgentProtocol.Request.withArgs(AgentProtocol.CAPTURE_STOP, stop));
        if (!enough) {
          records.clear();
          file.poll(records, Integer.MAX_VALUE); // what was written before the stop took
          for (CaptureFile.Record r : records) {
            if (sink.accept(r, file)) {
              break;
            }
          }
        }
        sink.finish(file.ringFullTotal());
        return 0;
      } catch (IOException e) {
        err.println("flatnet ctl: " + e.getMessage());
        err.flush();
        return CtlMain.REFUSED;
      } finally {
        done.countDown();
        try {
          Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
          // shutting down: the hook is running
        }
      }
    }
  }

  /** The file's identity (device and inode): a restarted dataplane makes a new one. */
  private static Object fileKey(java.nio.file.Path path) {
    try {
      return java.nio.file.Files.readAttributes(
              path, java.nio.file.attribute.BasicFileAttributes.class)
          .fileKey();
    } catch (IOException e) {
      return null;
    }
  }

  /** Port names by id from a start answer. */
  static Map<Integer, String> ports(JsonNode answer) {
    Map<Integer, String> names = new HashMap<>();
    for (JsonNode p : answer.path("ports")) {
      names.put(p.path("id").asInt(), p.path("name").asText());
    }
    return names;
  }

  static List<String> dropReasons(JsonNode answer) {
    List<String> labels = new ArrayList<>();
    answer.path("dropReasons").forEach(r -> labels.add(r.asText()));
    return labels;
  }

  static String reason(List<String> labels, int ordinal) {
    return ordinal >= 0 && ordinal < labels.size() ? labels.get(ordinal) : "reason-" + ordinal;
  }

  /** A one-line description of a frame's first bytes: addresses, protocol, ports or ICMP type. */
  static String describe(byte[] f, int length) {
    if (f.length < 14) {
      return length + " bytes";
    }
    int type = u16(f, 12);
    StringBuilder b = new StringBuilder();
    if (type == 0x0800 && f.length >= 34) {
      int ihl = (f[14] & 0x0F) * 4;
      int proto = f[23] & 0xFF;
      b.append(ip4(f, 26)).append(" > ").append(ip4(f, 30)).append(' ');
      l4(b, f, 14 + ihl, proto, false);
    } else if (type == 0x86DD && f.length >= 54) {
      int proto = f[20] & 0xFF;
      b.append(ip6(f, 22)).append(" > ").append(ip6(f, 38)).append(' ');
      l4(b, f, 54, proto, true);
    } else if (type == 0x0806 && f.length >= 42) {
      b.append("arp ")
          .append(u16(f, 20) == 1 ? "who-has " : "reply ")
          .append(ip4(f, 38))
          .append(" tell ")
          .append(ip4(f, 28));
    } else {
      b.append(String.format(Locale.ROOT, "ethertype 0x%04x", type));
    }
    return b.append(", ").append(length).append(" bytes").toString();
  }

  private static void l4(StringBuilder b, byte[] f, int at, int proto, boolean v6) {
    String name =
        switch (proto) {
          case 6 -> "tcp";
          case 17 -> "udp";
          case 132 -> "sctp";
          case 1 -> "icmp";
          case 58 -> "icmp6";
          default -> "proto " + proto;
        };
    b.append(name);
    if ((proto == 6 || proto == 17 || proto == 132) && f.length >= at + 4) {
      b.append(' ').append(u16(f, at)).append(" > ").append(u16(f, at + 2));
    } else if ((proto == 1 || proto == 58) && f.length > at) {
      int t = f[at] & 0xFF;
      b.append(
          switch (t) {
            case 8, 128 -> " echo request";
            case 0, 129 -> " echo reply";
            case 3, 1 -> " unreachable";
            case 11 -> " time exceeded";
            case 135 -> " neighbour solicitation";
            case 136 -> " neighbour advertisement";
            default -> " type " + t;
          });
    }
  }

  static int u16(byte[] f, int at) {
    return (f[at] & 0xFF) << 8 | (f[at + 1] & 0xFF);
  }

  static String ip4(byte[] f, int at) {
    return (f[at] & 0xFF)
        + "."
        + (f[at + 1] & 0xFF)
        + "."
        + (f[at + 2] & 0xFF)
        + "."
        + (f[at + 3] & 0xFF);
  }

  static String ip6(byte[] f, int at) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i > 0) {
        b.append(':');
      }
      b.append(Integer.toHexString(u16(f, at + 2 * i)));
    }
    return b.toString().replaceFirst("(^|:)(0(:|$)){2,}", "::").replaceFirst(":::", "::");
  }

  static String mac(long mac) {
    StringBuilder b = new StringBuilder();
    for (int shift = 40; shift >= 0; shift -= 8) {
      if (b.length() > 0) {
        b.append(':');
      }
      b.append(String.format(Locale.ROOT, "%02x", (mac >>> shift) & 0xFF));
    }
    return b.toString();
  }
}
